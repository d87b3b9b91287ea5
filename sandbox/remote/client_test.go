package remote_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/remote"
)

// fakeRunner plays a backend: it checks the request, then emits events
// (one per run of a repeat), waiting between them for hold or its context.
type fakeRunner struct {
	name    string
	hold    chan struct{} // when set, each run waits here (or for ctx) before its exit
	started chan string   // when set, receives name as a run starts
	ignore  bool          // keep running when ctx ends
	runs    atomic.Int64
	refuse  error // returned before any event
}

func (f *fakeRunner) Run(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
	if f.refuse != nil {
		return f.refuse
	}
	req.Normalize() // as every backend does first
	if err := req.Validate(sandbox.DefaultLimits()); err != nil {
		return err
	}
	f.runs.Add(1)
	if f.started != nil {
		f.started <- f.name
	}
	finished := 0
	for i := 1; i <= req.Repeat; i++ {
		run := 0
		if req.Repeat > 1 {
			run = i
		}
		emit(sandbox.Event{Kind: sandbox.KindStdout, Run: run, Data: "hello from " + f.name + "\n"})
		if f.hold != nil {
			select {
			case <-f.hold:
			case <-ctx.Done():
				if !f.ignore {
					emit(sandbox.Event{Kind: sandbox.KindExit, Run: run, Code: -1, Reason: sandbox.ReasonCanceled, Msg: "stopped by " + f.name})
					i = req.Repeat
					continue
				}
				<-f.hold
			}
		}
		emit(sandbox.Event{Kind: sandbox.KindExit, Run: run, Reason: sandbox.ReasonExited, Ms: 3})
		finished++
	}
	if req.Repeat > 1 {
		emit(sandbox.Event{Kind: sandbox.KindSummary, Summary: &sandbox.Summary{Runs: finished}})
	}
	return nil
}

func serveRunner(t *testing.T, r sandbox.Runner, o remote.HandlerOptions) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(remote.Handler(r, o))
	t.Cleanup(srv.Close)
	return srv
}

func newClient(t *testing.T, o remote.ClientOptions, urls ...string) *remote.Client {
	t.Helper()
	c, err := remote.NewClient(urls, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func hello() *sandbox.Request {
	return &sandbox.Request{Files: map[string]string{"main.go": "package main\n\nfunc main() {}\n"}}
}

// collect runs req and returns its events and error.
func collect(ctx context.Context, c sandbox.Runner, req *sandbox.Request) ([]sandbox.Event, error) {
	var mu sync.Mutex
	var evs []sandbox.Event
	err := c.Run(ctx, req, func(e sandbox.Event) {
		mu.Lock()
		defer mu.Unlock()
		evs = append(evs, e)
	})
	mu.Lock()
	defer mu.Unlock()
	return evs, err
}

// TestClientPassesEventsThrough: what the runner emits is what the
// client's caller gets, field for field, including a large asm listing.
func TestClientPassesEventsThrough(t *testing.T) {
	lines := make([]sandbox.AsmLine, 20000)
	for i := range lines {
		lines[i] = sandbox.AsmLine{Func: "main.main", Offset: i, File: "main.go", Line: 7, Text: "MOVQ AX, (CX)"}
	}
	want := []sandbox.Event{
		{Kind: sandbox.KindBuild, Ms: 120},
		{Kind: sandbox.KindStdout, Data: "héllo\n", TMs: 4},
		{Kind: sandbox.KindRace, Race: &sandbox.RaceReport{Raw: "WARNING: DATA RACE\n"}},
		{Kind: sandbox.KindAsm, Lines: lines},
		{Kind: sandbox.KindExit, Code: 66, Reason: sandbox.ReasonExited, Msg: "raced", Ms: 10, CPUMs: 9, PeakBytes: 1 << 20},
	}
	runner := sandbox.RunnerFunc(func(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
		for _, e := range want {
			emit(e)
		}
		return nil
	})
	srv := serveRunner(t, runner, remote.HandlerOptions{})
	got, err := collect(t.Context(), newClient(t, remote.ClientOptions{}, srv.URL), hello())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events differ: got %d events, want %d; first: %+v", len(got), len(want), got[0])
	}
}

// TestClientBadRequest: a request the runner refuses comes back as an
// error wrapping ErrBadRequest with the runner's words, before any event.
func TestClientBadRequest(t *testing.T) {
	srv := serveRunner(t, &fakeRunner{name: "a"}, remote.HandlerOptions{})
	c := newClient(t, remote.ClientOptions{}, srv.URL)
	req := hello()
	req.Mode = "sing"
	evs, err := collect(t.Context(), c, req)
	if !errors.Is(err, sandbox.ErrBadRequest) || !strings.Contains(err.Error(), `unknown mode "sing"`) {
		t.Fatalf("err = %v, want a bad request naming the mode", err)
	}
	if strings.Count(err.Error(), "bad request") != 1 {
		t.Errorf("err = %q says bad request more than once", err)
	}
	if len(evs) != 0 {
		t.Errorf("events = %v, want none", evs)
	}
}

// TestClientSpreadsRuns: runs going at once go to the runner with fewer
// runs in flight, so two runners share a class.
func TestClientSpreadsRuns(t *testing.T) {
	hold := make(chan struct{})
	started := make(chan string, 8)
	a := &fakeRunner{name: "a", hold: hold, started: started}
	b := &fakeRunner{name: "b", hold: hold, started: started}
	c := newClient(t, remote.ClientOptions{}, serveRunner(t, a, remote.HandlerOptions{}).URL, serveRunner(t, b, remote.HandlerOptions{}).URL)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() { _, errs[i] = collect(t.Context(), c, hello()) })
		<-started // one at a time, so that each sees the others in flight
	}
	close(hold)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if a.runs.Load() != 3 || b.runs.Load() != 3 {
		t.Errorf("runs: a %d, b %d; want 3 each", a.runs.Load(), b.runs.Load())
	}
}

