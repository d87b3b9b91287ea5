package runc

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// flavour is how a runtime's command line and spec read: runc's; crun's
// (runc's command line, a C program that starts a container for a third
// of runc's CPU); or gVisor's runsc, whose flags differ in places and
// which takes a few of its own.
type flavour struct {
	gvisor bool
	crun   bool
}

// flavourOf tells the flavour of the runtime at path by its name.
func flavourOf(path string) flavour {
	base := filepath.Base(path)
	return flavour{gvisor: strings.HasPrefix(base, "runsc"), crun: strings.HasPrefix(base, "crun")}
}

// specVersion is the ociVersion of the bundles: the spec's own, except
// for crun, which takes only 1.0.x ("unknown version specified" from
// Debian 12's crun 1.8.1). racelab's spec uses nothing newer than 1.0.2,
// which added the errno of a seccomp rule.
func (f flavour) specVersion() string {
	if f.crun {
		return "1.0.2"
	}
	return specs.Version
}

// global is the runtime's flags before its subcommand: racelab's state
// and the log of the container of bundle. runsc also gets its network
// off (the container's namespace has no network either), and the spec's
// seccomp profile applied inside its sandbox, as runc applies it.
func (f flavour) global(state, bundle string) []string {
	args := []string{"--root", state, "--log", filepath.Join(bundle, "runtime.log"), "--log-format", "json"}
	if f.gvisor {
		args = append(args, "--network=none", "--oci-seccomp")
	}
	return args
}

// passFds is how the runtime is told to give the container its fds 3 to
// 3+n-1, as racelab's own.
func (f flavour) passFds(n int) []string {
	if !f.gvisor {
		if n == 0 {
			return nil
		}
		return []string{"--preserve-fds", strconv.Itoa(n)}
	}
	var args []string
	for fd := 3; fd < 3+n; fd++ {
		args = append(args, "--pass-fd", strconv.Itoa(fd)+":"+strconv.Itoa(fd))
	}
	return args
}

// list is the subcommand that lists container ids, one a line.
func (f flavour) list() []string {
	if f.gvisor {
		return []string{"list", "--quiet"}
	}
	return []string{"list", "-q"}
}

// forget deletes the runtime's state of the containers whose ids start
// with prefix: runsc keeps a killed container's state after its run
// command has ended (runc removes it itself).
func (r *Runner) forget(prefix string) {
	out, _ := r.ask(context.Background(), r.flavour.list()...)
	for _, id := range strings.Fields(string(out)) {
		if strings.HasPrefix(id, prefix+"-") {
			_, _ = r.ask(context.Background(), "delete", "--force", id)
		}
	}
}

// runCommand is the runtime's command that runs the container of bundle
// in the foreground, passing it fds 3 to 3+fds-1.
func (r *Runner) runCommand(id, bundle string, fds int) *exec.Cmd {
	args := append(r.flavour.global(r.state, bundle), "run", "--bundle", bundle)
	args = append(append(args, r.flavour.passFds(fds)...), id)
	if r.exe == nil {
		return exec.Command(r.runtime, args...)
	}
	cmd := exec.Command(r.exe.path, args...)
	cmd.Args[0] = filepath.Base(r.runtime)
	return cmd
}

// sealRuntime makes the sealed copy of the runtime that starts the
// containers (see sealedExe), unless the runtime is gVisor's. Should that
// fail, the containers start from the installed runtime, each paying for
// its own copy.
func (r *Runner) sealRuntime() {
	if r.flavour.gvisor {
		return
	}
	exe, err := sealRuntime(r.runtime, filepath.Join(r.cfg.StateDir, "exe"))
	if err != nil {
		r.cfg.Log.Warn("the runtime starts from its installed binary, copying itself for every container", "runtime", r.runtime, "err", err)
		return
	}
	r.exe = exe
}

// ask runs a command of the runtime on racelab's state (list, kill,
// delete; never run) and returns what it printed; ctx and RuntimeTimeout
// bound it.
func (r *Runner) ask(ctx context.Context, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.RuntimeTimeout)
	defer cancel()
	return exec.CommandContext(ctx, r.runtime, append([]string{"--root", r.state}, args...)...).Output()
}

// pinFreezer keeps the v1 freezer on while the runner is open when the
// runtime is crun on cgroup v1 (see cgroups.pinFreezer), the only
// runtime that freezes a container to end it. Without it, containers work
// as well, each end costing more.
func (r *Runner) pinFreezer() {
	if !r.flavour.crun || r.cg.v2 {
		return
	}
	if _, err := os.Stat(filepath.Join(r.cg.root, "freezer")); err != nil {
		return // no v1 freezer: crun freezes nothing
	}
	unpin, err := r.cg.pinFreezer(r.prefix())
	if err != nil {
		r.cfg.Log.Warn("cannot keep the v1 freezer on: every container's end turns it on and off", "err", err)
		return
	}
	r.unpin = unpin
}
