package runc

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// containerSpec describes one container of a run: what it executes and
// what of the run's directory it sees.
type containerSpec struct {
	args     []string
	env      []string
	workDir  string // host directory mounted at /work; "" for a fresh tmpfs
	cacheDir string // host directory holding the run's cache layer: upper/ and work/ ("" for none)
	binary   string // host file mounted read-only at /prog ("" for none)
	cgroup   string // cgroupsPath for runc
	uid, gid int    // the slot's user and group
}

// The container's own paths.
const (
	ctrWork  = "/work"
	ctrCache = "/cache"
	ctrTmp   = "/tmp"
	ctrProg  = "/prog"
)

// spec returns the OCI runtime spec of c. The root file system is the
// read-only skeleton; the host's /usr (toolchain, gcc, libraries) and
// GOROOT are bind-mounted read-only; the only writable places are the
// run's tmpfs directories.
func (r *Runner) spec(c containerSpec) *specs.Spec {
	return &specs.Spec{
		Version:  r.flavour.specVersion(),
		Root:     &specs.Root{Path: r.rootfs, Readonly: true},
		Process:  r.process(c),
		Hostname: "racelab",
		Mounts:   r.mounts(c),
		Linux:    r.linux(c),
	}
}

// process is what runs: as the slot's user, without capabilities or a
// way to gain privileges, without core dumps, and with no file larger
// than a tmpfs. On gVisor it is also held to Limits.Pids processes and
// threads by RLIMIT_NPROC (see resources).
func (r *Runner) process(c containerSpec) *specs.Process {
	uid, gid := uint32(c.uid), uint32(c.gid)
	fsize := uint64(r.cfg.Limits.TmpBytes)
	rlimits := []specs.POSIXRlimit{
		{Type: "RLIMIT_CORE", Hard: 0, Soft: 0},
		{Type: "RLIMIT_NOFILE", Hard: 4096, Soft: 4096},
		{Type: "RLIMIT_FSIZE", Hard: fsize, Soft: fsize},
	}
	if r.flavour.gvisor {
		n := uint64(r.cfg.Limits.Pids)
		rlimits = append(rlimits, specs.POSIXRlimit{Type: "RLIMIT_NPROC", Hard: n, Soft: n})
	}
	return &specs.Process{
		Args:            c.args,
		Env:             c.env,
		Cwd:             ctrWork,
		User:            specs.User{UID: uid, GID: gid, AdditionalGids: []uint32{gid}},
		NoNewPrivileges: true,
		Capabilities:    &specs.LinuxCapabilities{},
		Rlimits:         rlimits,
	}
}

// linux is the container's namespaces (an empty network namespace among
// them), its cgroup, the parts of /proc and /sys it must not see, and
// its seccomp filter.
func (r *Runner) linux(c containerSpec) *specs.Linux {
	l := &specs.Linux{
		CgroupsPath: c.cgroup,
		Resources:   r.resources(),
		Namespaces: []specs.LinuxNamespace{
			{Type: specs.PIDNamespace},
			{Type: specs.NetworkNamespace}, // empty: only a loopback device
			{Type: specs.IPCNamespace},
			{Type: specs.UTSNamespace},
			{Type: specs.MountNamespace},
			{Type: specs.CgroupNamespace}, // the container sees its cgroup as /
		},
		MaskedPaths: []string{
			"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
			"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
			"/sys/firmware",
		},
		ReadonlyPaths: []string{
			"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
		},
	}
	if r.cfg.Seccomp {
		l.Seccomp = seccompProfile(r.flavour)
	}
	return l
}

// mounts are the container's file systems: the kernel's, the host's
// read-only system directories, and the run's own.
func (r *Runner) mounts(c containerSpec) []specs.Mount {
	ms := kernelMounts()
	if r.flavour.crun {
		ms = append(ms, deviceMounts()...)
	}
	for _, d := range r.hostDirs {
		ms = append(ms, r.readOnly(d, d))
	}
	return append(ms, r.runMounts(c)...)
}

// kernelMounts are /proc and /dev, as every container has them.
func kernelMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
	}
}