// TestClientSkipsUnavailableRunners: a runner that cannot be reached or
// answers 503 (starting) is passed over; the run goes to the next one.
// With none left the error wraps ErrUnavailable.
func TestClientSkipsUnavailableRunners(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	starting := serveRunner(t, &fakeRunner{name: "starting", refuse: sandbox.ErrUnavailable}, remote.HandlerOptions{}).URL
	ok := &fakeRunner{name: "ok"}
	c := newClient(t, remote.ClientOptions{}, closed, starting, serveRunner(t, ok, remote.HandlerOptions{}).URL)
	for i := range 4 {
		evs, err := collect(t.Context(), c, hello())
		if err != nil || len(evs) != 2 || evs[0].Data != "hello from ok\n" {
			t.Fatalf("run %d: events %v, err %v; want the ok runner's", i, evs, err)
		}
	}
	down := newClient(t, remote.ClientOptions{}, closed, starting)
	_, err = collect(t.Context(), down, hello())
	if !errors.Is(err, sandbox.ErrUnavailable) || errors.Is(err, sandbox.ErrRunnerLost) {
		t.Fatalf("err = %v, want ErrUnavailable (not lost: nothing ran)", err)
	}
	if !strings.Contains(err.Error(), "2 runner(s) tried") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err = %q, want it to say what was tried and why", err)
	}
}

