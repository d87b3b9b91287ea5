package server

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/racelab/racelab/internal/runmetrics"
	"github.com/racelab/racelab/sandbox"
)

// metrics are the server's Prometheus metrics, in a registry of its own
// (no global state: two servers in one process do not share counters).
type metrics struct {
	reg       *prometheus.Registry
	runs      *runmetrics.Runs       // executions, build and run durations
	errors    *prometheus.CounterVec // requests that never ran, by reason
	wait      prometheus.Histogram   // time in the admission queue
	sockets   prometheus.GaugeFunc
	running   prometheus.GaugeFunc
	queueLen  prometheus.GaugeFunc
	receiving prometheus.GaugeFunc
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		reg:  prometheus.NewRegistry(),
		runs: runmetrics.New("racelab_"),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "racelab_rejected_total",
			Help: "Requests that did not run, by reason (bad-request, busy, rate-limited, internal)."}, []string{"reason"}),
		wait: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "racelab_queue_wait_seconds",
			Help: "Time a run waited in the admission queue.", Buckets: runmetrics.Buckets()}),
	}
	m.sockets = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "racelab_websockets",
		Help: "Websockets open now."}, func() float64 { return float64(s.sockets.count()) })
	m.running = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "racelab_runs_running",
		Help: "Runs holding a slot now."}, func() float64 { r, _ := s.queue.stats(); return float64(r) })
	m.queueLen = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "racelab_queue_length",
		Help: "Runs waiting for a slot now."}, func() float64 { _, w := s.queue.stats(); return float64(w) })
	m.receiving = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "racelab_receiving_bytes",
		Help: "Bytes of request bodies and websocket messages being received now (bounded by -inflight-bytes)."},
		func() float64 { return float64(s.recv.bytes()) })
	m.reg.MustRegister(m.runs.Collectors()...)
	m.reg.MustRegister(m.errors, m.wait, m.sockets, m.running, m.queueLen, m.receiving,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe counts one event of a run.
func (m *metrics) observe(mode sandbox.Mode, e sandbox.Event) { m.runs.Observe(mode, e) }

func (m *metrics) waited(d time.Duration) { m.wait.Observe(d.Seconds()) }

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