// deviceMounts bind-mount the host's /dev/null and the other devices
// every container has. The runtimes make them with mknod; where racelab
// may not (a systemd service with PrivateDevices=yes has no CAP_MKNOD),
// runc falls back to bind-mounting the host's, but Debian 12's crun 1.8.1
// fails the container ("mknod `/dev/null`: Operation not permitted"). A
// device that is a mount of the spec crun leaves alone.
func deviceMounts() []specs.Mount {
	var ms []specs.Mount
	for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		p := "/dev/" + d
		ms = append(ms, specs.Mount{Destination: p, Type: "bind", Source: p, Options: []string{"bind", "nosuid", "noexec"}})
	}
	return ms
}

// readOnly bind-mounts the host's src at dst, read-only all the way down
// (runc: rro, submounts included; gVisor, which mounts through its own
// gofer and ignores rro, takes ro for the whole tree).
func (r *Runner) readOnly(dst, src string) specs.Mount {
	ro := "rro"
	if r.flavour.gvisor {
		ro = "ro"
	}
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: []string{"rbind", ro, "nosuid", "nodev"}}
}

// runMounts are the run's own places: a fresh /tmp, /work (the sources,
// or a fresh tmpfs), the cache layer, the module proxy and the binary.
func (r *Runner) runMounts(c containerSpec) []specs.Mount {
	tmpfs := specs.Mount{Type: "tmpfs", Source: "tmpfs",
		Options: []string{"nosuid", "nodev", "size=" + strconv.FormatInt(r.cfg.Limits.TmpBytes, 10)}}
	tmp, work := tmpfs, tmpfs
	tmp.Destination, work.Destination = ctrTmp, ctrWork
	if c.workDir != "" {
		work = specs.Mount{Destination: ctrWork, Type: "bind", Source: c.workDir, Options: []string{"bind", "nosuid", "nodev"}}
	}
	ms := []specs.Mount{tmp, work}
	if c.cacheDir != "" {
		// The run's overlay of the warm cache (see job.mountCache).
		ms = append(ms, specs.Mount{Destination: ctrCache, Type: "bind", Source: filepath.Join(c.cacheDir, "merged"),
			Options: []string{"bind", "nosuid", "nodev"}})
	}
	if c.cacheDir != "" && r.proxyDir != "" {
		ms = append(ms, r.readOnly(ctrProxy, r.proxyDir))
	}
	if c.binary != "" {
		ms = append(ms, specs.Mount{Destination: ctrProg, Type: "bind", Source: c.binary, Options: []string{"bind", "ro", "nosuid", "nodev"}})
	}
	return ms
}

// Under gVisor the container's cgroup holds the sandbox's kernel (the
// sentry), not the program: its own threads (some twenty, more as it
// works) and two host tasks for each of the program's processes (its
// address space's stub; threads that wait take none). A pids.max of
// Limits.Pids there was reached by a fork bomb before anything refused the
// program, and the sentry, unable to start a thread, died ("fatal error:
// newosproc"), taking the program's output with it. So on gVisor the
// program is held to Limits.Pids inside the sentry (RLIMIT_NPROC, which
// it counts per user in its own kernel, threads included: the program
// gets EAGAIN, as pids.max gives it under runc), and the host cgroup
// keeps a backstop with room for all of that.
const (
	gvisorTasksPerProcess = 2
	gvisorSentryTasks     = 128
)

// hostPids is the pids.max of a container's cgroup.
func (r *Runner) hostPids() int64 {
	if r.flavour.gvisor {
		return gvisorTasksPerProcess*r.cfg.Limits.Pids + gvisorSentryTasks
	}
	return r.cfg.Limits.Pids
}

func (r *Runner) resources() *specs.LinuxResources {
	pids := r.hostPids()
	return &specs.LinuxResources{
		Pids: &specs.LinuxPids{Limit: &pids},
		// Memory and CPU are limited on the run's parent cgroup (see
		// cgroup.go): its peak and OOM counters survive the container, and
		// the CPU limit can change from the build step to the program.
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
	}
}

// writeBundle writes the bundle directory holding c's config.json.
func (r *Runner) writeBundle(dir string, c containerSpec) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(r.spec(c))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600)
}
