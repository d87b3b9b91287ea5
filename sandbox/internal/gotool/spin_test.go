package gotool

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/racelab/racelab/sandbox"
)

// spinSrc spins in an empty loop in main (line 26), in a function
// literal (line 22), in a method (line 6), and in a function with two
// such loops (lines 12 and 15), whose frames cannot tell them apart.
const spinSrc = `package main

type S struct{}

func (s *S) spin() {
	for {
	}
}

func twice(b bool) {
	if b {
		for {
		}
	}
	for {
	}
}

func main() {
	go (&S{}).spin()
	go func() {
		for {
		}
	}()
	go twice(false)
	for {
	}
}
`

// The compiler gives the jump of an empty loop no line, so the runtime's
// dump of a goroutine spinning in one says line 1; the goroutines view
// puts it on the loop's line, where the function has one such loop.
// Built and stopped with SIGQUIT for real, as a timed-out run is.
func TestPlaceSpins(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"go.mod": GoMod, "main.go": spinSrc} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	build := exec.Command("go", "build", "-o", "spin", ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false", "GOTOOLCHAIN=local")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	// The loop is two instructions, and only the jump has no line: a
	// goroutine caught on the other is already on the loop's line. Four
	// dumps of three spinning goroutines all but surely catch some on
	// the jump.
	moved := 0
	for range 4 {
		var stderr strings.Builder
		run := exec.Command(filepath.Join(dir, "spin"))
		run.Env, run.Stderr = []string{"GOMAXPROCS=1"}, &stderr
		if err := run.Start(); err != nil {
			t.Fatal(err)
		}
		// Every goroutine started: each has had its 10 ms turns. CPU time,
		// not time: under load 300 ms once passed before one had.
		waitCPU(t, run.Process.Pid, 200*time.Millisecond)
		run.Process.Signal(syscall.SIGQUIT)
		run.Wait()

		_, gs := Goroutines(stderr.String(), mainGo, dir)
		tops := func() map[string]int {
			m := map[string]int{}
			for _, g := range gs {
				if g.Top != nil {
					m[g.Top.Func] = g.Top.Line
				}
			}
			return m
		}
		before := tops()
		for _, line := range before {
			if line == 1 {
				moved++
			}
		}
		placeSpins(gs, map[string]string{"main.go": spinSrc})
		got := tops()
		want := map[string]int{"main.main": 26, "main.main.func1": 22, "main.(*S).spin": 6, "main.twice": before["main.twice"]}
		for fn, line := range want {
			if got[fn] != line {
				t.Errorf("%s at line %d, want %d (all: %v; before: %v)\n%s", fn, got[fn], line, got, before, stderr.String())
			}
		}
		for _, g := range gs {
			for _, f := range g.Stack {
				if f.Func == "main.main.func1" && f.User && f.Line != 22 {
					t.Errorf("a frame of the literal stays at line %d: %+v", f.Line, g.Stack)
				}
			}
		}
	}
	if moved == 0 {
		t.Error("no dump put a goroutine on line 1: the toolchain now gives the loop's jump a line (then placeSpins can go)")
	}
}

// waitCPU waits, for at most a minute, until process pid has used cpu of
// CPU time.
func waitCPU(t *testing.T, pid int, cpu time.Duration) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		// utime and stime, in clock ticks (100 a second), follow the
		// command's closing parenthesis as fields 12 and 13.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		utime, _ := strconv.Atoi(f[11])
		stime, _ := strconv.Atoi(f[12])
		if used := time.Duration(utime+stime) * 10 * time.Millisecond; used >= cpu {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the program had %d ticks of CPU in a minute, want %v", utime+stime, cpu)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A frame at a line of code is left where the runtime put it, and so is
// one in a file that does not parse or is not submitted.
func TestPlaceSpinsLeavesOthers(t *testing.T) {
	gs := []sandbox.Goroutine{
		{ID: 1, Stack: []sandbox.Frame{{Func: "main.main", File: "main.go", Line: 4, User: true}}},
		{ID: 2, Stack: []sandbox.Frame{{Func: "main.main", File: "bad.go", Line: 1, User: true}}},
		{ID: 3, Stack: []sandbox.Frame{{Func: "runtime.main", File: "/usr/local/go/src/runtime/proc.go", Line: 1}}},
	}
	placeSpins(gs, map[string]string{"main.go": "package main\n\nfunc main() {\n\tselect {}\n\tfor {\n\t}\n}\n", "bad.go": "package main\n\nfunc main( {\n"})
	if gs[0].Stack[0].Line != 4 || gs[1].Stack[0].Line != 1 || gs[2].Stack[0].Line != 1 {
		t.Errorf("frames moved: %+v", gs)
	}
}