// TestClientRunnerLost: a runner that goes away mid-run leaves its client
// with the events so far and an error wrapping ErrRunnerLost; the next run
// goes to the survivor.
func TestClientRunnerLost(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	dying := httptest.NewServer(remote.Handler(&fakeRunner{name: "dying", hold: hold}, remote.HandlerOptions{}))
	defer dying.Close()
	survivor := &fakeRunner{name: "survivor"}
	c := newClient(t, remote.ClientOptions{}, dying.URL, serveRunner(t, survivor, remote.HandlerOptions{}).URL)
	type result struct {
		evs []sandbox.Event
		err error
	}
	// Runs go to the survivor or the dying runner in turns; the survivor's
	// end at once, the dying runner's waits (after its first output).
	done := make(chan result, 1)
	firstOut := make(chan struct{}, 1)
	for waiting := true; waiting; {
		go func() {
			var evs []sandbox.Event
			err := c.Run(t.Context(), hello(), func(e sandbox.Event) {
				evs = append(evs, e)
				if e.Data == "hello from dying\n" {
					firstOut <- struct{}{}
				}
			})
			done <- result{evs, err}
		}()
		select {
		case <-firstOut:
			waiting = false
		case r := <-done:
			if r.err != nil || r.evs[0].Data != "hello from survivor\n" {
				t.Fatalf("run before the loss: %v, %v", r.evs, r.err)
			}
		}
	}
	dying.CloseClientConnections()
	r := <-done
	if !errors.Is(r.err, sandbox.ErrRunnerLost) || !errors.Is(r.err, sandbox.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrRunnerLost", r.err)
	}
	if len(r.evs) != 1 || r.evs[0].Data != "hello from dying\n" {
		t.Errorf("events = %v, want the output before the loss", r.evs)
	}
	dying.Close()
	for range 3 {
		evs, err := collect(t.Context(), c, hello())
		if err != nil || evs[0].Data != "hello from survivor\n" {
			t.Fatalf("after the loss: %v, %v; want the survivor's run", evs, err)
		}
	}
}

// TestClientStop: a run whose context ends is stopped on its runner,
// which ends the stream as a stopped run ends (its canceled exit, the
// summary of the runs that finished).
func TestClientStop(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	started := make(chan string, 1)
	srv := serveRunner(t, &fakeRunner{name: "a", hold: hold, started: started}, remote.HandlerOptions{})
	c := newClient(t, remote.ClientOptions{StopGrace: 10 * time.Second}, srv.URL)
	ctx, cancel := context.WithCancel(t.Context())
	req := hello()
	req.Repeat = 3
	go func() { <-started; time.Sleep(20 * time.Millisecond); cancel() }()
	start := time.Now()
	evs, err := collect(ctx, c, req)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stopping took %v: the runner was not told", d)
	}
	if n := len(evs); n != 3 || evs[1].Msg != "stopped by a" || evs[2].Kind != sandbox.KindSummary {
		t.Fatalf("events = %+v, want output, the runner's canceled exit and its summary", evs)
	}
}

// TestClientStopGrace: a runner that does not stop within the grace has
// its stream cut, and the client ends the run as stopped itself.
func TestClientStopGrace(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	started := make(chan string, 1)
	srv := serveRunner(t, &fakeRunner{name: "a", hold: hold, started: started, ignore: true}, remote.HandlerOptions{})
	c := newClient(t, remote.ClientOptions{StopGrace: 100 * time.Millisecond}, srv.URL)
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-started; cancel() }()
	start := time.Now()
	evs, err := collect(ctx, c, hello())
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the stream was cut after %v, want about the 100 ms grace", d)
	}
	last := evs[len(evs)-1]
	if last.Kind != sandbox.KindExit || last.Reason != sandbox.ReasonCanceled {
		t.Fatalf("last event %+v, want a canceled exit", last)
	}
}

// TestClientHeartbeat: a run that is silent for longer than the idle
// timeout is fine while the runner sends heartbeats; a runner that sends
// nothing at all is taken for lost after the idle timeout.
func TestClientHeartbeat(t *testing.T) {
	slow := sandbox.RunnerFunc(func(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
		time.Sleep(1500 * time.Millisecond)
		emit(sandbox.Event{Kind: sandbox.KindExit, Reason: sandbox.ReasonExited})
		return nil
	})
	srv := serveRunner(t, slow, remote.HandlerOptions{Heartbeat: 50 * time.Millisecond})
	c := newClient(t, remote.ClientOptions{IdleTimeout: 500 * time.Millisecond}, srv.URL)
	if evs, err := collect(t.Context(), c, hello()); err != nil || len(evs) != 1 {
		t.Fatalf("silent run with heartbeats: %v, %v", evs, err)
	}

	hung := make(chan struct{})
	mute := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select {
		case <-hung:
		case <-r.Context().Done():
		}
	}))
	defer mute.Close()
	defer close(hung)
	c = newClient(t, remote.ClientOptions{IdleTimeout: 300 * time.Millisecond}, mute.URL)
	start := time.Now()
	_, err := collect(t.Context(), c, hello())
	if !errors.Is(err, sandbox.ErrRunnerLost) || !strings.Contains(err.Error(), "nothing heard") {
		t.Fatalf("err = %v, want the runner lost after the idle timeout", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the lost runner was noticed after %v", d)
	}
}

