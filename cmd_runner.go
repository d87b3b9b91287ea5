package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/racelab/racelab/internal/runmetrics"
	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/local"
	"github.com/racelab/racelab/sandbox/remote"
)

// The defaults of racelab runner.
const (
	defaultRunnerAddr  = "127.0.0.1:8081"
	defaultRunnerGrace = 30 * time.Second
)

// cmdRunner serves the sandbox over HTTP for web tiers started with
// racelab serve --runner (remote.Handler's protocol). It listens at once
// and answers /readyz with 503 until the sandbox is open (its warm cache
// built); a run sent meanwhile is refused with 503, which sends the
// client to another runner.
func cmdRunner(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("racelab runner", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var backend backendFlags
	var opt remote.HandlerOptions
	addr := fs.String("addr", defaultRunnerAddr, "listen `address`; the protocol has no authentication, so only the web tier may reach it")
	fs.Int64Var(&opt.MaxBodyBytes, "max-body", remote.DefaultHandlerMaxBody, "`bytes` of one request")
	fs.DurationVar(&opt.WriteTimeout, "write-timeout", remote.DefaultHandlerWrite, "stop a run whose web tier reads nothing for this `long`")
	fs.DurationVar(&opt.Heartbeat, "heartbeat", remote.DefaultHeartbeat, "send a heartbeat after this `long` without an event, so the web tier can tell a silent run from a lost runner")
	grace := fs.Duration("shutdown-grace", defaultRunnerGrace, "on SIGTERM, how `long` runs in flight may go on before they are stopped")
	backend.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: racelab runner [flags]\n\nRun code for web tiers started with racelab serve --runner URL.\n\nflags:\n")
		printDefaults(fs.Output(), fs)
	}
	if code, ok := parseFlags(fs, args, &backend); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "racelab runner: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if opt.MaxBodyBytes <= 0 || opt.WriteTimeout <= 0 || *grace < 0 {
		fmt.Fprintf(stderr, "racelab runner: -max-body and -write-timeout must be positive, -shutdown-grace not negative\n")
		return 2
	}
	if opt.Heartbeat < remote.MinHeartbeat {
		fmt.Fprintf(stderr, "racelab runner: -heartbeat must be at least %v (and well below the web tier's -runner-idle, %v by default)\n", remote.MinHeartbeat, remote.DefaultIdleTimeout)
		return 2
	}
	if backend.name == "local" {
		if err := local.CheckListenAddr(*addr); err != nil {
			fmt.Fprintf(stderr, "racelab runner: %v\n", err)
			return 2
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	opt.Log = log
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "racelab runner: %v\n", err)
		return 1
	}
	defer ln.Close()

	g := &gate{}
	c := newCounted(g, func() bool { return g.notReady() == nil }, log)
	// Runs get a context of their own, canceled only when the shutdown
	// grace runs out: a rolling update lets them finish first.
	runsCtx, stopRuns := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopRuns(nil)
	mux := http.NewServeMux()
	runs := remote.Handler(c, opt) // one handler: DELETE /run/{id} finds the runs POST /run started
	mux.Handle(remote.RunPath, runs)
	mux.Handle(remote.RunPath+"/", runs)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", g.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(c.reg, promhttp.HandlerOpts{Registry: c.reg}))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return runsCtx },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(stdout, "racelab runner is listening at http://%s/ (sandbox: %s); ready once the sandbox is open\n", ln.Addr(), backend.name)

	var wg sync.WaitGroup
	serveErr := make(chan error, 1)
	wg.Go(func() { serveErr <- srv.Serve(ln) })
	// The sandbox opens while the runner already answers /healthz; a
	// failure to open it ends the runner.
	openCtx, cancelOpen := context.WithCancel(ctx)
	defer cancelOpen()
	openErr := make(chan error, 1)
	var closeRunner func() // set before opened is closed
	opened := make(chan struct{})
	wg.Go(func() {
		defer close(opened)
		r, closeR, err := backend.open(openCtx, stderr)
		if err != nil {
			openErr <- err
			return
		}
		closeRunner = closeR
		g.open(r)
		log.Info("ready")
	})

	code := 0
	served := false
	select {
	case <-ctx.Done():
	case err := <-openErr:
		if ctx.Err() == nil {
			fmt.Fprintf(stderr, "racelab runner: %v\n", err)
			code = 1
		}
	case err := <-serveErr:
		fmt.Fprintf(stderr, "racelab runner: %v\n", err)
		served, code = true, 1
	}

	// Shutdown: refuse new runs (a client tries another runner), let the
	// runs in flight finish within the grace, then stop them.
	g.drain()
	cancelOpen()
	log.Info("stopping", "grace", *grace)
	graceCtx, cancelGrace := context.WithTimeout(context.WithoutCancel(ctx), *grace)
	if err := srv.Shutdown(graceCtx); err != nil {
		// Their streams end with the canceled exit and an unavailable
		// error: the learners are told to run again, on another runner.
		// A Stop sent now cannot reach this runner (it no longer
		// accepts); its web tier cuts the stream after the stop grace.
		stopRuns(sandbox.ErrShuttingDown)
		finalCtx, cancelFinal := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if srv.Shutdown(finalCtx) != nil {
			srv.Close()
		}
		cancelFinal()
	}
	cancelGrace()
	<-opened
	if closeRunner != nil {
		closeRunner()
	}
	if !served {
		<-serveErr
	}
	wg.Wait()
	log.Info("stopped")
	return code
}

