package driver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/internal/gotool"
	"github.com/racelab/racelab/sandbox/internal/stream"
)

// fake is a backend whose jobs do what the test says, and which records
// what the driver asked of it.
type fake struct {
	mu       sync.Mutex
	build    BuildResult
	buildErr error
	run      func(ctx context.Context, i int, out *stream.Output) (RunResult, error)
	files    map[string]string
	slots    []int
	closed   int
}

func (f *fake) Prepare(req *sandbox.Request, files map[string]string, slot int) (Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files, f.slots = files, append(f.slots, slot)
	return &fakeJob{f}, nil
}

type fakeJob struct{ f *fake }

func (j *fakeJob) Dir() string       { return "/work" }
func (j *fakeJob) TracePath() string { return "/nonexistent/" + gotool.TraceFile }
func (j *fakeJob) Use(binary string) {}
func (j *fakeJob) Build(ctx context.Context, out *stream.Output) (BuildResult, error) {
	return j.f.build, j.f.buildErr
}
func (j *fakeJob) Run(ctx context.Context, i int, out *stream.Output) (RunResult, error) {
	if j.f.run == nil {
		fmt.Fprintf(out.Stdout(), "run %d\n", i)
		return RunResult{}, nil
	}
	return j.f.run(ctx, i, out)
}
func (j *fakeJob) Close() {
	j.f.mu.Lock()
	defer j.f.mu.Unlock()
	j.f.closed++
}

// record runs req on a driver of f and returns the kinds of its events.
func record(t *testing.T, ctx context.Context, d *Driver, req *sandbox.Request) (string, []sandbox.Event, error) {
	t.Helper()
	var evs []sandbox.Event
	err := d.Run(ctx, req, func(e sandbox.Event) { evs = append(evs, e) })
	return kinds(evs), evs, err
}

func hello() map[string]string {
	return map[string]string{"main.go": "package main\n\nfunc main() { println(1) }\n"}
}

func TestDriverRuns(t *testing.T) {
	tests := []struct {
		name string
		req  sandbox.Request
		f    *fake
		want string
	}{
		{"once", sandbox.Request{Files: hello()}, &fake{}, "build stdout exit(exited 0)"},
		{"repeated", sandbox.Request{Files: hello(), Repeat: 3}, &fake{},
			"build stdout exit(exited 0) stdout exit(exited 0) stdout exit(exited 0) summary"},
		{"build failed", sandbox.Request{Files: hello()}, &fake{build: BuildResult{Status: 1, Output: "./main.go:1:1: x\n"}},
			"compile_error stderr exit(build-failed 1)"},
		{"build failed, repeated", sandbox.Request{Files: hello(), Repeat: 5}, &fake{build: BuildResult{Status: 1}},
			"exit(build-failed 1) summary"},
		{"vet", sandbox.Request{Files: hello(), Mode: sandbox.ModeVet}, &fake{}, "exit(exited 0)"},
		{"fmt", sandbox.Request{Files: hello(), Mode: sandbox.ModeFmt}, &fake{build: BuildResult{Files: hello()}},
			"fmt exit(exited 0)"},
		{"repeats end at a cancel", sandbox.Request{Files: hello(), Repeat: 4}, &fake{run: func(_ context.Context, i int, _ *stream.Output) (RunResult, error) {
			if i == 2 {
				return RunResult{Stopped: sandbox.ReasonCanceled, Code: 137, Signaled: true}, nil
			}
			return RunResult{}, nil
		}}, "build exit(exited 0) exit(canceled 137) summary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(tt.f, "/opt/go", sandbox.DefaultLimits(), 1)
			got, _, err := record(t, t.Context(), d, &tt.req)
			if err != nil || got != tt.want {
				t.Errorf("Run = %v, events %s; want nil, %s", err, got, tt.want)
			}
			if tt.f.closed != 1 {
				t.Errorf("job closed %d times, want once", tt.f.closed)
			}
		})
	}
}

func TestDriverRunNumbers(t *testing.T) {
	f := &fake{}
	_, evs, _ := record(t, t.Context(), New(f, "/opt/go", sandbox.DefaultLimits(), 1), &sandbox.Request{Files: hello(), Repeat: 2})
	var got []string
	for _, e := range evs {
		if e.Kind == sandbox.KindStdout || e.Kind == sandbox.KindExit {
			got = append(got, fmt.Sprintf("%s:%d", e.Kind, e.Run))
		}
	}
	if want := "stdout:1 exit:1 stdout:2 exit:2"; strings.Join(got, " ") != want {
		t.Errorf("run numbers %v, want %s", got, want)
	}
	_, evs, _ = record(t, t.Context(), New(f, "/opt/go", sandbox.DefaultLimits(), 1), &sandbox.Request{Files: hello()})
	for _, e := range evs {
		if e.Run != 0 {
			t.Errorf("%s event has run %d, want 0 for a request that does not repeat", e.Kind, e.Run)
		}
	}
}

