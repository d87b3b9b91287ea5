// Attacks on what racelab itself handles of a run's output: whatever
// untrusted code makes racelab hold, parse or send is bounded in racelab
// too, checked from the host side (racelab's own memory and CPU time, and
// the bytes of the events).

package runc

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/racelab/racelab/sandbox"
)

// usageSelf returns this process's peak resident memory and CPU time.
func usageSelf(t *testing.T) (peak int64, cpu time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return ru.Maxrss << 10, time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// eventBytes is the size of the events as JSON, as they go on the wire.
func eventBytes(evs []sandbox.Event) int {
	n := 0
	for _, e := range evs {
		b, _ := json.Marshal(e)
		n += len(b)
	}
	return n
}

// Formatting is untrusted work: 8,000 nested blocks (31 KiB) format into
// over a hundred MiB, and a long a+a+…+a costs gofmt many seconds of CPU.
// Both run in the sandbox: racelab's memory does not grow with them, its
// CPU is not spent on them, and Stop ends them at once.
func TestFmtAttacks(t *testing.T) {
	l := runner(t).cfg.Limits
	t.Run("nested blocks", func(t *testing.T) {
		src := "package main\n\nfunc main() " + strings.Repeat("{", 8000) + strings.Repeat("}", 8000) + "\n"
		peak0, _ := usageSelf(t)
		res := runSrc(t, sandbox.ModeFmt, src)
		peak, _ := usageSelf(t)
		exit := res.exit(t)
		switch exit.Reason {
		case sandbox.ReasonOutput, sandbox.ReasonMemory, sandbox.ReasonTimeout:
		default:
			t.Errorf("exit %s: %s; want a limit: output, memory or the build's time%s", exit.Reason, exit.Msg, res.dump())
		}
		if n := eventBytes(res.events); int64(n) > 2*l.OutputBytes {
			t.Errorf("the events are %d bytes of JSON, want at most twice the output limit (%d)", n, l.OutputBytes)
		}
		if grew := peak - peak0; grew > 64<<20 {
			t.Errorf("racelab's peak memory grew by %d MiB formatting it", grew>>20)
		}
		t.Logf("%s in %v: %s", exit.Reason, res.took.Round(time.Millisecond), exit.Msg)
	})
	t.Run("stopped while formatting", func(t *testing.T) {
		src := "package main\n\nvar a = 1\n\nvar x = a" + strings.Repeat("+a", 30<<10) + "\n"
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, cpu0 := usageSelf(t)
		res := runReq(t, ctx, &sandbox.Request{Mode: sandbox.ModeFmt, Files: map[string]string{"main.go": src}})
		_, cpu := usageSelf(t)
		exit := res.exit(t)
		if exit.Reason != sandbox.ReasonCanceled && exit.Reason != sandbox.ReasonExited {
			t.Errorf("exit %s: %s; want canceled (or formatted within the second)", exit.Reason, exit.Msg)
		}
		if res.took > 2*time.Second {
			t.Errorf("the run took %v after a stop at 1s", res.took)
		}
		if spent := cpu - cpu0; spent > 500*time.Millisecond {
			t.Errorf("racelab spent %v of CPU on it, want the formatting done in the sandbox", spent)
		}
		t.Logf("%s in %v", exit.Reason, res.took.Round(time.Millisecond))
	})
}

// An asm listing repeated a function's name on every instruction: one
// function with a long name and thousands of statements (under 64 KiB of
// source) made ~157 MiB of events. The name now goes once per function
// and the listing is cut at the asm output limit, so the events stay
// within it, and so does racelab's memory.
func TestAsmAttack(t *testing.T) {
	r := runnerWith(t, "runc-asm", func(l *sandbox.Limits) { l.AsmOutputBytes = 256 << 10 })
	l := r.cfg.Limits
	name := "f" + strings.Repeat("x", 2000)
	body := strings.Repeat("\tg()\n", (60<<10-len(name)*2)/5)
	src := "package main\n\n//go:noinline\nfunc g() {}\n\nfunc " + name + "() {\n" + body + "}\n\nfunc main() { " + name + "() }\n"
	peak0, _ := usageSelf(t)
	res := &result{}
	res.err = r.Run(context.Background(), &sandbox.Request{Mode: sandbox.ModeAsm, Files: map[string]string{"main.go": src}}, res.add)
	peak, _ := usageSelf(t)
	exit := res.exit(t)
	n := eventBytes(res.events)
	if int64(n) > l.AsmOutputBytes+4<<10 {
		t.Errorf("the events are %d bytes of JSON, want at most the asm output limit (%d) and an exit", n, l.AsmOutputBytes)
	}
	if exit.Reason != sandbox.ReasonOutput || !strings.Contains(exit.Msg, "cut after") {
		t.Errorf("exit %s: %q; want output-limit saying where the listing was cut", exit.Reason, exit.Msg)
	}
	if grew := peak - peak0; grew > 64<<20 {
		t.Errorf("racelab's peak memory grew by %d MiB for one listing", grew>>20)
	}
	t.Logf("%d bytes of events; %s", n, exit.Msg)
}

// runnerWith opens a runner of its own, on the state directory name beside
// the suite's, with the suite's limits changed by change. It is closed
// when the test ends.
func runnerWith(t testing.TB, name string, change func(*sandbox.Limits)) *Runner {
	return runnerOn(t, name, runner(t).cfg.Runtime, change)
}

// runnerOn is runnerWith on another OCI runtime.
func runnerOn(t testing.TB, name, runtime string, change func(*sandbox.Limits)) *Runner {
	base := runner(t)
	cfg := base.cfg
	cfg.Runtime = runtime
	cfg.StateDir = filepath.Join(filepath.Dir(base.cfg.StateDir), name)
	change(&cfg.Limits)
	r, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if left := r.Leftovers(); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
		r.Close()
	})
	return r
}

