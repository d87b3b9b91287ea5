package runc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/racelab/racelab/sandbox"
)

// pinFreezer freezes its cgroup, takes over one a crashed runner left
// frozen, and its undo thaws and removes it (here on a stand-in tree:
// TestFreezerPinned checks the real one).
func TestPinFreezer(t *testing.T) {
	cg := cgroups{root: t.TempDir(), base: "/"}
	if err := os.Mkdir(filepath.Join(cg.root, "freezer"), 0o755); err != nil {
		t.Fatal(err)
	}
	d := filepath.Join(cg.root, "freezer", cgroupParent, pinName("rl123456"))
	for _, when := range []string{"first", "taken over"} {
		unpin, err := cg.pinFreezer("rl123456")
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if b, err := os.ReadFile(filepath.Join(d, "freezer.state")); err != nil || string(b) != "FROZEN" {
			t.Fatalf("%s: freezer.state %q (%v), want FROZEN", when, b, err)
		}
		if when == "taken over" {
			if err := unpin(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := os.Stat(d); !os.IsNotExist(err) {
		t.Errorf("the pin is still there after its undo: %v", err)
	}
	if strings.HasPrefix(pinName("rl123456"), "rl123456") {
		t.Errorf("the pin %s would be taken for a run's cgroup left behind", pinName("rl123456"))
	}
}

// TestFreezerPinned checks on the host that a crun runner on cgroup v1
// keeps an empty cgroup of its own frozen while it is open, runs programs
// as well, and removes it when closed; runc's and runsc's runners, which
// freeze nothing, make none.
func TestFreezerPinned(t *testing.T) {
	r := runner(t)
	pin := filepath.Join(cgroupRoot, "freezer", cgroupParent, pinName(r.prefix()))
	if testRuntime() != "crun" || r.cg.v2 {
		if r.unpin != nil {
			t.Fatal("a runner that is not crun's on cgroup v1 pinned the freezer")
		}
		if _, err := os.Stat(pin); !os.IsNotExist(err) {
			t.Fatalf("%s exists (%v)", pin, err)
		}
		return
	}
	other := runnerOn(t, "runc-crun-pin", "crun", func(*sandbox.Limits) {})
	otherPin := filepath.Join(cgroupRoot, "freezer", cgroupParent, pinName(other.prefix()))
	for _, p := range []string{pin, otherPin} {
		if b, err := os.ReadFile(filepath.Join(p, "freezer.state")); err != nil || strings.TrimSpace(string(b)) != "FROZEN" {
			t.Fatalf("%s: freezer.state %q (%v), want FROZEN", p, b, err)
		}
		if b, err := os.ReadFile(filepath.Join(p, "cgroup.procs")); err != nil || len(b) != 0 {
			t.Fatalf("%s holds processes %q (%v)", p, b, err)
		}
	}
	res := runSrc(t, sandbox.ModeRun, "package main\n\nfunc main() { println(\"ran\") }\n")
	outcome{reason: sandbox.ReasonExited, stderr: []string{"ran"}}.check(t, res)
	other.Close()
	if _, err := os.Stat(otherPin); !os.IsNotExist(err) {
		t.Errorf("a closed runner's pin %s is still there (%v)", otherPin, err)
	}
	if b, err := os.ReadFile(filepath.Join(pin, "freezer.state")); err != nil || strings.TrimSpace(string(b)) != "FROZEN" {
		t.Errorf("another runner's Close changed this one's pin: %q (%v)", b, err)
	}
}
