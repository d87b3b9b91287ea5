package sandbox

// A timeline is what the Go runtime's execution tracer recorded of a run
// (issue #16): the learner's goroutines, their states over time, and the
// synchronization edges between them (goroutine A's send at line 9
// unblocked goroutine B waiting to receive at line 14). It is sent as one
// timeline event, before the run's exit, for a request with Trace set.
//
// Times are nanoseconds since the tracer started (just before the
// learner's main). Positions are in the submitted files; racelab's own
// wrapper and the runtime never appear.
type Timeline struct {
	// DurationNs is how long the trace covers: from the tracer's start to
	// its stop (after main returned) or to the cut.
	DurationNs int64 `json:"duration_ns"`
	// Goroutines are the lanes, in the order the goroutines were created
	// (main first). At most MaxTimelineLanes of them are single
	// goroutines; the rest are folded into aggregate lanes (Count > 1).
	Goroutines []TraceGoroutine `json:"goroutines"`
	// Edges are the synchronization edges, in time order.
	Edges []TraceEdge `json:"edges"`
	// Cut, when set, says in words that the trace was cut and where
	// ("trace cut after 200000 events: the program ran on, untraced");
	// what comes before the cut is complete.
	Cut string `json:"cut,omitempty"`
}

// MaxTimelineLanes is how many goroutines a timeline shows one lane each;
// the goroutines after them are folded, by where they were created, into
// aggregate lanes.
const MaxTimelineLanes = 24

// TraceGoroutine is one lane of a timeline: a goroutine of the learner's,
// or (Count > 1) several created at the same place.
type TraceGoroutine struct {
	// ID is the runtime's goroutine id; an aggregate lane has a negative
	// id of its own, which edges use for any goroutine folded into it.
	ID int64 `json:"id"`
	// Name is what the lane is called: "main", or the function the
	// goroutine runs as the learner wrote it ("worker", "main.func1").
	Name string `json:"name"`
	// Created is the go statement that created it; nil for main.
	Created *TracePos `json:"created,omitempty"`
	// Parent is the id of the goroutine that created it; 0 for main.
	Parent int64 `json:"parent,omitempty"`
	// Count is the number of goroutines an aggregate lane stands for; 0
	// (or 1) for a single goroutine.
	Count int `json:"count,omitempty"`
	// Spans are the goroutine's states over time, in order, without gaps
	// from its creation to its end (or the end of the trace). An
	// aggregate lane has none: States sums its goroutines' time instead.
	Spans []TraceSpan `json:"spans,omitempty"`
	// States is, for an aggregate lane, the total nanoseconds its
	// goroutines spent in each state ("running": 1200000, …).
	States map[string]int64 `json:"states,omitempty"`
}

// The states of a span.
const (
	StateRunning  = "running"  // on a thread, running
	StateRunnable = "runnable" // ready, waiting for a thread
	StateBlocked  = "blocked"  // waiting for another goroutine or a timer: Reason says on what
	StateSyscall  = "syscall"  // in a system call
)

// TraceSpan is one interval of a goroutine's life in one state.
type TraceSpan struct {
	StartNs int64  `json:"start_ns"`
	EndNs   int64  `json:"end_ns"`
	State   string `json:"state"`
	// Reason says what a blocked goroutine waits for, in the tracer's
	// words: "chan receive", "chan send", "select", "sync" (a Mutex or
	// WaitGroup), "sync.(*Cond).Wait", "sleep", "GC"…
	Reason string `json:"reason,omitempty"`
	// At is where in the learner's code the goroutine blocked (or, for a
	// syscall, made it); nil when no frame of the stack is the learner's.
	At *TracePos `json:"at,omitempty"`
}

// TraceEdge is a synchronization edge: goroutine From, by operation
// FromOp at FromAt, unblocked goroutine To, which waited in ToOp at ToAt.
type TraceEdge struct {
	AtNs int64 `json:"at_ns"`
	From int64 `json:"from"`
	To   int64 `json:"to"`
	// FromOp and ToOp name the two sides as a learner says them: "send"
	// → "receive", "close" → "receive", "Unlock" → "Lock", "Done" →
	// "Wait", "Signal" → "Wait", "send" → "select"…
	FromOp string    `json:"from_op"`
	ToOp   string    `json:"to_op"`
	FromAt *TracePos `json:"from_at,omitempty"`
	ToAt   *TracePos `json:"to_at,omitempty"`
}

// TracePos is a place in the submitted files.
type TracePos struct {
	File string `json:"file"`
	Line int    `json:"line"`
	// Func is the function, as the learner wrote it ("main", "worker",
	// "main.func1").
	Func string `json:"func,omitempty"`
}