// TestClientSlowReader: the idle timeout times the runner, not the
// caller: a caller slow to take events (a learner's slow connection) is
// not a lost runner.
func TestClientSlowReader(t *testing.T) {
	chatty := sandbox.RunnerFunc(func(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
		for range 3 {
			emit(sandbox.Event{Kind: sandbox.KindStdout, Data: "x\n"})
		}
		emit(sandbox.Event{Kind: sandbox.KindExit, Reason: sandbox.ReasonExited})
		return nil
	})
	c := newClient(t, remote.ClientOptions{IdleTimeout: 200 * time.Millisecond}, serveRunner(t, chatty, remote.HandlerOptions{}).URL)
	n := 0
	err := c.Run(t.Context(), hello(), func(sandbox.Event) { n++; time.Sleep(300 * time.Millisecond) })
	if err != nil || n != 4 {
		t.Fatalf("slow reader: %d events, err %v; want 4 and no error", n, err)
	}
}

// TestClientEndOfStream: a stream that ends cleanly ends the run, with or
// without the summary a repeat usually has (a build that failed); one
// that ends cleanly without any exit means the runner failed.
func TestClientEndOfStream(t *testing.T) {
	buildFailed := sandbox.RunnerFunc(func(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
		emit(sandbox.Event{Kind: sandbox.KindCompileError, File: "main.go", Line: 3, Msg: "undefined: x"})
		emit(sandbox.Event{Kind: sandbox.KindExit, Code: 1, Reason: sandbox.ReasonBuildFailed})
		return nil
	})
	c := newClient(t, remote.ClientOptions{}, serveRunner(t, buildFailed, remote.HandlerOptions{}).URL)
	req := hello()
	req.Repeat = 3
	if evs, err := collect(t.Context(), c, req); err != nil || len(evs) != 2 {
		t.Fatalf("a repeat whose build failed: %v, %v; want its two events and no error", evs, err)
	}
	noExit := sandbox.RunnerFunc(func(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
		emit(sandbox.Event{Kind: sandbox.KindStdout, Data: "x"})
		return nil
	})
	c = newClient(t, remote.ClientOptions{}, serveRunner(t, noExit, remote.HandlerOptions{}).URL)
	if _, err := collect(t.Context(), c, hello()); !errors.Is(err, sandbox.ErrRunnerLost) {
		t.Fatalf("a stream without an exit: err %v, want ErrRunnerLost", err)
	}
}

