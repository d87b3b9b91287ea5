package gotool

import (
	"fmt"
	"strings"
	"testing"

	"github.com/racelab/racelab/sandbox"
)

// goroutineSummary describes a goroutine as "ID [state] top", top being
// file:line of Top or "none".
func goroutineSummary(g sandbox.Goroutine) string {
	top := "none"
	if g.Top != nil {
		top = fmt.Sprintf("%s:%d %s", g.Top.File, g.Top.Line, g.Top.Func)
	}
	s := fmt.Sprintf("%d [%s] %s", g.ID, g.State, top)
	if g.Wait != "" {
		s += " waited " + g.Wait
	}
	if g.Elsewhere {
		s += " elsewhere"
	}
	return s
}

// The goroutines-*.txt files are the standard error of the programs in
// testdata/src run in the runc sandbox with a 2s limit: in run mode,
// except the race-timeout one (in race mode the runtime finds no
// deadlock, so it runs into the limit and SIGQUIT).
func TestGoroutines(t *testing.T) {
	tests := []struct {
		name  string
		cause string
		want  []string
	}{
		{"deadlock", "deadlock", []string{
			"1 [chan receive] main.go:25 main.main",
			"19 [chan receive] main.go:20 main.main.func2",
			"20 [sync.WaitGroup.Wait] main.go:23 main.main.func3",
		}},
		{"deadlock-race-timeout", "timeout", []string{
			"1 [chan receive] main.go:25 main.main",
			"7 [chan receive] main.go:20 main.main.func2",
			"8 [sync.WaitGroup.Wait] main.go:23 main.main.func3",
		}},
		{"select-timeout", "timeout", []string{
			"1 [select (no cases)] main.go:11 main.main",
			"6 [sleep] main.go:6 main.nap",
		}},
		{"mutex", "deadlock", []string{"1 [sync.Mutex.Lock] main.go:9 main.lockTwice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cause, gs := Goroutines(readTestdata(t, "goroutines-"+tt.name+".txt"), mainGo, "/work")
			if cause != tt.cause {
				t.Errorf("cause = %q, want %q", cause, tt.cause)
			}
			var got []string
			for _, g := range gs {
				got = append(got, goroutineSummary(g))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Goroutines(goroutines-%s.txt) =\n%s\nwant\n%s", tt.name, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			checkGolden(t, "goroutines-"+tt.name+".golden.json", struct {
				Cause      string              `json:"cause"`
				Goroutines []sandbox.Goroutine `json:"goroutines"`
			}{cause, gs})
		})
	}
}

func TestGoroutinesStack(t *testing.T) {
	_, gs := Goroutines(readTestdata(t, "goroutines-mutex.txt"), mainGo, "/work")
	if len(gs) != 1 {
		t.Fatalf("got %d goroutines, want 1", len(gs))
	}
	var got []string
	for _, f := range gs[0].Stack {
		got = append(got, fmt.Sprintf("%s %s:%d %v", f.Func, f.File, f.Line, f.User))
	}
	want := []string{
		"internal/sync.runtime_SemacquireMutex /usr/local/go/src/runtime/sema.go:95 false",
		"internal/sync.(*Mutex).lockSlow /usr/local/go/src/internal/sync/mutex.go:149 false",
		"internal/sync.(*Mutex).Lock /usr/local/go/src/internal/sync/mutex.go:70 false",
		"sync.(*Mutex).Lock /usr/local/go/src/sync/mutex.go:46 false",
		"main.lockTwice main.go:9 true",
		"main.main main.go:13 true",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("stack =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestGoroutinesEdgeCases(t *testing.T) {
	sel := readTestdata(t, "goroutines-select-timeout.txt")
	tests := []struct {
		name  string
		in    string
		cause string
		want  []string
	}{
		{"wait and locked to thread",
			"fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 [chan receive, locked to thread]:\nmain.main()\n\t/work/main.go:9 +0x1d\n\ngoroutine 5 [chan send, 2 minutes]:\nmain.main.func1()\n\t/work/main.go:7 +0x25\ncreated by main.main in goroutine 1\n\t/work/main.go:6 +0x25\n",
			"deadlock", []string{"1 [chan receive] main.go:9 main.main", "5 [chan send] main.go:7 main.main.func1 waited 2 minutes"}},
		{"goroutine 1 kept without a user frame",
			"SIGQUIT: quit\n\ngoroutine 1 gp=0x1 m=0 mp=0x2 [running]:\nruntime.f()\n\t/usr/local/go/src/runtime/f.go:1 +0x1 fp=0x1 sp=0x1 pc=0x1\n",
			"timeout", []string{"1 [running] none"}},
		{"main running on another thread (gVisor, busy host)",
			"SIGQUIT: quit\nPC=0x479081 m=0 sigcode=0\n\ngoroutine 0 gp=0x5248e0 m=0 mp=0x5256a0 [idle]:\nruntime.futex(0x5257f8, 0x80, 0x0, 0x0, 0x0, 0x0)\n\t/usr/local/go/src/runtime/sys_linux_amd64.s:569 +0x21 fp=0x1 sp=0x1 pc=0x1\n\ngoroutine 1 gp=0x3d66138f01e0 m=3 mp=0x3d661398a008 [running]:\n\tgoroutine running on other thread; stack unavailable\n\ngoroutine 17 gp=0x3d6613980000 m=nil [force gc (idle)]:\nruntime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)\n\t/usr/local/go/src/runtime/proc.go:462 +0xce fp=0x1 sp=0x1 pc=0x1\n",
			"timeout", []string{"1 [running] none elsewhere"}},
		{"truncated dump", sel[:strings.Index(sel, "/work/main.go:11")], "timeout", []string{"1 [select (no cases)] none"}},
		{"elided frames", "goroutine 1 [running]:\nmain.f()\n\t/work/main.go:3 +0x1\n...additional frames elided...\n",
			"", []string{"1 [running] main.go:3 main.f"}},
		{"no dump", "hello\n", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cause, gs := Goroutines(tt.in, mainGo, "/work")
			if cause != tt.cause {
				t.Errorf("cause = %q, want %q", cause, tt.cause)
			}
			var got []string
			for _, g := range gs {
				got = append(got, goroutineSummary(g))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Goroutines =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
