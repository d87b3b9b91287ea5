package runc

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Where racelab's cgroups go on cgroup v2 (cgroup2.go). The whole path
// is proved on a real cgroup v2 host by scripts/vm-test.
func TestChooseBase(t *testing.T) {
	tests := []struct {
		name      string
		own       string
		realRoot  bool
		delegated bool
		base      string
		move      bool
	}{
		{"in the real root", "/", true, false, "/", false},
		{"a container's own cgroup namespace", "/", false, false, "/", true},
		{"a systemd service with Delegate=yes", "/system.slice/racelab.service", true, true, "/system.slice/racelab.service", true},
		{"delegated, in a cgroup namespace", "/kubepods/pod1/ctr", false, true, "/kubepods/pod1/ctr", true},
		{"a login session's scope", "/user.slice/user-0.slice/session-3.scope", true, false, "/", false},
		{"a service without Delegate=yes", "/system.slice/racelab.service", true, false, "/", false},
		{"a container's processes moved into a leaf by hand", "/init", false, false, "/", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, move := chooseBase(tt.own, tt.realRoot, tt.delegated)
			if base != tt.base || move != tt.move {
				t.Errorf("chooseBase(%q, realRoot %v, delegated %v) = %q, move %v; want %q, move %v",
					tt.own, tt.realRoot, tt.delegated, base, move, tt.base, tt.move)
			}
		})
	}
}

func TestOwnCgroupV2(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"unified", "0::/system.slice/racelab.service\n", "/system.slice/racelab.service"},
		{"hybrid", "4:memory:/x\n1:cpu:/\n0::/user.slice\n", "/user.slice"},
		{"a namespace's root", "0::/\n", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "cgroup")
			os.WriteFile(f, []byte(tt.file), 0o644)
			if got, err := ownCgroupV2(f); err != nil || got != tt.want {
				t.Errorf("ownCgroupV2(%q) = %q, %v; want %q", tt.file, got, err, tt.want)
			}
		})
	}
	f := filepath.Join(t.TempDir(), "cgroup")
	os.WriteFile(f, []byte("4:memory:/x\n"), 0o644)
	if got, err := ownCgroupV2(f); err == nil {
		t.Errorf("ownCgroupV2 of a v1-only file = %q, want an error", got)
	}
}

// moveIntoLeaf empties a cgroup of its processes, and delegated reads
// systemd's mark, on a real cgroup v2 hierarchy: the host's (this
// project's CI machine is a hybrid one, with cgroup v2 at
// /sys/fs/cgroup/unified) or one the test mounts.
func TestMoveIntoLeaf(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root (CI=true: nothing may skip)")
		}
		t.Skip("needs root: it makes cgroups")
	}
	mnt := cgroup2Mount(t)
	var b [6]byte
	rand.Read(b[:])
	dir := filepath.Join(mnt, "racelab-test-"+hex.EncodeToString(b[:]))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sleep.Process.Kill()
		sleep.Wait()
		unix.Rmdir(filepath.Join(dir, supervisorCgroup))
		unix.Rmdir(dir)
	})
	pid := strconv.Itoa(sleep.Process.Pid)
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(pid), 0); err != nil {
		t.Fatal(err)
	}
	if delegated(dir) {
		t.Errorf("delegated(%s) before systemd's mark = true", dir)
	}
	if err := unix.Setxattr(dir, "trusted.delegate", []byte("1"), 0); err != nil {
		t.Fatalf("mark %s delegated as systemd does: %v", dir, err)
	}
	if !delegated(dir) {
		t.Errorf("delegated(%s) with trusted.delegate=1 = false", dir)
	}

	if err := moveIntoLeaf(dir); err != nil {
		t.Fatal(err)
	}
	if procs, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs")); len(strings.TrimSpace(string(procs))) > 0 {
		t.Errorf("after moveIntoLeaf, %s still holds %q", dir, procs)
	}
	got, err := ownCgroupV2("/proc/" + pid + "/cgroup")
	if want := strings.TrimPrefix(dir, mnt) + "/" + supervisorCgroup; err != nil || got != want {
		t.Errorf("the process's cgroup after moveIntoLeaf = %q, %v; want %q", got, err, want)
	}
	if err := moveIntoLeaf(dir); err != nil {
		t.Errorf("moveIntoLeaf again (nothing to move): %v", err)
	}
}

// cgroup2Mount returns where a cgroup v2 hierarchy is mounted, mounting
// one for the test if none is.
func cgroup2Mount(t *testing.T) string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, _ := strings.Cut(sc.Text(), " - ")
		if fields := strings.Fields(pre); strings.HasPrefix(post, "cgroup2 ") && len(fields) > 4 && fields[3] == "/" {
			return fields[4]
		}
	}
	mnt := t.TempDir()
	if err := unix.Mount("cgroup2", mnt, "cgroup2", 0, ""); err != nil {
		t.Fatalf("mount a cgroup v2 hierarchy: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	return mnt
}