// TestNewClientChecksURLs: a mistyped runner URL is refused with words
// that say what to give.
func TestNewClientChecksURLs(t *testing.T) {
	for _, urls := range [][]string{nil, {"localhost:8081"}, {"ftp://x"}, {"http://"}, {"http://a:1", "http://a:1/"}, {"http://a:1/?x=1"}} {
		if _, err := remote.NewClient(urls, remote.ClientOptions{}); err == nil {
			t.Errorf("NewClient(%q) succeeded", urls)
		}
	}
	c, err := remote.NewClient([]string{"http://10.0.0.1:8081/", "https://runner.example/racelab"}, remote.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Runners(); !reflect.DeepEqual(got, []string{"http://10.0.0.1:8081", "https://runner.example/racelab"}) {
		t.Errorf("Runners() = %q", got)
	}
}

// TestClientResolvesRunners: a runner URL whose host name resolves to
// several addresses (a headless Service's ready pods) is a runner per
// address: runs spread over them, each is sent with the URL's host
// name, a Stop reaches the runner that has the run, and a new
// resolution brings a new runner in.
func TestClientResolvesRunners(t *testing.T) {
	// Two runners on the same port of two loopback addresses.
	var lnA, lnB net.Listener
	for try := 0; lnB == nil; try++ {
		a, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(a.Addr().String())
		if b, err := net.Listen("tcp", "127.0.0.2:"+port); err == nil {
			lnA, lnB = a, b
		} else if a.Close(); try > 20 {
			t.Fatalf("no port free on both 127.0.0.1 and 127.0.0.2: %v", err)
		}
	}
	_, port, _ := net.SplitHostPort(lnA.Addr().String())
	hold := make(chan struct{})
	started := make(chan string, 8)
	a := &fakeRunner{name: "a", hold: hold, started: started}
	b := &fakeRunner{name: "b", hold: hold, started: started}
	var hosts sync.Map
	serve := func(ln net.Listener, r sandbox.Runner) {
		h := remote.Handler(r, remote.HandlerOptions{})
		srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			hosts.Store(req.Host, true)
			h.ServeHTTP(w, req)
		})}}
		srv.Start()
		t.Cleanup(srv.Close)
	}
	serve(lnA, a)
	serve(lnB, b)
	var mu sync.Mutex
	addrs := []string{"127.0.0.1"}
	resolve := func(ctx context.Context, host string) ([]string, error) {
		if host != "runners.test" {
			return nil, errors.New("no such host")
		}
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(addrs), nil
	}
	c := newClient(t, remote.ClientOptions{Resolve: resolve, Refresh: time.Millisecond, StopGrace: 10 * time.Second}, "http://runners.test:"+port)

	// One address: the first run goes to a.
	var wg sync.WaitGroup
	wg.Go(func() {
		if evs, err := collect(t.Context(), c, hello()); err != nil || evs[0].Data != "hello from a\n" {
			t.Errorf("before b: %v, %v", evs, err)
		}
	})
	if name := <-started; name != "a" {
		t.Fatalf("the first run went to %s", name)
	}
	// b joins; runs at once spread over both.
	mu.Lock()
	addrs = []string{"127.0.0.2", "127.0.0.1"}
	mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	for range 4 {
		wg.Go(func() {
			if _, err := collect(t.Context(), c, hello()); err != nil {
				t.Error(err)
			}
		})
		<-started
	}
	close(hold)
	wg.Wait()
	if ra, rb := a.runs.Load(), b.runs.Load(); ra+rb != 5 || ra < 2 || rb < 2 {
		t.Errorf("runs: a %d, b %d; want 5 spread by load (2 or 3 each)", ra, rb)
	}
	if _, ok := hosts.Load("runners.test:" + port); !ok {
		t.Errorf("hosts sent: want runners.test:%s", port)
	}
	hosts.Range(func(k, _ any) bool {
		if k != "runners.test:"+port {
			t.Errorf("a request was sent with Host %v", k)
		}
		return true
	})
}

// TestClientStopReachesResolvedRunner: Stop goes to the address that has
// the run, which ends its stream with its own canceled exit.
func TestClientStopReachesResolvedRunner(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	started := make(chan string, 1)
	srv := serveRunner(t, &fakeRunner{name: "a", hold: hold, started: started}, remote.HandlerOptions{})
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	resolve := func(ctx context.Context, host string) ([]string, error) { return []string{"127.0.0.1"}, nil }
	c := newClient(t, remote.ClientOptions{Resolve: resolve, StopGrace: 10 * time.Second}, "http://runner.test:"+port)
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-started; cancel() }()
	evs, err := collect(ctx, c, hello())
	if err != nil || len(evs) != 2 || evs[1].Msg != "stopped by a" {
		t.Fatalf("events %+v, err %v; want the runner's own canceled exit", evs, err)
	}
}

