package runc

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Where racelab's cgroups go on cgroup v2.
//
// A cgroup v2 that holds processes hands no controller down to its
// children ("no internal processes"; only the root of the hierarchy is
// exempt). racelab therefore puts its runs' cgroups
//
//   - below its own cgroup when that cgroup is racelab's to manage: one
//     that systemd delegated (Delegate=yes, which systemd marks with the
//     xattr trusted.delegate=1; see deploy/systemd/racelab.service), or
//     the root of a private cgroup namespace (a container's own cgroup, as
//     Docker and podman with --cgroupns=private and Kubernetes on cgroup
//     v2 give it). racelab first moves every process of that cgroup
//     (itself, and a container's init) into a leaf below it,
//     supervisorCgroup, then enables the controllers the runs need. The
//     runs then count against the unit's or the container's limits and
//     accounting, and end with it.
//   - otherwise at the root of the hierarchy, which may hold processes
//     and hand controllers down: a login session's scope, say, or a
//     service without Delegate=yes, is not racelab's to rearrange.

// supervisorCgroup is the leaf racelab moves its own cgroup's processes
// into.
const supervisorCgroup = "supervisor"

// ownCgroupV2 reads the cgroup v2 path of the calling process ("0::/…")
// from a /proc/<pid>/cgroup file.
func ownCgroupV2(procCgroup string) (string, error) {
	f, err := os.Open(procCgroup)
	if err != nil {
		return "", fmt.Errorf("cgroups: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("cgroups: %s names no cgroup v2", procCgroup)
}

// chooseBase decides where racelab's cgroups go, given its own cgroup
// own, whether the hierarchy's root in this cgroup namespace is the real
// root (not a container's cgroup), and whether own was delegated to it.
// It returns the base (a path below the hierarchy's root) and whether
// own's processes must move into the supervisor leaf first.
func chooseBase(own string, realRoot, delegated bool) (base string, move bool) {
	switch {
	case own == "/" && realRoot:
		return "/", false
	case own == "/", delegated:
		return own, true
	default:
		return "/", false
	}
}

// claimV2 finds racelab's base cgroup below root (the cgroup v2 mount)
// for a process in cgroup own, moves the processes out of it when it is
// racelab's own, and makes it hand the controllers down to racelab's
// parent of the runs. A process already in the leaf (a second runner in
// the same process, or another racelab in the same container) counts as
// being in the leaf's parent.
func claimV2(root, own string) (string, error) {
	if path.Base(own) == supervisorCgroup {
		own = path.Dir(own)
	}
	dir := filepath.Join(root, own)
	_, err := os.Stat(filepath.Join(root, "cgroup.type")) // the real root has none
	base, move := chooseBase(own, errors.Is(err, fs.ErrNotExist), delegated(dir))
	if move {
		if err := moveIntoLeaf(dir); err != nil {
			return "", err
		}
	}
	return base, prepareBase(filepath.Join(root, base))
}

// delegated reports whether systemd delegated cgroup dir (Delegate=yes).
func delegated(dir string) bool {
	for _, name := range []string{"trusted.delegate", "user.delegate"} {
		b := make([]byte, 8)
		if n, err := unix.Getxattr(dir, name, b); err == nil && string(b[:n]) == "1" {
			return true
		}
	}
	return false
}

// moveIntoLeaf moves every process of cgroup dir (all its threads: a
// write to cgroup.procs moves a whole process) into its supervisor leaf.
// It tries again while processes appear, as a fork in flight may add one.
func moveIntoLeaf(dir string) error {
	leaf := filepath.Join(dir, supervisorCgroup)
	if err := os.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("cgroups: %w", err)
	}
	for range 10 {
		procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			return fmt.Errorf("cgroups: %w", err)
		}
		pids := strings.Fields(string(procs))
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			err := os.WriteFile(filepath.Join(leaf, "cgroup.procs"), []byte(pid), 0)
			if err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("cgroups: move process %s from %s into %s: %w", pid, dir, supervisorCgroup, err)
			}
		}
	}
	return fmt.Errorf("cgroups: %s still holds processes after moving them into %s ten times", dir, supervisorCgroup)
}

// v2Controllers are the cgroup v2 controllers the runs need.
var v2Controllers = []string{"memory", "pids", "cpu"}

// prepareBase enables the controllers in base and makes racelab's parent
// of the runs below it, with the controllers enabled there too.
func prepareBase(base string) error {
	have, err := os.ReadFile(filepath.Join(base, "cgroup.controllers"))
	if err != nil {
		return fmt.Errorf("cgroups: %w", err)
	}
	for _, c := range v2Controllers {
		if !slices.Contains(strings.Fields(string(have)), c) {
			return fmt.Errorf("cgroups: the %s controller is not available in %s (it has: %s); under systemd, racelab's unit needs Delegate=yes",
				c, base, strings.TrimSpace(string(have)))
		}
	}
	if err := enableControllers(base); err != nil {
		return err
	}
	parent := filepath.Join(base, cgroupParent)
	if err := os.Mkdir(parent, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("cgroups: %w", err)
	}
	return enableControllers(parent)
}

// enableControllers hands the runs' controllers down from cgroup dir to
// its children; enabling one already enabled changes nothing.
func enableControllers(dir string) error {
	ctl := "+" + strings.Join(v2Controllers, " +")
	err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte(ctl), 0)
	if errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("cgroups: %s holds processes, so it cannot hand controllers down to the runs (cgroup v2 allows that only in the root); start racelab in a cgroup of its own (systemd: Delegate=yes)", dir)
	}
	if err != nil {
		return fmt.Errorf("cgroups: enable %s in %s: %w", ctl, dir, err)
	}
	return nil
}
