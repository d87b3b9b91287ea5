// Package driver carries one request through a sandbox backend, the same
// way on every backend: it checks the request, lays out its source, takes
// a slot, builds, runs the program once or repeatedly, and emits the
// build's results, each run's views and exit event, and the summary of a
// repeated request. A backend supplies only what differs between them:
// where the files go and how a build or one execution is started,
// supervised and measured (Backend and Job). What an ending means to the
// learner is decided here, by pure functions (outcome.go).
package driver

import (
	"context"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/internal/bincache"
	"github.com/racelab/racelab/sandbox/internal/gotool"
	"github.com/racelab/racelab/sandbox/internal/stream"
)

// Backend is what a sandbox backend supplies to the driver.
type Backend interface {
	// Prepare lays out the run of req in slot (0 to the concurrency − 1,
	// never used by two runs at once): files are the sources to build,
	// go.mod and the exit wrapper included.
	Prepare(req *sandbox.Request, files map[string]string, slot int) (Job, error)
}

// Job is one request's build and executions on a backend. The driver
// calls Build once, then Run for each execution while the build allows,
// then Close; never two of them at once.
type Job interface {
	// Dir is the directory the sources are built in, as the toolchain
	// prints it in positions (to map them back to the submitted files).
	Dir() string
	// Build runs the build step and reports how it ended. out is where
	// execution 1 prints, for a backend that starts it in the build's
	// container. An error means the backend itself failed.
	Build(ctx context.Context, out *stream.Output) (BuildResult, error)
	// Run executes the built program as execution i (from 1), printing
	// to out, and reports how it ended.
	Run(ctx context.Context, i int, out *stream.Output) (RunResult, error)
	// Use says the program was built earlier, and is the file at the host
	// path binary, which the job must not change: Build is not called,
	// and Run runs that file.
	Use(binary string)
	// TracePath is the host path of the file a traced program's
	// execution 1 writes its trace to (gotool.TraceFile in the directory
	// it starts in).
	TracePath() string
	// Close ends what is left of the job and removes its files.
	Close()
}

// Driver runs requests on one backend, at most a fixed number at once.
type Driver struct {
	backend   Backend
	limits    sandbox.Limits
	slots     chan int       // free slot indexes
	active    sync.WaitGroup // runs going on; Wait waits for them
	goroot    string         // the toolchain's GOROOT, as the backend's builds see it
	cache     *bincache.Cache
	toolchain string
	parser    string // the executable that parses traces: racelab itself (see tracing.Run)
}

// New returns a driver of backend that runs at most concurrency requests
// at once, each within limits; the backend builds with the toolchain at
// goroot (the path its builds see).
func New(backend Backend, goroot string, limits sandbox.Limits, concurrency int) *Driver {
	// A traced run's trace is parsed by racelab's own executable, in a
	// child process; without one (it cannot fail on Linux) the timeline
	// event says the trace could not be parsed.
	exe, _ := os.Executable()
	d := &Driver{backend: backend, goroot: goroot, limits: limits, slots: make(chan int, concurrency), parser: exe}
	for i := range concurrency {
		d.slots <- i
	}
	return d
}

// UseCache makes the driver keep the programs it builds in c, by keys that
// name toolchain as what builds them (a change of it must change the
// string). Call it before the first Run.
func (d *Driver) UseCache(c *bincache.Cache, toolchain string) {
	d.cache, d.toolchain = c, toolchain
}

// Fill gives a backend's limits and concurrency their defaults (the zero
// Limits are sandbox.DefaultLimits, and 0 is one run per core) and checks
// the limits.
func Fill(l *sandbox.Limits, concurrency *int) error {
	if *l == (sandbox.Limits{}) {
		*l = sandbox.DefaultLimits()
	}
	if *concurrency <= 0 {
		*concurrency = runtime.NumCPU()
	}
	return l.Check()
}

// Wait returns once no run is going on; cancel their contexts first to
// end them quickly.
func (d *Driver) Wait() { d.active.Wait() }

// Run carries out req; see sandbox.Runner. emit is called from one
// goroutine at a time.
func (d *Driver) Run(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
	if err := Check(req, d.limits); err != nil {
		return err
	}
	emit = serialize(emit)
	d.active.Add(1)
	defer d.active.Done()
	r := newRun(req, d.limits, emit)
	r.parser = d.parser
	files := gotool.Source(req.Files, req.Mode, gotool.TracingOf(req, d.limits), d.goroot)
	// The cache first: a request that waits for another's build of the
	// same program needs no slot meanwhile.
	c, err := d.lookup(ctx, req, files)
	if err != nil {
		r.stopped()
		return nil
	}
	defer c.done()
	var slot int
	select {
	case slot = <-d.slots:
	case <-ctx.Done():
		r.stopped()
		return nil
	}
	defer func() { d.slots <- slot }()
	job, err := d.backend.Prepare(req, files, slot)
	if err != nil {
		return err
	}
	defer job.Close()
	return r.execute(ctx, job, c)
}

// Check normalizes req and checks it against the limits: the error wraps
// sandbox.ErrBadRequest and says what to change.
func Check(req *sandbox.Request, l sandbox.Limits) error {
	req.Normalize()
	if err := req.Validate(l); err != nil {
		return err
	}
	if mod, ok := req.Files["go.mod"]; ok {
		return gotool.CheckGoMod(mod)
	}
	return nil
}

