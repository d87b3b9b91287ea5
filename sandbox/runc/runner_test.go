package runc

import (
	"cmp"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/racelab/racelab/sandbox"
)

// outcome is what one table case expects of a run.
type outcome struct {
	reason     sandbox.Reason
	orReason   sandbox.Reason // another acceptable reason, when the kernel may end it either way
	code       int            // checked when reason is exited or build-failed
	stdout     []string
	stderr     []string
	notStdout  []string // output that must never appear (a secret, a marker)
	diagLine   int      // a compile_error event on main.go at this line
	buildEvent bool     // a build event precedes the program's output
	// stuckInMain: the goroutines event shows goroutine 1 in main.main
	// in main.go (not at a line: the compiler gives the back jump of
	// "for {}" line 1). The runtime may instead print "running on other
	// thread; stack unavailable" for it when the thread does not stop
	// within the few milliseconds it waits (seen under gVisor on a busy
	// host); the event must then say so (Elsewhere).
	stuckInMain bool
	// peakAtMost bounds the container's peak memory in the exit event
	// (when it reports one), whatever the reason.
	peakAtMost int64
}

func (o outcome) check(t *testing.T, res *result) {
	t.Helper()
	ex := res.exit(t)
	if ex.Reason != o.reason && (o.orReason == "" || ex.Reason != o.orReason) {
		t.Errorf("exit reason = %q, want %q (msg %q)%s", ex.Reason, o.reason, ex.Msg, res.dump())
	}
	if (ex.Reason == sandbox.ReasonExited || ex.Reason == sandbox.ReasonBuildFailed) && ex.Code != o.code {
		t.Errorf("exit code = %d, want %d%s", ex.Code, o.code, res.dump())
	}
	if ex.Msg == "" {
		t.Errorf("exit event has no msg")
	}
	stdout, stderr := res.text(sandbox.KindStdout), res.text(sandbox.KindStderr)
	for _, s := range o.stdout {
		if !strings.Contains(stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, clip(stdout))
		}
	}
	for _, s := range o.stderr {
		if !strings.Contains(stderr, s) && ex.Reason != sandbox.ReasonOutput {
			t.Errorf("stderr lacks %q:\n%s", s, clip(stderr))
		}
	}
	for _, s := range o.notStdout {
		if strings.Contains(stdout+stderr, s) {
			t.Errorf("output contains %q, which must not be reachable:\n%s", s, clip(stdout+stderr))
		}
	}
	if o.diagLine > 0 && !hasDiag(res, o.diagLine) {
		t.Errorf("no compile_error event at main.go:%d%s", o.diagLine, res.dump())
	}
	if o.buildEvent {
		checkBuildFirst(t, res)
	}
	if o.stuckInMain {
		checkStuckMain(t, res)
	}
	if o.peakAtMost > 0 && ex.PeakBytes > o.peakAtMost {
		t.Errorf("peak memory %d bytes, over the %d allowed", ex.PeakBytes, o.peakAtMost)
	}
}

// checkStuckMain checks that the run's goroutines event has goroutine 1
// first, in main.main in main.go, or running on another thread with the
// runtime's words for it in stderr.
func checkStuckMain(t *testing.T, res *result) {
	t.Helper()
	evs := views(t, res, sandbox.KindGoroutines)
	if len(evs) != 1 || len(evs[0].Goroutines) == 0 {
		t.Fatalf("want one goroutines event with goroutine 1%s", res.dump())
	}
	g := evs[0].Goroutines[0]
	switch {
	case g.ID != 1:
		t.Errorf("first goroutine is %d, want 1", g.ID)
	case g.Elsewhere:
		if !strings.Contains(res.text(sandbox.KindStderr), "goroutine running on other thread; stack unavailable") {
			t.Errorf("goroutine 1 is elsewhere, but stderr does not say so:\n%s", clip(res.text(sandbox.KindStderr)))
		}
		t.Logf("goroutine 1 was running on another thread: the runtime printed no stack for it")
	case g.Top == nil || g.Top.File != "main.go" || g.Top.Func != "main.main":
		t.Errorf("goroutine 1 = %+v (top %+v), want it in main.main in main.go%s", g, g.Top, res.dump())
	}
}

