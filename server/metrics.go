package server

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/racelab/racelab/sandbox"
)

// metrics are the server's Prometheus metrics, in a registry of its own
// (no global state: two servers in one process do not share counters).
type metrics struct {
	reg      *prometheus.Registry
	runs     *prometheus.CounterVec   // by mode and exit reason
	errors   *prometheus.CounterVec   // requests that never ran, by reason
	wait     prometheus.Histogram     // time in the admission queue
	build    prometheus.Histogram     // the build step, as the sandbox reports it
	start    prometheus.Histogram     // of it, the container's start
	run      *prometheus.HistogramVec // wall time of one execution, by mode
	sockets  prometheus.GaugeFunc
	running  prometheus.GaugeFunc
	queueLen prometheus.GaugeFunc
}

func newMetrics(s *Server) *metrics {
	buckets := []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	m := &metrics{
		reg: prometheus.NewRegistry(),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "racelab_runs_total",
			Help: "Executions finished, by mode and exit reason."}, []string{"mode", "reason"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "racelab_rejected_total",
			Help: "Requests that did not run, by reason (bad-request, busy, rate-limited, internal)."}, []string{"reason"}),
		wait: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "racelab_queue_wait_seconds",
			Help: "Time a run waited in the admission queue.", Buckets: buckets}),
		build: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "racelab_build_seconds",
			Help: "Duration of the build step (container start included).", Buckets: buckets}),
		start: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "racelab_container_start_seconds",
			Help:    "Time to start a build's container (runtime, namespaces, mounts), as the sandbox reports it.",
			Buckets: []float64{.005, .01, .02, .03, .05, .075, .1, .25, .5, 1}}),
		run: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "racelab_run_seconds",
			Help: "Wall time of one execution of a program, by mode.", Buckets: buckets}, []string{"mode"}),
	}
	m.sockets = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "racelab_websockets",
		Help: "Websockets open now."}, func() float64 { return float64(s.sockets.Load()) })
	m.running = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "racelab_runs_running",
		Help: "Runs holding a slot now."}, func() float64 { r, _ := s.queue.stats(); return float64(r) })
	m.queueLen = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "racelab_queue_length",
		Help: "Runs waiting for a slot now."}, func() float64 { _, w := s.queue.stats(); return float64(w) })
	m.reg.MustRegister(m.runs, m.errors, m.wait, m.build, m.start, m.run, m.sockets, m.running, m.queueLen,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe counts one event of a run.
func (m *metrics) observe(mode sandbox.Mode, e sandbox.Event) {
	switch e.Kind {
	case sandbox.KindBuild:
		m.build.Observe(float64(e.Ms) / 1000)
		if e.StartMs > 0 {
			m.start.Observe(float64(e.StartMs) / 1000)
		}
	case sandbox.KindExit:
		m.runs.WithLabelValues(string(mode), string(e.Reason)).Inc()
		if e.Reason != sandbox.ReasonBuildFailed {
			m.run.WithLabelValues(string(mode)).Observe(float64(e.Ms) / 1000)
		}
	}
}

func (m *metrics) waited(d time.Duration) { m.wait.Observe(d.Seconds()) }

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
