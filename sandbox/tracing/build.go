package tracing

import (
	"fmt"
	"strconv"

	"golang.org/x/exp/trace"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/internal/gotool"
)

// mainID is the id of the goroutine that runs main.main.
const mainID = 1

// builder makes a timeline of a trace's events, one at a time.
type builder struct {
	o     Options
	files map[string]bool
	tl    sandbox.Timeline
	t0    trace.Time // the first event's time: the timeline's 0
	seen  bool       // an event was added (t0 is set)
	last  trace.Time // the latest event's time
	gs    map[trace.GoID]*gor
	order []*gor // kept goroutines, in creation order
	spans int    // spans and edges made, against MaxSpans
	ended bool   // main returned, or the trace was cut: nothing more is recorded
}

// gor is what the builder knows of one goroutine.
type gor struct {
	lane   *sandbox.TraceGoroutine // nil for a goroutine not the learner's
	state  string                  // the open span's state; "" before the first
	since  int64                   // the open span's start
	reason string                  // a blocked span's reason
	at     *sandbox.TracePos       // where it blocked (or made its syscall)
	op     string                  // the operation it blocked in
	named  bool                    // its lane's name is its function's
}

func newBuilder(o Options) *builder {
	b := &builder{o: o, files: map[string]bool{}, gs: map[trace.GoID]*gor{}}
	for _, f := range o.Files {
		b.files[f] = true
	}
	b.tl.Goroutines, b.tl.Edges = []sandbox.TraceGoroutine{}, []sandbox.TraceEdge{}
	return b
}

// ns is t in nanoseconds since the timeline's start.
func (b *builder) ns(t trace.Time) int64 { return int64(t - b.t0) }

// add records ev and reports whether the parse goes on.
func (b *builder) add(ev trace.Event) bool {
	if b.spans+2 > b.o.MaxSpans { // an event makes at most a span and an edge
		b.cut(fmt.Sprintf("timeline cut after %d spans and edges (the limit --trace-spans): what followed is not shown", b.spans))
		return false
	}
	if !b.seen {
		b.t0, b.seen = ev.Time(), true
	}
	if ev.Time() > b.last {
		b.last = ev.Time()
	}
	switch ev.Kind() {
	case trace.EventLog:
		b.log(ev)
	case trace.EventStateTransition:
		st := ev.StateTransition()
		if st.Resource.Kind == trace.ResourceGoroutine {
			b.transition(ev, st)
		}
	}
	return !b.ended
}

// log reads the marks racelab's wrapper writes: main returned, or the
// tracer was stopped early.
func (b *builder) log(ev trace.Event) {
	switch l := ev.Log(); l.Category {
	case gotool.TraceLogReturned:
		b.end(ev.Time())
	case gotool.TraceLogCut:
		b.tl.Cut = l.Message
		b.end(ev.Time())
	}
}

// cut ends the timeline at the latest event, saying why.
func (b *builder) cut(why string) {
	if b.tl.Cut == "" {
		b.tl.Cut = why
	}
	b.end(b.last)
}

// end closes every goroutine's open span at t: nothing later is
// recorded.
func (b *builder) end(t trace.Time) {
	if b.ended {
		return
	}
	b.ended = true
	b.tl.DurationNs = b.ns(t)
	for _, g := range b.order {
		b.close(g, b.ns(t))
	}
}

// transition records a goroutine's change of state.
func (b *builder) transition(ev trace.Event, st trace.StateTransition) {
	id := st.Resource.Goroutine()
	from, to := st.Goroutine()
	g := b.gs[id]
	if g == nil {
		g = b.create(ev, st, id, from)
	}
	if g.lane == nil {
		return
	}
	t := b.ns(ev.Time())
	if from == trace.GoWaiting && to == trace.GoRunnable {
		b.edge(ev, g, t)
	}
	b.close(g, t)
	switch to {
	case trace.GoRunning:
		g.state = sandbox.StateRunning
	case trace.GoRunnable:
		g.state = sandbox.StateRunnable
	case trace.GoWaiting:
		g.state, g.reason = sandbox.StateBlocked, st.Reason
		g.at, g.op = b.innermost(st.Stack)
		if g.op == "" {
			g.op = reasonOps[st.Reason]
		}
	case trace.GoSyscall:
		g.state = sandbox.StateSyscall
		g.at, _ = b.innermost(st.Stack)
	default:
		g.state = "" // it ended
	}
	g.since = t
	b.name(g, st.Stack)
}

