package runc

import (
	"runtime"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// deniedSyscalls fail with EPERM inside the sandbox. The profile allows
// everything else, because the Go toolchain, gcc and the race runtime use
// a wide and changing set of calls; what it takes away is the kernel
// surface a Go program never needs: mounts, namespaces, kernel modules,
// keyrings, BPF, perf, ptrace and io_uring. Without capabilities most of
// these fail anyway; the profile is a second wall.
func deniedSyscalls() []string {
	return []string{
		"acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "delete_module",
		"finit_module", "fsconfig", "fsmount", "fsopen", "fspick", "init_module",
		"io_uring_enter", "io_uring_register", "io_uring_setup", "ioperm", "iopl",
		"kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mount",
		"mount_setattr", "move_mount", "name_to_handle_at", "open_by_handle_at",
		"open_tree", "perf_event_open", "pivot_root", "process_vm_readv",
		"process_vm_writev", "ptrace", "quotactl", "quotactl_fd", "reboot",
		"request_key", "setns", "settimeofday", "swapoff", "swapon", "syslog",
		"umount2", "unshare", "userfaultfd", "vhangup",
	}
}

// watchSyscalls fail with EPERM: they would let a program watch the
// directories every container shares read-only (GOROOT, the module
// proxy, /usr) and so see, file by file, what another learner's build
// opens (inotify, fanotify), or probe which of their pages another run
// brought into the page cache (cachestat; the kernel may refuse it too).
func watchSyscalls() []string {
	return []string{"inotify_init", "inotify_init1", "inotify_add_watch", "fanotify_init", "fanotify_mark", "cachestat"}
}

// noWaitSyscalls fail with ENOSYS, as on a kernel without them, so that
// libc falls back to preadv and pwritev: their RWF_NOWAIT flag answers
// whether a page of a shared file is in the page cache, which tells what
// other runs read.
func noWaitSyscalls() []string {
	return []string{"preadv2", "pwritev2"}
}

// deniedFamilies are the socket address families a sandboxed program may
// not open. A network namespace confines IP, but not vsock (which reaches
// the hypervisor of a VM host) nor the kernel's more exotic families,
// which are attack surface and nothing a lesson needs. Unix, IP and
// netlink sockets (net.Interfaces) stay.
func deniedFamilies() []uint64 {
	const (
		afKey       = 15
		afPacket    = 17
		afRDS       = 21
		afCAN       = 29
		afTIPC      = 30
		afBluetooth = 31
		afALG       = 38
		afVsock     = 40
		afXDP       = 44
	)
	return []uint64{afKey, afPacket, afRDS, afCAN, afTIPC, afBluetooth, afALG, afVsock, afXDP}
}

// seccompProfile returns the sandbox's seccomp profile: allow by default,
// deny the calls above, refuse clone with CLONE_NEWUSER (a user namespace
// would hand the program capabilities over its own namespaces), and make
// clone3 report ENOSYS so that libc falls back to clone, whose flags the
// filter can see.
func seccompProfile(f flavour) *specs.LinuxSeccomp {
	eperm := uint(syscall.EPERM)
	enosys := uint(syscall.ENOSYS)
	eafnosupport := uint(syscall.EAFNOSUPPORT)
	rules := []specs.LinuxSyscall{
		{Names: deniedSyscalls(), Action: specs.ActErrno, ErrnoRet: &eperm},
		{Names: watchSyscalls(), Action: specs.ActErrno, ErrnoRet: &eperm},
		{Names: noWaitSyscalls(), Action: specs.ActErrno, ErrnoRet: &enosys},
		{Names: []string{"clone"}, Action: specs.ActErrno, ErrnoRet: &eperm, Args: []specs.LinuxSeccompArg{
			{Index: 0, Value: syscall.CLONE_NEWUSER, ValueTwo: syscall.CLONE_NEWUSER, Op: specs.OpMaskedEqual},
		}},
	}
	if !f.gvisor {
		// clone3's flags are in memory, out of a filter's reach: make libc
		// fall back to clone, whose flags the rule above sees. gVisor does
		// not have clone3 (ENOSYS already), and a filter naming it there
		// makes libc's pthread_create fail with EPERM.
		rules = append(rules, specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys})
	}
	for _, fam := range deniedFamilies() {
		rules = append(rules, specs.LinuxSyscall{Names: []string{"socket", "socketpair"}, Action: specs.ActErrno,
			ErrnoRet: &eafnosupport, Args: []specs.LinuxSeccompArg{{Index: 0, Value: fam, Op: specs.OpEqualTo}}})
	}
	return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: seccompArchs(), Syscalls: rules}
}

// seccompArchs lists the host's system-call ABIs, so that a 32-bit call
// cannot slip past a filter written for the 64-bit numbers.
func seccompArchs() []specs.Arch {
	switch runtime.GOARCH {
	case "arm64":
		return []specs.Arch{specs.ArchAARCH64, specs.ArchARM}
	case "amd64":
		return []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	}
	return nil // the native ABI only
}
