// Tests of a runtime that fails: its failures are the backend's errors,
// never the learner's, and they leave nothing behind.

package runc

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/racelab/racelab/sandbox"
)

// TestRuntimeThatCannotStart: a runtime that fails to start the build's
// container without a runc-style log (another OCI runtime refusing the
// bundle) is a failure of the runtime, returned as an error, not a build
// the learner's code failed.
func TestRuntimeThatCannotStart(t *testing.T) {
	base := runner(t) // root and runc, or skip (never under CI)
	fake := filepath.Join(t.TempDir(), "fake-runtime")
	script := "#!/bin/sh\n" +
		"for a in \"$@\"; do [ \"$a\" = run ] && { echo 'unknown version specified' >&2; exit 1; }; done\n" +
		"exec runc \"$@\"\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := New(t.Context(), Config{Runtime: fake, StateDir: filepath.Join(filepath.Dir(base.cfg.StateDir), "runc-fake"),
		CacheDir: base.cfg.CacheDir, Limits: base.cfg.Limits, Seccomp: true, Log: base.cfg.Log})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var kinds []sandbox.Kind
	err = r.Run(t.Context(), &sandbox.Request{Files: map[string]string{"main.go": "package main\n\nfunc main() {}\n"}},
		func(e sandbox.Event) { kinds = append(kinds, e.Kind) })
	if err == nil || !strings.Contains(err.Error(), "did not start") {
		t.Fatalf("err = %v (events %v), want the runtime's failure to start", err, kinds)
	}
	for _, k := range kinds {
		if k == sandbox.KindExit {
			t.Errorf("events %v: a run that never started has no exit event", kinds)
		}
	}
	if left := r.Leftovers(); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestRuntimeThatHangs: a runtime that never starts a container and never
// answers a kill cannot hold a run or its slot: the run ends with an
// error wrapping sandbox.ErrUnavailable within the runtime timeout, twice
// (the start, then the kill, after which the runtime is killed itself),
// and the next run gets the slot.
func TestRuntimeThatHangs(t *testing.T) {
	t.Parallel() // a runner of its own, waiting on a hung runtime (see TestMain)
	base := runner(t)
	fake := filepath.Join(t.TempDir(), "hanging-runtime")
	script := "#!/bin/sh\n" +
		"for a in \"$@\"; do case \"$a\" in run|kill) exec sleep 1000;; esac; done\n" +
		"exec runc \"$@\"\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	const timeout = time.Second
	r, err := New(t.Context(), Config{Runtime: fake, StateDir: filepath.Join(filepath.Dir(base.cfg.StateDir), "runc-hang"),
		CacheDir: base.cfg.CacheDir, Limits: base.cfg.Limits, Seccomp: true, Log: base.cfg.Log,
		Concurrency: 1, RuntimeTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := range 2 {
		var kinds []sandbox.Kind
		start := time.Now()
		err := r.Run(t.Context(), &sandbox.Request{Files: map[string]string{"main.go": "package main\n\nfunc main() {}\n"}},
			func(e sandbox.Event) { kinds = append(kinds, e.Kind) })
		took := time.Since(start)
		if !errors.Is(err, sandbox.ErrUnavailable) {
			t.Fatalf("run %d: err = %v (events %v), want one wrapping ErrUnavailable", i+1, err, kinds)
		}
		if limit := 2*timeout + drainWait + time.Second; took > limit {
			t.Errorf("run %d took %v, want the runtime's hang bounded by %v", i+1, took, limit)
		}
		if len(kinds) > 0 {
			t.Errorf("run %d: events %v, want none from a runtime that never started the container", i+1, kinds)
		}
	}
	if left := r.Leftovers(); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	if out, _ := exec.Command("pgrep", "-f", "sleep 1000").Output(); len(out) > 0 {
		t.Errorf("the hanging runtime's processes still run: %s", out)
	}
}

// crun refuses a hybrid cgroup host whose v2 hierarchy holds controllers:
// racelab says so at start, with the commands that fix it, instead of
// failing every run with crun's "cgroups in hybrid mode not supported".
func TestCrunOnHybrid(t *testing.T) {
	dir := t.TempDir()
	if err := crunOnHybrid(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("no v2 hierarchy beside v1: %v, want nil", err)
	}
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "cgroup.controllers"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("\n")
	if err := crunOnHybrid(dir); err != nil {
		t.Errorf("an empty v2 hierarchy (systemd's hybrid mode): %v, want nil", err)
	}
	write("hugetlb misc\n")
	err := crunOnHybrid(dir)
	if err == nil {
		t.Fatal("controllers in the hybrid v2 hierarchy: no error")
	}
	for _, want := range []string{"(hugetlb misc)", "mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb", "mount -t cgroup -o misc cgroup /sys/fs/cgroup/misc", "--runtime runc"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
}

// The flavours: crun reads runc's command line, takes a 1.0.x spec.
func TestFlavours(t *testing.T) {
	for _, tt := range []struct {
		path         string
		gvisor, crun bool
		version, fds string
	}{
		{"/usr/sbin/runc", false, false, specs.Version, "--preserve-fds 2"},
		{"/usr/bin/crun", false, true, "1.0.2", "--preserve-fds 2"},
		{"/usr/local/bin/runsc", true, false, specs.Version, "--pass-fd 3:3 --pass-fd 4:4"},
	} {
		f := flavourOf(tt.path)
		if f.gvisor != tt.gvisor || f.crun != tt.crun {
			t.Errorf("%s: flavour %+v", tt.path, f)
		}
		if v := f.specVersion(); v != tt.version {
			t.Errorf("%s: ociVersion %s, want %s", tt.path, v, tt.version)
		}
		if fds := strings.Join(f.passFds(2), " "); fds != tt.fds {
			t.Errorf("%s: fds %q, want %q", tt.path, fds, tt.fds)
		}
	}
}
