package runner

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/racelab/racelab/internal/gate"
	"github.com/racelab/racelab/internal/runmetrics"
	"github.com/racelab/racelab/sandbox"
)

// counted is a runner's sandbox with Prometheus metrics, in a registry
// of its own, and a log line per run.
type counted struct {
	gate     *gate.Runner
	log      *slog.Logger
	reg      *prometheus.Registry
	runs     *runmetrics.Runs
	inflight prometheus.Gauge
}

func newCounted(g *gate.Runner, log *slog.Logger) *counted {
	c := &counted{
		gate: g,
		log:  log,
		reg:  prometheus.NewRegistry(),
		runs: runmetrics.New("racelab_runner_"),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "racelab_runner_requests_in_flight",
			Help: "Requests running or waiting for a slot on this runner."}),
	}
	ready := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "racelab_runner_ready",
		Help: "1 when the runner takes runs."}, func() float64 {
		if g.NotReady() == nil {
			return 1
		}
		return 0
	})
	c.reg.MustRegister(c.runs.Collectors()...)
	c.reg.MustRegister(c.inflight, ready,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return c
}

// Run runs req through the gate, counting it and its events.
func (c *counted) Run(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
	c.inflight.Inc()
	defer c.inflight.Dec()
	start := time.Now()
	var exit sandbox.Event
	err := c.gate.Run(ctx, req, func(e sandbox.Event) {
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
