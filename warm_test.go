package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad input to racelab warm is refused before anything is built: one line
// on stderr, exit status 2; a cache directory every container would see
// is refused with status 1.
func TestWarmBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad flag", []string{"warm", "--explode"}, 2, "flag provided but not defined: -explode"},
		{"arguments", []string{"warm", "main.go"}, 2, "racelab warm takes only flags"},
		{"cache seen by containers", []string{"warm", "--cache-dir", "/usr/racelab-cache"}, 1, "inside a directory every container sees"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit status %d, want %d (stderr %q)", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr = %q, want it to say %q", stderr.String(), tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
	if _, err := os.Stat("/usr/racelab-cache"); err == nil {
		t.Errorf("racelab warm made /usr/racelab-cache although it refused it")
	}
}

// racelab warm makes the warm cache (in the shared test cache, so on a
// machine where the sandbox tests ran it already exists), a second warm
// finds it and builds nothing, and a run in the real sandbox uses it
// without building it again.
func TestWarmThenRun(t *testing.T) {
	base := needRunc(t)
	cache := filepath.Join(base, "cache")
	const building = "building the warm build cache"
	warm := func() string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{"warm", "--cache-dir", cache}, &stdout, &stderr); code != 0 {
			t.Fatalf("racelab warm: exit status %d, want 0; stderr:\n%s", code, stderr.String())
		}
		dir, ok := strings.CutPrefix(strings.TrimSpace(stdout.String()), "warm build cache: ")
		if !ok || filepath.Dir(dir) != cache {
			t.Fatalf("racelab warm printed %q, want \"warm build cache: %s/KEY\"", stdout.String(), cache)
		}
		if _, err := os.Stat(filepath.Join(dir, "README")); err != nil {
			t.Fatalf("the warm cache %s is not complete: %v", dir, err)
		}
		return stderr.String()
	}
	warm()
	if log := warm(); strings.Contains(log, building) {
		t.Errorf("the second racelab warm built the cache again:\n%s", log)
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"run", "--mode", "race",
		"--state-dir", filepath.Join(base, "warm"), "--cache-dir", cache, filepath.Join("examples", "racy.go")}, &stdout, &stderr)
	if code != 66 {
		t.Errorf("racelab run --mode race: exit status %d, want 66 (stderr %q)", code, stderr.String())
	}
	if strings.Contains(stderr.String(), building) {
		t.Errorf("racelab run built the warm cache that racelab warm had made:\n%s", stderr.String())
	}
}
