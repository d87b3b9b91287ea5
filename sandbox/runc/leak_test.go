package runc

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/internal/gotool"
)

// leakSrc leaves a goroutine blocked sending on line 9 (nobody receives)
// when main returns on line 11.
const leakSrc = `package main

import "fmt"

func main() {
	ch := make(chan int)
	go func() {
		fmt.Println("sending")
		ch <- 1
	}()
	fmt.Println("main returns")
}
`

// finishedSrc waits for its goroutines, which all end.
const finishedSrc = `package main

import (
	"fmt"
	"sync"
)

func main() {
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); fmt.Println(i) }()
	}
	wg.Wait()
}
`

// goroutinesEvents returns the run's goroutines events with cause.
func goroutinesEvents(res *result, cause string) []sandbox.Event {
	var evs []sandbox.Event
	for _, e := range res.events {
		if e.Kind == sandbox.KindGoroutines && e.Cause == cause {
			evs = append(evs, e)
		}
	}
	return evs
}

func TestLeakedGoroutinesAtExit(t *testing.T) {
	for _, mode := range []sandbox.Mode{sandbox.ModeRun, sandbox.ModeRace} {
		t.Run(string(mode), func(t *testing.T) {
			res := runSrc(t, mode, leakSrc)
			outcome{reason: sandbox.ReasonExited, code: 0, stdout: []string{"main returns"},
				stderr: []string{"racelab: goroutines still running when main returned:"}}.check(t, res)
			if p := os.Getenv("RACELAB_LEAK_CAPTURE"); p != "" && mode == sandbox.ModeRun {
				os.WriteFile(p, []byte(res.text(sandbox.KindStderr)), 0o644)
			}
			evs := goroutinesEvents(res, sandbox.CauseExit)
			if len(evs) != 1 {
				t.Fatalf("got %d goroutines events with cause exit, want 1%s", len(evs), res.dump())
			}
			gs := evs[0].Goroutines
			if len(gs) != 1 || gs[0].Top == nil {
				t.Fatalf("goroutines = %+v, want one with a top frame", gs)
			}
			if top := gs[0].Top; top.File != "main.go" || top.Line != 9 || top.Func != "main.main.func1" || !top.User {
				t.Errorf("top = %+v, want main.go:9 main.main.func1", *top)
			}
			if gs[0].State != "chan send" {
				t.Errorf("state = %q, want chan send", gs[0].State)
			}
			ig := slices.IndexFunc(res.events, func(e sandbox.Event) bool { return e.Kind == sandbox.KindGoroutines })
			ie := slices.IndexFunc(res.events, func(e sandbox.Event) bool { return e.Kind == sandbox.KindExit })
			if ig > ie {
				t.Errorf("goroutines event at %d comes after the exit event at %d", ig, ie)
			}
		})
	}
}

func TestNoLeakReportWhenGoroutinesFinish(t *testing.T) {
	res := runSrc(t, sandbox.ModeRun, finishedSrc)
	outcome{reason: sandbox.ReasonExited, code: 0, stdout: []string{"0", "1", "2"}}.check(t, res)
	if evs := goroutinesEvents(res, sandbox.CauseExit); len(evs) != 0 {
		t.Errorf("got goroutines events %+v, want none", evs)
	}
	if s := res.text(sandbox.KindStderr); strings.Contains(s, "racelab:") {
		t.Errorf("stderr has a leak report:\n%s", s)
	}
}

func TestWrappedCompileErrorLine(t *testing.T) {
	// undefined: y on line 7, after main (which defers the report) on line 5.
	src := "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tgo fmt.Println(1)\n\tfmt.Println(y)\n}\n"
	res := runSrc(t, sandbox.ModeRace, src)
	outcome{reason: sandbox.ReasonBuildFailed, code: 1, diagLine: 7}.check(t, res)
	if s := res.text(sandbox.KindStderr) + res.dump(); strings.Contains(s, "racelab") {
		t.Errorf("the build output mentions the wrapper:%s", s)
	}
}

// A goroutine of the standard library still running at exit (os/signal's
// loop) is not the learner's leak: nothing is printed about it.
func TestExitGoroutinesIgnoresStdlib(t *testing.T) {
	res := runSrc(t, sandbox.ModeRun, "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\t\"os/signal\"\n)\n\nfunc main() {\n\tc := make(chan os.Signal, 1)\n\tsignal.Notify(c, os.Interrupt)\n\tfmt.Println(\"done\")\n}\n")
	outcome{reason: sandbox.ReasonExited, stdout: []string{"done"}}.check(t, res)
	if s := res.text(sandbox.KindStderr); s != "" {
		t.Errorf("stderr = %q, want nothing", s)
	}
	for _, e := range res.events {
		if e.Kind == sandbox.KindGoroutines {
			t.Errorf("goroutines event %+v for a standard-library goroutine", e)
		}
	}
}

// racelab's exit wrapper never shows in what the learner reads: a race
// report, a panic and the views name main.main, with no frame of the
// wrapper's files or package; a panicking main gets no leak report on top.
func TestWrapperInvisible(t *testing.T) {
	for _, src := range []string{racyCounter(t)["main.go"], "package main\n\nfunc main() {\n\tgo func() { select {} }()\n\tpanic(\"boom\")\n}\n"} {
		res := runReq(t, context.Background(), &sandbox.Request{Mode: sandbox.ModeRace, Files: map[string]string{"main.go": src}})
		res.exit(t)
		all := res.text(sandbox.KindStdout) + res.text(sandbox.KindStderr)
		if strings.Contains(all, "racelab") {
			t.Errorf("output shows racelab's wrapper:\n%s", all)
		}
		if !strings.Contains(all, "main.main") {
			t.Errorf("output does not name main.main:\n%s", all)
		}
		if b, _ := json.Marshal(res.events); strings.Contains(string(b), "zz_racelab") || strings.Contains(string(b), gotool.ExitPackage) {
			t.Errorf("an event has a frame of the wrapper:%s", res.dump())
		}
	}
}