// gate is the runner behind a handler while the sandbox opens: it refuses
// runs with sandbox.ErrNotReady until the sandbox is open, and once
// shutdown began, so that /readyz and the runs agree.
type gate struct {
	runner   atomic.Pointer[sandbox.Runner]
	draining atomic.Bool
}

func (g *gate) open(r sandbox.Runner) { g.runner.Store(&r) }
func (g *gate) drain()                { g.draining.Store(true) }

// notReady says why the gate takes no runs now, or nil.
func (g *gate) notReady() error {
	switch {
	case g.draining.Load():
		return fmt.Errorf("%w: stopping", sandbox.ErrUnavailable)
	case g.runner.Load() == nil:
		return fmt.Errorf("%w: opening the sandbox (a first start builds its warm cache)", sandbox.ErrNotReady)
	}
	return nil
}

func (g *gate) readyz(w http.ResponseWriter, r *http.Request) {
	if err := g.notReady(); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

func (g *gate) Run(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
	if err := g.notReady(); err != nil {
		return err
	}
	return (*g.runner.Load()).Run(ctx, req, emit)
}

// counted is a runner's runner with Prometheus metrics and a log line
// per run.
type counted struct {
	runner   sandbox.Runner
	ready    func() bool
	log      *slog.Logger
	reg      *prometheus.Registry
	runs     *runmetrics.Runs
	inflight prometheus.Gauge
}

func newCounted(r sandbox.Runner, ready func() bool, log *slog.Logger) *counted {
	c := &counted{
		runner: r,
		log:    log,
		reg:    prometheus.NewRegistry(),
		runs:   runmetrics.New("racelab_runner_"),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "racelab_runner_requests_in_flight",
			Help: "Requests running or waiting for a slot on this runner."}),
	}
	readyGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "racelab_runner_ready",
		Help: "1 when the runner takes runs."}, func() float64 {
		if ready() {
			return 1
		}
		return 0
	})
	c.reg.MustRegister(c.runs.Collectors()...)
	c.reg.MustRegister(c.inflight, readyGauge,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return c
}

func (c *counted) Run(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
	c.inflight.Inc()
	defer c.inflight.Dec()
	start := time.Now()
	var exit sandbox.Event
	err := c.runner.Run(ctx, req, func(e sandbox.Event) {
		if e.Kind == sandbox.KindExit {
			exit = e
		}
		c.runs.Observe(req.Mode, e)
		emit(e)
	})
	if errors.Is(err, sandbox.ErrUnavailable) {
		return err // refused: the client tries another runner
	}
	c.log.Info("run", "mode", req.Mode, "repeat", req.Repeat, "reason", exit.Reason, "code", exit.Code,
		"run_ms", exit.Ms, "total_ms", time.Since(start).Milliseconds(), "err", err)
	return err
}