// serialize makes emit safe to call from several goroutines at once (the
// output pumps and the supervisor), one event at a time.
func serialize(emit func(sandbox.Event)) func(sandbox.Event) {
	var mu sync.Mutex
	return func(e sandbox.Event) {
		mu.Lock()
		defer mu.Unlock()
		emit(e)
	}
}

// run is one request on its way through a job.
type run struct {
	req    *sandbox.Request
	limits sandbox.Limits
	emit   func(sandbox.Event)
	tally  *stream.Tally // nil unless the request repeats
	parser string        // see Driver.parser
}

func newRun(req *sandbox.Request, l sandbox.Limits, emit func(sandbox.Event)) *run {
	r := &run{req: req, limits: l, emit: emit}
	if req.Repeat > 1 {
		r.tally = stream.NewTally()
	}
	return r
}

// execute builds once (or takes the program built earlier), then runs the program Repeat times, stopping early
// when a run is canceled or the runs have spent the request's time
// budget (Limits.RequestTimeout, for all of them together). A repeated
// request always ends with its summary (of the runs that finished), also
// when the build failed or it was stopped; an error from the backend ends
// it without one.
func (r *run) execute(ctx context.Context, job Job, c cached) error {
	out := r.output(1)
	// However execute ends, nothing printed is still held back after it
	// (stream.Output holds an unfinished race report for up to a second),
	// so no output event can follow the request's last event. After a
	// run that ended, out is flushed already and this does nothing.
	defer func() { out.Flush() }()
	b, err := c.build(ctx, job, out)
	if err != nil {
		return err
	}
	evs, runs := AfterBuild(b, r.req.Mode, r.limits, r.index(1), job.Dir())
	for _, e := range evs {
		r.emit(e)
	}
	budget, spent := context.WithTimeout(ctx, r.limits.RequestTimeout)
	defer spent()
	for i := 1; runs && i <= r.req.Repeat; i++ {
		if i > 1 {
			if !r.goOn(ctx, budget, i) {
				break
			}
			out = r.output(i)
		}
		if runs, err = r.runOnce(ctx, budget, job, i, out); err != nil {
			return err
		}
	}
	r.summarize()
	return nil
}

// goOn reports whether run i may start; when not, it says why with an
// exit event, as a run stopped midway would.
func (r *run) goOn(ctx, budget context.Context, i int) bool {
	switch {
	case ctx.Err() != nil: // stopped between two runs
		r.emit(Canceled(r.req, r.limits))
	case budget.Err() != nil:
		r.emit(sandbox.Event{Kind: sandbox.KindExit, Code: -1, Reason: sandbox.ReasonTimeout,
			Msg: gotool.BudgetSpent(i-1, r.req.Repeat, r.limits)})
	default:
		return true
	}
	return false
}

// runOnce runs execution i within the budget of ctx's runs and emits what
// its standard error shows (races, stuck goroutines) and its exit event.
// It reports whether the repeats may go on.
func (r *run) runOnce(ctx, budget context.Context, job Job, i int, out *stream.Output) (bool, error) {
	start := time.Now()
	out.Restart(start)
	res, err := job.Run(budget, i, out)
	if err != nil {
		return false, err
	}
	if res.Stopped == sandbox.ReasonCanceled && ctx.Err() == nil && budget.Err() != nil {
		// Not the client's stop: the budget of the request's runs ran out.
		res.Stopped, res.OverBudget = sandbox.ReasonTimeout, true
	}
	out.Flush()
	ev := ExitEvent(res, r.index(i), time.Since(start).Milliseconds(), r.req.Mode, r.limits)
	if res.OverBudget {
		ev.Msg = gotool.BudgetSpent(i, r.req.Repeat, r.limits)
	}
	stdout, stderr := out.Text()
	if r.req.Trace && i == 1 && ev.Reason != sandbox.ReasonCanceled {
		r.emit(sandbox.Event{Kind: sandbox.KindTimeline, Timeline: r.timeline(ctx, job, ev.Reason)})
	}
	gotool.EmitViews(r.emit, r.index(i), stderr, ev.Reason == sandbox.ReasonTimeout, r.req.Files, job.Dir())
	r.emit(ev)
	if r.tally != nil {
		r.tally.Add(stdout, gotool.HasRace(stderr), ev)
	}
	return ev.Reason != sandbox.ReasonCanceled && !res.OverBudget, nil
}

// stopped ends a request stopped before it could start: its canceled exit
// and, when it repeats, its (empty) summary.
func (r *run) stopped() {
	r.emit(Canceled(r.req, r.limits))
	r.summarize()
}

// summarize emits the summary of a repeated request.
func (r *run) summarize() {
	if r.tally != nil {
		r.emit(sandbox.Event{Kind: sandbox.KindSummary, Summary: r.tally.Summary()})
	}
}

// output returns the output of execution i: its events carry the run
// number, and it stops at the mode's limit.
func (r *run) output(i int) *stream.Output {
	return stream.New(r.emit, r.index(i), r.limits.OutputFor(r.req.Mode), time.Now())
}

// index is the run number put on events: 0 unless the request repeats.
func (r *run) index(i int) int {
	if r.req.Repeat > 1 {
		return i
	}
	return 0
}

// Canceled is the exit event of a request stopped before or between runs.
func Canceled(req *sandbox.Request, l sandbox.Limits) sandbox.Event {
	return sandbox.Event{Kind: sandbox.KindExit, Code: -1, Reason: sandbox.ReasonCanceled,
		Msg: gotool.Explain(sandbox.ReasonCanceled, -1, req.Mode, l)}
}