// create meets goroutine id: main, one the learner's code creates (kept,
// with its lane), or another (the runtime's, racelab's: not shown).
func (b *builder) create(ev trace.Event, st trace.StateTransition, id trace.GoID, from trace.GoState) *gor {
	g := &gor{}
	b.gs[id] = g
	switch {
	case id == mainID && from != trace.GoNotExist:
		g.lane = &sandbox.TraceGoroutine{ID: mainID, Name: "main"}
		g.named = true
	case from == trace.GoNotExist:
		at, _ := b.innermost(ev.Stack())
		if at == nil {
			return g
		}
		g.lane = &sandbox.TraceGoroutine{ID: int64(id), Created: at, Name: "goroutine " + strconv.FormatInt(int64(id), 10)}
		if p := ev.Goroutine(); p != trace.NoGoroutine && b.gs[p] != nil && b.gs[p].lane != nil {
			g.lane.Parent = int64(p)
		}
		if f := b.user(first(st.Stack)); f != nil {
			g.lane.Name, g.named = f.Func, true
		}
	default:
		return g // there before the trace, and not main
	}
	b.order = append(b.order, g)
	return g
}

// name gives a goroutine whose function is not the learner's (one
// sync.WaitGroup.Go started) the name of the outermost function of the
// learner's its stack shows.
func (b *builder) name(g *gor, s trace.Stack) {
	if g.named {
		return
	}
	if p := b.outermost(s); p != nil {
		g.lane.Name, g.named = p.Func, true
	}
}

// first is the innermost frame of s.
func first(s trace.Stack) trace.StackFrame {
	for f := range s.Frames() {
		return f
	}
	return trace.StackFrame{}
}

// close ends g's open span at t.
func (b *builder) close(g *gor, t int64) {
	if g.state == "" || g.lane == nil {
		return
	}
	if t > g.since {
		sp := sandbox.TraceSpan{StartNs: g.since, EndNs: t, State: g.state}
		if g.state == sandbox.StateBlocked {
			sp.Reason = g.reason
		}
		if g.state == sandbox.StateBlocked || g.state == sandbox.StateSyscall {
			sp.At = g.at
		}
		g.lane.Spans = append(g.lane.Spans, sp)
		b.spans++
	}
	g.state, g.since = "", t
}

// edge records that the goroutine running ev unblocked g: both
// operations and both places. The unblocker's operation is read from its
// stack at that moment; when no frame of it is the learner's (the Done
// that sync.WaitGroup.Go calls after the learner's function returns), its
// place is where it was created.
func (b *builder) edge(ev trace.Event, g *gor, t int64) {
	from := b.gs[ev.Goroutine()]
	if ev.Goroutine() == trace.NoGoroutine || from == nil || from.lane == nil {
		return // a timer, the network poller, the runtime: no edge of the learner's
	}
	at, op := b.innermost(ev.Stack())
	if op == "" && at != nil && b.direct(ev.Stack()) && (g.op == "receive" || g.op == "select") {
		// close(ch) readies its receivers after the runtime's frame is
		// gone from the stack the tracer records: only the line of the
		// close is left. A send or a receive would show its runtime
		// call, so a channel waiter woken by the learner's own frame was
		// woken by a close.
		op = "close"
	}
	if at == nil {
		at = from.lane.Created
	}
	if op == "" {
		op = "?"
	}
	to := g.op
	if to == "" {
		to = g.reason
	}
	b.tl.Edges = append(b.tl.Edges, sandbox.TraceEdge{AtNs: t, From: from.lane.ID, To: g.lane.ID,
		FromOp: op, ToOp: to, FromAt: at, ToAt: g.at})
	b.spans++
}

// direct reports whether the innermost frame of s is the learner's.
func (b *builder) direct(s trace.Stack) bool {
	return b.user(first(s)) != nil
}

// finish closes the timeline at the end of the trace and folds the
// goroutines beyond sandbox.MaxTimelineLanes.
func (b *builder) finish() *sandbox.Timeline {
	b.end(b.last)
	for _, g := range b.order {
		b.tl.Goroutines = append(b.tl.Goroutines, *g.lane)
	}
	fold(&b.tl)
	return &b.tl
}
