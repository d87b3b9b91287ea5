// Package runmetrics holds the Prometheus metrics of the runs a racelab
// process sees, from their events: what racelab serve and racelab
// runner both report, under their own prefixes.
package runmetrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/racelab/racelab/sandbox"
)

// Buckets returns the buckets of racelab's duration histograms, in
// seconds: from a fast run (10 ms) to a build at its time limit.
func Buckets() []float64 {
	return []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
}

// Runs counts executions and times their steps.
type Runs struct {
	runs  *prometheus.CounterVec   // by mode and exit reason
	build prometheus.Histogram     // the build step, as the sandbox reports it
	start prometheus.Histogram     // of it, the container's start
	run   *prometheus.HistogramVec // wall time of one execution, by mode
}

// New returns the metrics, each named prefix + its name
// (prefix "racelab_" gives racelab_runs_total).
func New(prefix string) *Runs {
	return &Runs{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: prefix + "runs_total",
			Help: "Executions finished, by mode and exit reason."}, []string{"mode", "reason"}),
		build: prometheus.NewHistogram(prometheus.HistogramOpts{Name: prefix + "build_seconds",
			Help: "Duration of the build step (container start included).", Buckets: Buckets()}),
		start: prometheus.NewHistogram(prometheus.HistogramOpts{Name: prefix + "container_start_seconds",
			Help:    "Time to start a build's container (runtime, namespaces, mounts), as the sandbox reports it.",
			Buckets: []float64{.005, .01, .02, .03, .05, .075, .1, .25, .5, 1}}),
		run: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: prefix + "run_seconds",
			Help: "Wall time of one execution of a program, by mode.", Buckets: Buckets()}, []string{"mode"}),
	}
}

// Collectors returns the metrics, to register.
func (m *Runs) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.runs, m.build, m.start, m.run}
}

// Observe counts one event of a run in mode.
func (m *Runs) Observe(mode sandbox.Mode, e sandbox.Event) {
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
