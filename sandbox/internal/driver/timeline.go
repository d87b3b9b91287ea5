package driver

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/internal/gotool"
	"github.com/racelab/racelab/sandbox/tracing"
)

// timeline reads the trace execution 1 of a traced request wrote and
// parses it in a child process under the trace limits. When there is no
// timeline to show, the one returned has no lanes and its Cut says why
// in words: the learner asked for one. ended is why the run ended.
func (r *run) timeline(ctx context.Context, job Job, ended sandbox.Reason) *sandbox.Timeline {
	data, cut, err := gotool.ReadTrace(job.TracePath(), r.limits.TraceBytes)
	if err != nil {
		return noTimeline(err)
	}
	o := tracing.Options{Dir: job.Dir(), Files: sourceNames(r.req.Files)}
	if cut {
		o.Cut = fmt.Sprintf("trace cut after %d bytes (the limit --trace-bytes): what followed is not shown", r.limits.TraceBytes)
	}
	tl, err := tracing.Run(ctx, r.parser, data, o, r.limits)
	if err != nil && ended != sandbox.ReasonExited && ended != sandbox.ReasonTimeout {
		// Killed (output limit, memory, a signal) before the tracer's
		// stop could complete the trace.
		err = fmt.Errorf("the program was stopped (%s) before its tracer could finish the trace", ended)
	}
	if err != nil && (cut || int64(len(data)) >= r.limits.TraceBytes) {
		// The program wrote the bytes faster than its tracer could stop
		// (the wrapper writes nothing beyond the limit): the file ends
		// before the tables of the tracer's first batch of events.
		err = fmt.Errorf("the trace reached %d bytes (the limit --trace-bytes) before its tracer could stop, and nothing of it can be drawn", r.limits.TraceBytes)
	}
	if err != nil {
		return noTimeline(err)
	}
	return tl
}

// noTimeline is the timeline of a traced run that has none to show.
func noTimeline(err error) *sandbox.Timeline {
	why := err.Error()
	if errors.Is(err, gotool.ErrNoTrace) {
		why = "the program wrote no trace: its main did not start, or racelab could not wrap it (its code uses a name starting with racelab)"
	}
	return &sandbox.Timeline{Goroutines: []sandbox.TraceGoroutine{}, Edges: []sandbox.TraceEdge{}, Cut: "no timeline: " + why}
}

// sourceNames lists the submitted .go files.
func sourceNames(files map[string]string) []string {
	var names []string
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
