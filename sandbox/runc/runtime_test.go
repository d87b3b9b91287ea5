// Tests of a runtime that fails: its failures are the backend's errors,
// never the learner's, and they leave nothing behind.

package runc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
