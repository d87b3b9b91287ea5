package runc

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// systemDirs are the host directories a container may need: the
// toolchain, gcc, binutils, libc and the shell live under them. On a
// merged-/usr system (Debian 12) the others are symbolic links into /usr
// and are recreated as links.
func systemDirs() []string {
	return []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}
}

// writeRootfs writes the skeleton every container starts from: mount
// points, links into /usr, a minimal /etc that names no host secret, and
// with Config.HugePages the library that puts a race binary's static
// data on huge pages (hugepages.go). It is mounted read-only, so one
// skeleton serves every container.
func (r *Runner) writeRootfs(ctx context.Context) error {
	tmp := r.rootfs + ".new"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := writeMountPoints(tmp); err != nil {
		return err
	}
	if err := r.addHostDirs(tmp); err != nil {
		return err
	}
	if err := r.writeEtc(filepath.Join(tmp, "etc")); err != nil {
		return err
	}
	if r.cfg.HugePages {
		if err := writePreload(ctx, tmp); err != nil {
			r.cfg.Log.Warn("race programs start without huge pages: their library could not be built", "err", err)
		}
	}
	err := writeInit(ctx, tmp)
	r.hasInit = err == nil
	if err != nil {
		r.cfg.Log.Warn("programs start from a shell and coreutils' timeout: racelab's static init could not be built (Debian: apt-get install libc6-dev)", "err", err)
	}
	if err := os.RemoveAll(r.rootfs); err != nil {
		return err
	}
	return os.Rename(tmp, r.rootfs)
}

// writeMountPoints makes the skeleton's mount points below root.
func writeMountPoints(root string) error {
	for _, d := range []string{"proc", "dev", "etc", "tmp", "work", "cache"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	// runc gives a tmpfs the mode of its mount point: /tmp, and /work in
	// the repeat containers, are every slot's user's to write.
	for _, d := range []string{"tmp", "work"} {
		if err := os.Chmod(filepath.Join(root, d), 0o1777); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(root, "prog"), nil, 0o755)
}

// addHostDirs adds the system directories and GOROOT to the skeleton
// below root, and to the host directories every container mounts.
func (r *Runner) addHostDirs(root string) error {
	r.hostDirs = nil
	for _, d := range systemDirs() {
		if err := r.addSystemDir(root, d); err != nil {
			return err
		}
	}
	if under(r.cfg.GOROOT, r.hostDirs) {
		return nil
	}
	r.hostDirs = append(r.hostDirs, r.cfg.GOROOT)
	return os.MkdirAll(filepath.Join(root, r.cfg.GOROOT), 0o755)
}

func (r *Runner) addSystemDir(root, d string) error {
	fi, err := os.Lstat(d)
	switch {
	case os.IsNotExist(err):
		return nil
	case err != nil:
		return err
	case fi.Mode()&os.ModeSymlink != 0:
		target, err := os.Readlink(d)
		if err != nil {
			return err
		}
		return os.Symlink(target, filepath.Join(root, d))
	case fi.IsDir():
		r.hostDirs = append(r.hostDirs, d)
		return os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	return nil
}

func (r *Runner) writeEtc(etc string) error {
	passwd, group := "root:x:0:0:root:/root:/usr/sbin/nologin\n", "root:x:0:\n"
	for i := range r.cfg.Concurrency {
		passwd += fmt.Sprintf("gopher%d:x:%d:%d:gopher:/tmp:/usr/sbin/nologin\n", i, r.cfg.UID+i, r.cfg.GID+i)
		group += fmt.Sprintf("gopher%d:x:%d:\n", i, r.cfg.GID+i)
	}
	files := map[string]string{
		"passwd":        passwd,
		"group":         group,
		"hosts":         "127.0.0.1\tlocalhost racelab\n::1\tlocalhost racelab\n",
		"resolv.conf":   "# no network in the sandbox\n",
		"nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	// The dynamic loader's cache names no secret and speeds up gcc.
	if b, err := os.ReadFile("/etc/ld.so.cache"); err == nil {
		if err := os.WriteFile(filepath.Join(etc, "ld.so.cache"), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func under(p string, dirs []string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// cleanStale removes what a runner that crashed on this state directory
// left: containers, mounts, run directories and cgroups.
func (r *Runner) cleanStale(ctx context.Context) {
	out, _ := r.ask(ctx, r.flavour.list()...)
	for _, id := range strings.Fields(string(out)) {
		r.cfg.Log.Warn("removing a container left by an earlier runner", "id", id)
		_, _ = r.ask(ctx, "delete", "--force", id)
	}
	for _, m := range mountsUnder(r.runs) {
		_ = unix.Unmount(m, unix.MNT_DETACH)
	}
	ents, _ := os.ReadDir(r.runs)
	for _, e := range ents {
		r.cfg.Log.Warn("removing a run directory left by an earlier runner", "run", e.Name())
		_ = os.RemoveAll(filepath.Join(r.runs, e.Name()))
	}
	for _, id := range r.cg.leftovers(r.prefix()) {
		_ = r.cg.remove(id)
	}
}

// mountsUnder lists the mount points below dir, deepest first.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var ms []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			ms = append([]string{fields[4]}, ms...)
		}
	}
	return ms
}
