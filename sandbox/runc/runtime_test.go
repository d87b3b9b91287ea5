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
