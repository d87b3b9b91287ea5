// Package runner is racelab runner: a sandbox served over HTTP, with the
// protocol of sandbox/remote, for web tiers started with racelab serve
// --runner. It listens at once and answers /readyz with 503 until the
// sandbox is open (its warm cache built); a run sent meanwhile is
// refused with 503, which sends the client to another runner. On
// shutdown it drains: it takes no new runs and lets those in flight
// finish within a grace before it stops them.
package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/racelab/racelab/internal/gate"
	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/remote"
)

// The defaults of Config.
const (
	DefaultAddr          = "127.0.0.1:8081"
	DefaultShutdownGrace = 30 * time.Second
	// finalGrace is how long the streams of the runs stopped at the end
	// of the shutdown grace have to end, before their connections are
	// closed.
	finalGrace = 5 * time.Second
)

// Config sets up a runner.
type Config struct {
	Handler       remote.HandlerOptions // the protocol's limits and heartbeat; its Log is Log
	ShutdownGrace time.Duration         // on shutdown, how long runs in flight may go on before they are stopped
	Open          gate.Opener           // opens the sandbox
	Log           *slog.Logger          // default: nowhere
}

// service is one runner's handlers: the protocol, the probes, the metrics.
type service struct {
	gate    *gate.Runner
	metrics *counted
	handler http.Handler // remote.Handler of the counted gate
}

// Serve serves the sandbox that cfg.Open opens on ln until ctx is done
// or the sandbox cannot open, then shuts down in two steps: it refuses
// new runs and lets those in flight finish within the shutdown grace,
// then stops them (their streams end with an unavailable error, so the
// learner runs again on another runner). It returns why it stopped, or
// nil when ctx ended it.
func Serve(ctx context.Context, ln net.Listener, cfg Config) error {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg.Handler.Log = cfg.Log
	opening, failed := context.WithCancelCause(ctx)
	defer failed(nil)
	g := gate.Open(opening, cfg.Open, cfg.Log, failed)
	defer g.Close()
	s := &service{gate: g, metrics: newCounted(g, cfg.Log)}
	s.handler = remote.Handler(s.metrics, cfg.Handler) // one handler: DELETE /run/{id} finds the runs POST /run started
	// Runs get a context of their own, canceled only when the shutdown
	// grace runs out: a rolling update lets them finish first.
	runsCtx, stopRuns := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopRuns(nil)
	srv := &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute, // kept-alive connections of web tiers gone quiet
		BaseContext:       func(net.Listener) context.Context { return runsCtx },
		ErrorLog:          slog.NewLogLogger(cfg.Log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }() // ends with the shutdown below; Serve waits for it
	var err error
	serving := true
	select {
	case <-opening.Done():
		if ctx.Err() == nil {
			err = context.Cause(opening) // the sandbox did not open
		}
	case err = <-served:
		serving = false
	}
	g.Drain()
	shutdown(ctx, srv, cfg, stopRuns)
	if serving {
		<-served
	}
	return err
}

// shutdown shuts srv down, the runs in flight having the shutdown grace
// to finish; then it stops them and gives their streams a last moment to
// end. A Stop sent meanwhile cannot reach this runner (it no longer
// accepts); the web tier cuts the stream after its stop grace.
func shutdown(ctx context.Context, srv *http.Server, cfg Config, stopRuns context.CancelCauseFunc) {
	cfg.Log.Info("stopping", "grace", cfg.ShutdownGrace)
	defer cfg.Log.Info("stopped")
	graceCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownGrace)
	defer cancel()
	if srv.Shutdown(graceCtx) == nil {
		return
	}
	stopRuns(sandbox.ErrShuttingDown)
	finalCtx, cancelFinal := context.WithTimeout(context.WithoutCancel(ctx), finalGrace)
	defer cancelFinal()
	if srv.Shutdown(finalCtx) != nil {
		srv.Close()
	}
}

// routes registers every handler, in one place.
func (s *service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(remote.RunPath, s.handler)
	mux.Handle(remote.RunPath+"/", s.handler)
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{Registry: s.metrics.reg}))
	return mux
}

// handleHealth is /healthz: 200 while the process is up.
func (s *service) handleHealth(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintln(w, "ok")
}

// handleReady is /readyz: 200 while the runner takes runs, 503 with the
// reason before the sandbox is open and once shutdown began.
func (s *service) handleReady(w http.ResponseWriter, r *http.Request) {
	if err := s.gate.NotReady(); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}