func hasDiag(res *result, line int) bool {
	for _, e := range res.events {
		if e.Kind == sandbox.KindCompileError && e.File == "main.go" && e.Line == line {
			return true
		}
	}
	return false
}

func checkBuildFirst(t *testing.T, res *result) {
	t.Helper()
	for _, e := range res.events {
		switch e.Kind {
		case sandbox.KindBuild:
			// The container's start is measured, and is part of the build
			// (a program built earlier has neither).
			if !e.Cached && (e.StartMs <= 0 || e.StartMs > e.Ms) {
				t.Errorf("build event start_ms %d of ms %d: want 0 < start_ms <= ms%s", e.StartMs, e.Ms, res.dump())
			}
			return
		case sandbox.KindStdout, sandbox.KindStderr:
			t.Errorf("program output before the build event%s", res.dump())
			return
		}
	}
	t.Errorf("no build event%s", res.dump())
}

func clip(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}

func TestModes(t *testing.T) {
	tests := []struct {
		name  string
		mode  sandbox.Mode
		files map[string]string
		want  outcome
	}{
		{"hello", sandbox.ModeRun, main(`fmt.Println("hello, racelab")`, "fmt"),
			outcome{reason: sandbox.ReasonExited, stdout: []string{"hello, racelab\n"}, buildEvent: true}},
		{"exit status", sandbox.ModeRun, main(`os.Exit(3)`, "os"),
			outcome{reason: sandbox.ReasonExited, code: 3}},
		{"racy counter", sandbox.ModeRace, racyCounter(t),
			outcome{reason: sandbox.ReasonExited, code: 66, stderr: []string{"WARNING: DATA RACE", "main.go:"}, buildEvent: true}},
		{"deadlock", sandbox.ModeRun, main(`ch := make(chan int); <-ch`),
			outcome{reason: sandbox.ReasonExited, code: 2, stderr: []string{"fatal error: all goroutines are asleep - deadlock!"}}},
		{"panic", sandbox.ModeRun, main(`panic("boom")`),
			outcome{reason: sandbox.ReasonExited, code: 2, stderr: []string{"panic: boom", "goroutine 1 [running]"}}},
		{"endless loop", sandbox.ModeRun, main(`for {}`),
			outcome{reason: sandbox.ReasonTimeout, stderr: []string{"SIGQUIT: quit", "goroutine 1 "}, stuckInMain: true}},
		{"blocked server", sandbox.ModeRun, main(`go func() { for { time.Sleep(time.Millisecond) } }(); select {}`, "time"),
			outcome{reason: sandbox.ReasonTimeout, stderr: []string{"select (no cases)"}}},
		{"compile error", sandbox.ModeRun, map[string]string{"main.go": "package main\n\nfunc main() {\n\tx := 1\n}\n"},
			outcome{reason: sandbox.ReasonBuildFailed, code: 1, diagLine: 4, stderr: []string{"declared and not used: x"}}},
		{"asm", sandbox.ModeAsm, main(`fmt.Println(1)`, "fmt"),
			outcome{reason: sandbox.ReasonExited}},
		{"test", sandbox.ModeTest, withTest(`func TestAdd(t *testing.T) { if 1+1 != 2 { t.Fatal("math") } }`),
			outcome{reason: sandbox.ReasonExited, stdout: []string{"=== RUN   TestAdd", "--- PASS: TestAdd", "PASS"}}},
		{"racy test", sandbox.ModeTest, withTest(`func TestRace(t *testing.T) {
	n := 0
	done := make(chan bool)
	go func() { n++; done <- true }()
	n++
	<-done
}`), outcome{reason: sandbox.ReasonExited, code: 1, stderr: []string{"WARNING: DATA RACE"}, stdout: []string{"--- FAIL: TestRace"}}},
		{"bench", sandbox.ModeBench, withTest(`func BenchmarkAlloc(b *testing.B) { for i := 0; i < b.N; i++ { _ = make([]byte, 64) } }`),
			outcome{reason: sandbox.ReasonExited, stdout: []string{"BenchmarkAlloc", "ns/op", "B/op", "allocs/op"}}},
		{"vet", sandbox.ModeVet, map[string]string{"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Printf(\"%d\\n\", \"x\")\n}\n"},
			outcome{reason: sandbox.ReasonExited, code: 1, diagLine: 6}},
		{"vet clean", sandbox.ModeVet, main(`fmt.Println(1)`, "fmt"),
			outcome{reason: sandbox.ReasonExited}},
		{"fmt", sandbox.ModeFmt, map[string]string{"main.go": "package main\nfunc main(){\nprintln( 1 )}\n"},
			outcome{reason: sandbox.ReasonExited}},
		{"go.mod go 1.99", sandbox.ModeRun, map[string]string{"go.mod": "module m\n\ngo 1.99\n", "main.go": "package main\n\nfunc main() {}\n"},
			outcome{reason: sandbox.ReasonBuildFailed, code: 1, stderr: []string{"GOTOOLCHAIN=local"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each checks its own run; two wait out the run timeout
			res := runReq(t, context.Background(), &sandbox.Request{Mode: tt.mode, Files: tt.files})
			tt.want.check(t, res)
		})
	}
}

func TestAsmListing(t *testing.T) {
	res := runSrc(t, sandbox.ModeAsm, "package main\n\nimport \"sync/atomic\"\n\nvar n int64\n\nfunc main() {\n\tatomic.AddInt64(&n, 1)\n}\n")
	res.exit(t)
	var lines []sandbox.AsmLine
	for _, e := range res.events {
		if e.Kind == sandbox.KindAsm {
			lines = append(lines, e.Lines...)
		}
	}
	var mainLine8, lock, noise bool
	fn := "" // a function's name comes on its first line only
	for _, l := range lines {
		fn = cmp.Or(l.Func, fn)
		mainLine8 = mainLine8 || (fn == "main.main" && l.File == "main.go" && l.Line == 8)
		lock = lock || strings.HasPrefix(l.Text, "LOCK")
		noise = noise || l.Noise
	}
	if !mainLine8 || !lock || !noise {
		t.Errorf("asm listing: main.main at main.go:8 %v, LOCK instruction %v, noise marked %v; want all true (%d lines)",
			mainLine8, lock, noise, len(lines))
	}
}

// An atomic store compiles to XCHGQ on amd64 and to STLR on arm64: the
// asm mode cross-compiles the listing for the architecture asked for.
func TestAsmArchitectures(t *testing.T) {
	src := "package main\n\nimport \"sync/atomic\"\n\nvar n int64\n\nfunc main() {\n\tatomic.StoreInt64(&n, 1)\n}\n"
	for arch, want := range map[string]string{"amd64": "XCHGQ", "arm64": "STLR"} {
		res := runReq(t, context.Background(), &sandbox.Request{Mode: sandbox.ModeAsm, GOARCH: arch, Files: map[string]string{"main.go": src}})
		outcome{reason: sandbox.ReasonExited}.check(t, res)
		found := false
		for _, e := range res.events {
			for _, l := range e.Lines {
				found = found || (strings.HasPrefix(l.Text, want) && l.File == "main.go" && l.Line == 8)
			}
		}
		if !found {
			t.Errorf("%s: no %s at main.go:8 in the listing%s", arch, want, res.dump())
		}
	}
}

func TestFmtReturnsSource(t *testing.T) {
	res := runSrc(t, sandbox.ModeFmt, "package main\nfunc main(){\nprintln( 1 )}\n")
	res.exit(t)
	want := "package main\n\nfunc main() {\n\tprintln(1)\n}\n"
	for _, e := range res.events {
		if e.Kind == sandbox.KindFmt {
			if got := e.Files["main.go"]; got != want {
				t.Errorf("fmt main.go = %q, want %q", got, want)
			}
			return
		}
	}
	t.Errorf("no fmt event%s", res.dump())
}

func TestGOMAXPROCS(t *testing.T) {
	for _, n := range []int{1, 3} {
		res := runReq(t, context.Background(), &sandbox.Request{GOMAXPROCS: n,
			Files: main(`fmt.Println(runtime.GOMAXPROCS(0))`, "fmt", "runtime")})
		res.exit(t)
		if got, want := strings.TrimSpace(res.text(sandbox.KindStdout)), itoa(n); got != want {
			t.Errorf("gomaxprocs %d: program printed %q", n, got)
		}
	}
}

func TestRepeat(t *testing.T) {
	res := runReq(t, context.Background(), &sandbox.Request{Mode: sandbox.ModeRace, Repeat: 5, Files: racyCounter(t)})
	if res.err != nil {
		t.Fatal(res.err)
	}
	exits := res.exits()
	if len(exits) != 5 {
		t.Fatalf("got %d exit events, want 5%s", len(exits), res.dump())
	}
	for i, e := range exits {
		if e.Run != i+1 {
			t.Errorf("exit %d has run %d, want %d", i, e.Run, i+1)
		}
	}
	last := res.events[len(res.events)-1]
	if last.Kind != sandbox.KindSummary || last.Summary == nil {
		t.Fatalf("last event is %s, want summary", last.Kind)
	}
	s := last.Summary
	// The racy counter races on every run; the detector reports it on
	// nearly all of them. Require at least one, and consistent counts.
	if s.Runs != 5 || s.Races < 1 || s.Reasons[sandbox.ReasonExited] != 5 {
		t.Errorf("summary = %+v, want 5 runs, ≥1 race, 5 exited", s)
	}
	total := 0
	for _, o := range s.Outputs {
		total += o.Count
	}
	if total != 5 {
		t.Errorf("output counts add up to %d, want 5", total)
	}
}

func TestStreamsBeforeExit(t *testing.T) {
	type stamp struct {
		ev sandbox.Event
		at time.Time
	}
	var mu sync.Mutex
	var got []stamp
	req := &sandbox.Request{Files: main(`fmt.Println("first"); time.Sleep(time.Second); fmt.Println("second")`, "fmt", "time")}
	err := runner(t).Run(context.Background(), req, func(e sandbox.Event) {
		mu.Lock()
		got = append(got, stamp{e, time.Now()})
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	var first, exit *stamp
	for i := range got {
		switch {
		case got[i].ev.Kind == sandbox.KindStdout && first == nil:
			first = &got[i]
		case got[i].ev.Kind == sandbox.KindExit:
			exit = &got[i]
		}
	}
	if first == nil || exit == nil {
		t.Fatalf("missing stdout or exit: %+v", got)
	}
	if gap := exit.at.Sub(first.at); gap < 800*time.Millisecond {
		t.Errorf("first line arrived %v before exit, want ≥ 800ms: output is not streamed", gap)
	}
	if first.ev.Data != "first\n" {
		t.Errorf("first chunk = %q, want %q", first.ev.Data, "first\n")
	}
}

func TestBadRequests(t *testing.T) {
	tests := []struct {
		name string
		req  sandbox.Request
	}{
		{"no files", sandbox.Request{}},
		{"unknown mode", sandbox.Request{Mode: "explode", Files: main(``)}},
		{"dot dot", sandbox.Request{Files: map[string]string{"../main.go": "package main"}}},
		{"slash", sandbox.Request{Files: map[string]string{"a/main.go": "package main"}}},
		{"nul", sandbox.Request{Files: map[string]string{"ma\x00in.go": "package main"}}},
		{"not go", sandbox.Request{Files: map[string]string{"main.c": "int main(){}"}}},
		{"too many files", sandbox.Request{Files: manyFiles(21)}},
		{"too big", sandbox.Request{Files: map[string]string{"main.go": strings.Repeat("/", 65<<10)}}},
		{"not utf-8", sandbox.Request{Files: map[string]string{"main.go": "package main\n// \xff\xfe\n"}}},
		{"repeat too large", sandbox.Request{Repeat: 101, Files: main(``)}},
		{"repeat with vet", sandbox.Request{Mode: sandbox.ModeVet, Repeat: 2, Files: main(``)}},
		{"test without tests", sandbox.Request{Mode: sandbox.ModeTest, Files: main(``)}},
		{"gomaxprocs negative", sandbox.Request{GOMAXPROCS: -1, Files: main(``)}},
		{"go.mod require", sandbox.Request{Files: map[string]string{"go.mod": "module m\n\ngo 1.26\n\nrequire example.com/x v1.0.0\n", "main.go": "package main\nfunc main(){}\n"}}},
		{"go.mod toolchain", sandbox.Request{Files: map[string]string{"go.mod": "module m\n\ngo 1.26\ntoolchain go1.99.0\n", "main.go": "package main\nfunc main(){}\n"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n int
			start := time.Now()
			err := runner(t).Run(context.Background(), &tt.req, func(sandbox.Event) { n++ })
			if !errors.Is(err, sandbox.ErrBadRequest) {
				t.Errorf("Run = %v, want an error wrapping ErrBadRequest", err)
			}
			if n != 0 {
				t.Errorf("bad request emitted %d events, want none", n)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("rejecting took %v, want it at once", d)
			}
		})
	}
}

func TestCancelMidRun(t *testing.T) {
	r := runner(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var canceledAt time.Time
	var mu sync.Mutex
	var events []sandbox.Event
	req := &sandbox.Request{Files: main(`fmt.Println("started"); time.Sleep(time.Minute)`, "fmt", "time")}
	err := r.Run(ctx, req, func(e sandbox.Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e)
		if e.Kind == sandbox.KindStdout && canceledAt.IsZero() {
			canceledAt = time.Now()
			cancel()
		}
	})
	took := time.Since(canceledAt)
	if err != nil {
		t.Fatal(err)
	}
	if canceledAt.IsZero() {
		t.Fatalf("the program never printed: %+v", events)
	}
	if took > time.Second {
		t.Errorf("Run returned %v after cancel, want < 1s", took)
	}
	if last := events[len(events)-1]; last.Kind != sandbox.KindExit || last.Reason != sandbox.ReasonCanceled {
		t.Errorf("last event = %+v, want exit with reason canceled", last)
	}
	if left := r.Leftovers(); len(left) > 0 {
		t.Errorf("after cancel, left behind: %v", left)
	}
	if procs := sandboxProcesses(r); len(procs) > 0 {
		t.Errorf("after cancel, sandbox processes still run: %v", procs)
	}
}

func TestConcurrentRuns(t *testing.T) {
	const n = 6
	var wg sync.WaitGroup
	results := make([]*result, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runReq(t, context.Background(), &sandbox.Request{Mode: sandbox.ModeRace,
				Files: main(`fmt.Println("run", `+itoa(i)+`)`, "fmt")})
		}()
	}
	wg.Wait()
	for i, res := range results {
		if res.err != nil {
			t.Errorf("run %d: %v", i, res.err)
			continue
		}
		if got, want := res.text(sandbox.KindStdout), "run "+itoa(i)+"\n"; got != want {
			t.Errorf("run %d printed %q, want %q; its events:\n%s", i, got, want, res.dump())
		}
	}
}

// main returns a main.go whose main function has body, importing imports.
func main(body string, imports ...string) map[string]string {
	var b strings.Builder
	b.WriteString("package main\n\n")
	for _, imp := range imports {
		b.WriteString("import \"" + imp + "\"\n")
	}
	b.WriteString("\nfunc main() {\n\t" + body + "\n}\n")
	return map[string]string{"main.go": b.String()}
}

func withTest(test string) map[string]string {
	return map[string]string{
		"main.go":      "package main\n\nfunc main() {}\n",
		"main_test.go": "package main\n\nimport \"testing\"\n\n" + test + "\n",
	}
}

func manyFiles(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m["f"+itoa(i)+".go"] = "package main\n"
	}
	return m
}

func itoa(i int) string { // strconv.Itoa, kept short for table literals
	if i < 0 {
		return "-" + itoa(-i)
	}
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// The program gets Limits.CPUs cores (1 in the defaults) however many
// threads it runs, while its exit event reports CPU time and peak memory.
func TestCPUAndMemoryAccounting(t *testing.T) {
	// Its two threads spin until the program has used 1.5 s of CPU by its
	// own account (getrusage), not for a time: beside the other packages'
	// tests a program that spun for 1.5 s of wall time got as little as
	// 0.4 s of CPU. What it used is checked, not how fast it got it, so it
	// runs with a 30 s limit.
	r := roomy(t)
	res := runOn(t, r, context.Background(), &sandbox.Request{GOMAXPROCS: 2, Files: main(`var wg sync.WaitGroup
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = 1
	}
	used := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for used() < 1500*time.Millisecond {
			}
		}()
	}
	wg.Wait()
	fmt.Println(len(buf), used().Milliseconds())`, "fmt", "sync", "syscall", "time")})
	ex := res.exit(t)
	if ex.Reason != sandbox.ReasonExited {
		t.Fatalf("exit %+v", ex)
	}
	t.Logf("cpu_ms %d, wall %d ms, peak %d MiB; the program says %q", ex.CPUMs, ex.Ms, ex.PeakBytes>>20, res.text(sandbox.KindStdout))
	// Two spinning threads would use two cores without the limit; with
	// one core they take at least as long as the CPU they use, and the
	// report counts at least what the program counted itself. gVisor's
	// getrusage counts more than the host's cgroup does (1.5 s against
	// 1.3 s measured).
	least := int64(1400)
	if gvisor() {
		least = 1000
	}
	if max := int64(float64(ex.Ms) * (r.cfg.Limits.CPUs + 0.25)); ex.CPUMs > max || ex.CPUMs < least {
		t.Errorf("cpu_ms = %d over %d ms wall; want between %d and %d (the program used 1.5 s; limit %.1f cores)", ex.CPUMs, ex.Ms, least, max, r.cfg.Limits.CPUs)
	}
	if ex.PeakBytes < 64<<20 || ex.PeakBytes > r.cfg.Limits.MemoryBytes {
		t.Errorf("peak_bytes = %d, want between 64 MiB (the program's buffer) and the limit", ex.PeakBytes)
	}
}

// golang.org/x/sync is provided offline: a program imports errgroup with
// no go.mod of its own and builds inside the container, with no network.
func TestProvidedModule(t *testing.T) {
	res := runSrc(t, sandbox.ModeRace, `package main

import (
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"
)

func main() {
	var g errgroup.Group
	g.Go(func() error { return nil })
	g.Go(func() error { return errors.New("server 2 failed") })
	fmt.Println("first error:", g.Wait())
}
`)
	outcome{reason: sandbox.ReasonExited, stdout: []string{"first error: server 2 failed"}}.check(t, res)
}

// Resolving the provided module prints notes from the go command; they
// are not the program's output and must not reach the learner as such.
func TestProvidedModuleQuiet(t *testing.T) {
	res := runSrc(t, sandbox.ModeRun, "package main\n\nimport (\n\t\"fmt\"\n\n\t\"golang.org/x/sync/errgroup\"\n)\n\nfunc main() {\n\tvar g errgroup.Group\n\tfmt.Println(g.Wait())\n}\n")
	outcome{reason: sandbox.ReasonExited, stdout: []string{"<nil>"}}.check(t, res)
	if s := res.text(sandbox.KindStderr); strings.Contains(s, "go: ") {
		t.Errorf("stderr carries the go command's notes: %q", s)
	}
}