func TestDriverSource(t *testing.T) {
	f := &fake{}
	goroutines := map[string]string{"main.go": "package main\n\nfunc main() {\n\tgo println(1)\n}\n"}
	record(t, t.Context(), New(f, "/opt/go", sandbox.DefaultLimits(), 1), &sandbox.Request{Files: goroutines, Mode: sandbox.ModeRace})
	if f.files["go.mod"] == "" || f.files[gotool.ExitSourceFile] == "" || !strings.Contains(f.files["main.go"], "defer racelabExit.Report()") ||
		!strings.Contains(f.files[gotool.OverlayFile], `"/opt/go/src/racelabexit/report.go"`) {
		t.Errorf("files given to the backend: %v, want go.mod, the exit package for the driver's GOROOT and main deferring its report", keys(f.files))
	}
	record(t, t.Context(), New(f, "/opt/go", sandbox.DefaultLimits(), 1), &sandbox.Request{Files: hello(), Mode: sandbox.ModeVet})
	if _, ok := f.files[gotool.ExitSourceFile]; ok {
		t.Errorf("vet got the exit wrapper: %v", keys(f.files))
	}
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestDriverBadRequest(t *testing.T) {
	f := &fake{}
	for _, req := range []*sandbox.Request{
		{},
		{Files: hello(), Mode: "compile"},
		{Files: hello(), Repeat: 2, Mode: sandbox.ModeVet},
		{Files: map[string]string{"main.go": "package main", "go.mod": "module m\nrequire x v1\n"}},
	} {
		got, _, err := record(t, t.Context(), New(f, "/opt/go", sandbox.DefaultLimits(), 1), req)
		if !errors.Is(err, sandbox.ErrBadRequest) || got != "" {
			t.Errorf("Run(%+v) = %v, events %q; want a bad request and no event", req, err, got)
		}
	}
	if len(f.slots) != 0 {
		t.Errorf("bad requests took slots %v", f.slots)
	}
}

// A request stopped while it waits for a slot ends with its canceled exit
// and, when it repeats, its summary: every repeated request ends so.
func TestDriverCanceledInLine(t *testing.T) {
	hold, release := make(chan struct{}), make(chan struct{})
	f := &fake{run: func(ctx context.Context, i int, out *stream.Output) (RunResult, error) {
		close(hold)
		<-release
		return RunResult{}, nil
	}}
	d := New(f, "/opt/go", sandbox.DefaultLimits(), 1)
	var wg sync.WaitGroup
	wg.Go(func() { record(t, t.Context(), d, &sandbox.Request{Files: hello()}) })
	<-hold
	for _, repeat := range []int{1, 3} {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		got, _, err := record(t, ctx, d, &sandbox.Request{Files: hello(), Repeat: repeat})
		want := "exit(canceled -1)"
		if repeat > 1 {
			want += " summary"
		}
		if err != nil || got != want {
			t.Errorf("repeat %d, canceled in line: Run = %v, %s; want nil, %s", repeat, err, got, want)
		}
	}
	close(release)
	wg.Wait()
	d.Wait()
	if len(f.slots) != 1 {
		t.Errorf("slots taken %v, want only the first run's", f.slots)
	}
}

// A stop between two executions ends the repeats with a canceled exit and
// the summary of those that ran.
func TestDriverCanceledBetweenRuns(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	f := &fake{run: func(_ context.Context, i int, out *stream.Output) (RunResult, error) {
		if i == 2 {
			cancel()
		}
		return RunResult{}, nil
	}}
	got, evs, err := record(t, ctx, New(f, "/opt/go", sandbox.DefaultLimits(), 1), &sandbox.Request{Files: hello(), Repeat: 5})
	if want := "build exit(exited 0) exit(exited 0) exit(canceled -1) summary"; err != nil || got != want {
		t.Fatalf("Run = %v, %s; want nil, %s", err, got, want)
	}
	if s := evs[len(evs)-1].Summary; s.Runs != 2 {
		t.Errorf("summary counts %d runs, want the 2 that ran", s.Runs)
	}
}

// A failure of the backend ends the stream without an exit or summary,
// and the job is still closed.
func TestDriverBackendError(t *testing.T) {
	boom := errors.New("runtime refused the bundle")
	for _, f := range []*fake{
		{buildErr: boom},
		{run: func(context.Context, int, *stream.Output) (RunResult, error) { return RunResult{}, boom }},
	} {
		got, _, err := record(t, t.Context(), New(f, "/opt/go", sandbox.DefaultLimits(), 1), &sandbox.Request{Files: hello(), Repeat: 2})
		if !errors.Is(err, boom) || strings.Contains(got, "exit") || strings.Contains(got, "summary") {
			t.Errorf("Run = %v, %s; want %v and neither exit nor summary", err, got, boom)
		}
		if f.closed != 1 {
			t.Errorf("job closed %d times, want once", f.closed)
		}
	}
}

// What a run printed before its backend failed goes out before the
// request ends: the start of a race report, which stream.Output holds
// back for its closing line, is not left to come after the error.
func TestDriverBackendErrorFlushes(t *testing.T) {
	const begun = "==================\nWARNING: DATA RACE\n"
	f := &fake{run: func(_ context.Context, _ int, out *stream.Output) (RunResult, error) {
		fmt.Fprint(out.Stderr(), begun)
		return RunResult{}, errors.New("the container is gone")
	}}
	got, evs, err := record(t, t.Context(), New(f, "/opt/go", sandbox.DefaultLimits(), 1), &sandbox.Request{Files: hello()})
	if err == nil || got != "build stderr" || evs[1].Data != begun {
		t.Errorf("Run = %v with events %s %+v; want the error, and the report's start before it", err, got, evs)
	}
}

// Views come from the program's complete standard error, before its exit.
func TestDriverViewsBeforeExit(t *testing.T) {
	f := &fake{run: func(_ context.Context, _ int, out *stream.Output) (RunResult, error) {
		fmt.Fprint(out.Stderr(), "fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 [chan receive]:\nmain.main()\n\t/work/main.go:4 +0x1d\nexit status 2\n")
		return RunResult{Code: 2}, nil
	}}
	got, _, _ := record(t, t.Context(), New(f, "/opt/go", sandbox.DefaultLimits(), 1), &sandbox.Request{Files: hello()})
	if want := "build stderr goroutines exit(exited 2)"; got != want {
		t.Errorf("events %s, want %s", got, want)
	}
}

// The runs of one request share a time budget: repeats stop when it is
// spent, a run under way is cut at its end (reason timeout, in words that
// say why), and the summary counts the runs that finished.
func TestDriverRequestBudget(t *testing.T) {
	l := sandbox.DefaultLimits()
	l.RunTimeout, l.RequestTimeout = 100*time.Millisecond, 250*time.Millisecond
	t.Run("spent between runs", func(t *testing.T) {
		f := &fake{run: func(ctx context.Context, i int, out *stream.Output) (RunResult, error) {
			time.Sleep(60 * time.Millisecond) // shorter than a run may take
			return RunResult{}, nil
		}}
		got, evs, err := record(t, t.Context(), New(f, "/opt/go", l, 1), &sandbox.Request{Files: hello(), Repeat: 100})
		last := evs[len(evs)-2]
		if err != nil || !strings.HasSuffix(got, "exit(timeout -1) summary") || !strings.Contains(last.Msg, "may take 250ms together") {
			t.Fatalf("Run = %v, %s (last exit %q); want the budget's exit and the summary", err, got, last.Msg)
		}
		if n := evs[len(evs)-1].Summary.Runs; n < 3 || n > 5 {
			t.Errorf("summary of %d runs, want the 4 or so that fit in 250ms", n)
		}
	})
	t.Run("cut during a run", func(t *testing.T) {
		f := &fake{run: func(ctx context.Context, i int, out *stream.Output) (RunResult, error) {
			<-ctx.Done() // a run that waits to be stopped
			return RunResult{Stopped: sandbox.ReasonCanceled, Code: 137, Signaled: true}, nil
		}}
		start := time.Now()
		got, evs, err := record(t, t.Context(), New(f, "/opt/go", l, 1), &sandbox.Request{Files: hello(), Repeat: 100})
		if err != nil || got != "build exit(timeout 137) summary" {
			t.Fatalf("Run = %v, %s; want one run cut by the budget, then the summary", err, got)
		}
		if msg := evs[1].Msg; !strings.Contains(msg, "ran out in run 1 of 100") {
			t.Errorf("exit message %q, want it to say the budget ran out in run 1", msg)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("the request took %v, want about its 250ms budget", took)
		}
	})
}

// TestDriverTraced: a traced request is built with the trace wrapper, and
// its timeline comes just before the exit; when the program wrote no
// trace, the timeline says so instead of drawing nothing.
func TestDriverTraced(t *testing.T) {
	f := &fake{}
	d := New(f, "/opt/go", sandbox.DefaultLimits(), 1)
	got, evs, err := record(t, context.Background(), d, &sandbox.Request{Files: hello(), Trace: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := "build stdout timeline exit(exited 0)"; got != want {
		t.Fatalf("events = %s, want %s", got, want)
	}
	if _, ok := f.files[gotool.TraceWrapFile]; !ok {
		t.Errorf("the traced build has no %s", gotool.TraceWrapFile)
	}
	tl := evs[2].Timeline
	if tl == nil || len(tl.Goroutines) != 0 || !strings.HasPrefix(tl.Cut, "no timeline: the program wrote no trace") {
		t.Errorf("timeline = %+v, want none, saying the program wrote no trace", tl)
	}
}