// TestClientKeepsAddresses: a host name that stops resolving (a DNS
// hiccup), or a run whose context is already over when a resolution is
// due, does not lose the runners: the last good addresses stay.
func TestClientKeepsAddresses(t *testing.T) {
	srv := serveRunner(t, &fakeRunner{name: "a"}, remote.HandlerOptions{})
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	var lookups atomic.Int64
	resolve := func(ctx context.Context, host string) ([]string, error) {
		if lookups.Add(1) == 1 {
			return []string{"127.0.0.1"}, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New("server misbehaving")
	}
	c := newClient(t, remote.ClientOptions{Resolve: resolve, Refresh: time.Millisecond}, "http://runner.test:"+port)
	for i := range 4 {
		if i == 2 {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			time.Sleep(2 * time.Millisecond)
			if evs, err := collect(ctx, c, hello()); err != nil || evs[len(evs)-1].Reason != sandbox.ReasonCanceled {
				t.Fatalf("a run already stopped: %v, %v", evs, err)
			}
		}
		time.Sleep(2 * time.Millisecond)
		if evs, err := collect(t.Context(), c, hello()); err != nil || evs[0].Data != "hello from a\n" {
			t.Fatalf("run %d after %d lookups: %v, %v", i, lookups.Load(), evs, err)
		}
	}
	if lookups.Load() < 3 {
		t.Errorf("%d lookups, want a new one for each due refresh", lookups.Load())
	}
}

// TestClientStoppedRepeatEndsWithSummary: a repeated request stopped
// before any runner took it ends as every repeated request does: its
// canceled exit, then a summary (of no runs); a single run ends with the
// exit alone.
func TestClientStoppedRepeatEndsWithSummary(t *testing.T) {
	c := newClient(t, remote.ClientOptions{}, serveRunner(t, &fakeRunner{name: "a"}, remote.HandlerOptions{}).URL)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, repeat := range []int{1, 3} {
		req := hello()
		req.Repeat = repeat
		evs, err := collect(ctx, c, req)
		if err != nil || len(evs) == 0 || evs[0].Kind != sandbox.KindExit || evs[0].Reason != sandbox.ReasonCanceled {
			t.Fatalf("repeat %d: events %+v, err %v; want a canceled exit first", repeat, evs, err)
		}
		if last := evs[len(evs)-1]; !last.Ends(req) {
			t.Errorf("repeat %d: the last event %+v does not end the run", repeat, last)
		}
		if repeat > 1 && (len(evs) != 2 || evs[1].Kind != sandbox.KindSummary || evs[1].Summary.Runs != 0) {
			t.Errorf("repeat %d: events %+v, want the canceled exit and a summary of no runs", repeat, evs)
		}
	}
}

// TestClientRunDeadline: a runner whose run wedges keeps sending
// heartbeats, and held the learner for ever. Each run now has a deadline
// from the limits (its build, all its runs, a grace, and slack): past it,
// the runner is asked to stop the run and the learner is told the runner
// was lost.
func TestClientRunDeadline(t *testing.T) {
	stopped := make(chan struct{})
	wedged := sandbox.RunnerFunc(func(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
		emit(sandbox.Event{Kind: sandbox.KindBuild, Ms: 1})
		<-ctx.Done() // only a stop ends it
		close(stopped)
		return nil
	})
	srv := serveRunner(t, wedged, remote.HandlerOptions{Heartbeat: 50 * time.Millisecond})
	l := sandbox.DefaultLimits()
	l.BuildTimeout, l.RunTimeout, l.RequestTimeout, l.KillGrace = 200*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond, 0
	c := newClient(t, remote.ClientOptions{IdleTimeout: 500 * time.Millisecond, Limits: l, Slack: 100 * time.Millisecond}, srv.URL)
	start := time.Now()
	evs, err := collect(t.Context(), c, hello())
	if !errors.Is(err, sandbox.ErrRunnerLost) || !strings.Contains(err.Error(), "deadline (600ms)") {
		t.Fatalf("err = %v (events %v), want the runner lost past the run's 600ms deadline", err, evs)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the wedged run ended after %v, want about its 600ms deadline", d)
	}
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Error("the runner was not asked to stop the wedged run")
	}
}