// A repeated request of a program that sleeps held its slot for up to
// repeat × (run timeout + grace): two of them, 18 minutes of both slots.
// Its runs now share the request's time budget, so it gives the slot back
// within the budget (and its build).
func TestRepeatCannotHoldASlot(t *testing.T) {
	t.Parallel() // a runner of its own, waiting on sleeps (see TestMain)
	r := runnerWith(t, "runc-budget", func(l *sandbox.Limits) { l.RequestTimeout = 4 * time.Second })
	req := &sandbox.Request{Repeat: 100, Files: main(`time.Sleep(time.Second)
	fmt.Println("slept")`, "fmt", "time")}
	res := &result{}
	start := time.Now()
	res.err = r.Run(context.Background(), req, res.add)
	took := time.Since(start)
	if res.err != nil {
		t.Fatal(res.err)
	}
	var build time.Duration
	for _, e := range res.events {
		if e.Kind == sandbox.KindBuild {
			build = time.Duration(e.Ms) * time.Millisecond
		}
	}
	if limit := build + 4*time.Second + 2*time.Second; took > limit {
		t.Errorf("the request held its slot %v, want at most its build, its 4s budget and 2s", took)
	}
	last := res.events[len(res.events)-1]
	if last.Kind != sandbox.KindSummary || last.Summary.Runs > 4 {
		t.Fatalf("last event %s (%+v), want the summary of at most 4 runs%s", last.Kind, last.Summary, res.dump())
	}
	exits := res.exits()
	if end := exits[len(exits)-1]; end.Reason != sandbox.ReasonTimeout || !strings.Contains(end.Msg, "may take 4s together") {
		t.Errorf("last exit %s: %q, want timeout saying the runs' time ran out", end.Reason, end.Msg)
	}
	t.Logf("%d runs in %v (build %v)", last.Summary.Runs, took.Round(time.Millisecond), build)
}
