// Package tracing turns the execution trace of a traced run (issue #16)
// into the timeline event the page draws: the learner's goroutines, their
// states over time and the synchronization edges between them. The trace
// is written by untrusted code, so the server never parses it itself:
// Parse runs in a child process (the hidden command "racelab
// trace-parse", see Main) under limits of memory, time and events, and
// Run is the server's side of it.
package tracing

import (
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"golang.org/x/exp/trace"

	"github.com/racelab/racelab/sandbox"
)

// Options says what Parse needs to know of the run and how far it goes.
type Options struct {
	// Dir is the directory the program was built in, as its stacks
	// name it ("/work"); Files are the submitted files' names. A frame
	// is the learner's when it is in one of them.
	Dir   string   `json:"dir"`
	Files []string `json:"files"`
	// MaxEvents bounds the trace events read (Limits.TraceEvents).
	MaxEvents int `json:"max_events"`
	// MaxSpans bounds the spans and edges of the timeline
	// (Limits.TraceSpans), and so the event's size.
	MaxSpans int `json:"max_spans"`
	// Cut, when set, says the trace file was cut (racelab read only the
	// first --trace-bytes of it): the parse keeps what it could read.
	Cut string `json:"cut,omitempty"`
}

// Parse reads the trace r and returns its timeline. A trace that ends
// early (cut, or bad from some point on) gives the timeline of what came
// before, its Cut saying so; one of which nothing can be read is an
// error.
func Parse(r io.Reader, o Options) (tl *sandbox.Timeline, err error) {
	defer func() {
		// The parser may meet a trace no Go runtime wrote: whatever it
		// does then is an error of this trace, not a crash.
		if p := recover(); p != nil {
			tl, err = nil, fmt.Errorf("tracing: the parser failed: %v", p)
		}
	}()
	tr, err := trace.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("tracing: not an execution trace Go 1.26 can read: %w", err)
	}
	b := newBuilder(o)
	n := 0
	for ; ; n++ {
		ev, err := tr.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			if n == 0 {
				return nil, fmt.Errorf("tracing: %w", err)
			}
			why := fmt.Sprintf("trace cut after %d events: the rest could not be read (%v)", n, err)
			if o.Cut != "" {
				why = o.Cut
			}
			b.cut(why)
			break
		}
		if n >= o.MaxEvents {
			b.cut(fmt.Sprintf("trace cut after %d events (the limit --trace-events): what followed is not shown", n))
			break
		}
		if !b.add(ev) {
			break
		}
	}
	if len(b.order) == 0 {
		return nil, errors.New("tracing: the trace shows no goroutine of the program's")
	}
	if o.Cut != "" && b.tl.Cut == "" {
		b.tl.Cut = o.Cut
	}
	return b.finish(), nil
}

// user is a frame's place in the submitted files, or nil.
func (b *builder) user(f trace.StackFrame) *sandbox.TracePos {
	if f.File == "" || path.Dir(f.File) != b.o.Dir || !b.files[path.Base(f.File)] {
		return nil
	}
	return &sandbox.TracePos{File: path.Base(f.File), Line: int(f.Line), Func: funcName(f.Func)}
}

// funcName is a function's name as the learner wrote it: without the
// package main's prefix ("main.main.func1" is "main.func1"), and cut at
// maxFuncName bytes: every span repeats it, and an identifier may be as
// long as the source.
func funcName(f string) string {
	f = strings.TrimPrefix(f, "main.")
	if len(f) > maxFuncName {
		f = strings.ToValidUTF8(f[:maxFuncName], "") + "…"
	}
	return f
}

// maxFuncName bounds a function's name in a timeline.
const maxFuncName = 100

// innermost returns the innermost frame of s in the submitted files, and
// the operation the calls inside it were doing (see opOf).
func (b *builder) innermost(s trace.Stack) (*sandbox.TracePos, string) {
	op := ""
	for f := range s.Frames() {
		if strings.HasPrefix(f.Func, wrapperPrefix) {
			return nil, "" // racelab's wrapper at work (the tracer's start and stop), not the learner
		}
		if p := b.user(f); p != nil {
			return p, op
		}
		if o := opOf(f.Func); o != "" {
			op = o // the outermost call racelab names: sync.(*Mutex).Lock, not its internals
		}
	}
	return nil, op
}

// wrapperPrefix starts the name of every function of racelab's wrapper
// (gotool.WrapFile, gotool.TraceWrapFile): the learner's code may not use
// such names.
const wrapperPrefix = "main.racelab"

// outermost returns the outermost frame of s in the submitted files.
func (b *builder) outermost(s trace.Stack) *sandbox.TracePos {
	var last *sandbox.TracePos
	for f := range s.Frames() {
		if p := b.user(f); p != nil {
			last = p
		}
	}
	return last
}

// ops names the calls a goroutine blocks or unblocks another in, as a
// learner says them.
var ops = map[string]string{
	"runtime.chansend1":                        "send",
	"runtime.selectnbsend":                     "send",
	"runtime.chanrecv1":                        "receive",
	"runtime.chanrecv2":                        "receive",
	"runtime.selectnbrecv":                     "receive",
	"runtime.selectnbrecv2":                    "receive",
	"runtime.closechan":                        "close",
	"runtime.selectgo":                         "select",
	"runtime.block":                            "select {}",
	"sync.(*Mutex).Lock":                       "Lock",
	"sync.(*Mutex).Unlock":                     "Unlock",
	"sync.(*RWMutex).Lock":                     "Lock",
	"sync.(*RWMutex).Unlock":                   "Unlock",
	"sync.(*RWMutex).RLock":                    "RLock",
	"sync.(*RWMutex).RUnlock":                  "RUnlock",
	"sync.(*WaitGroup).Wait":                   "Wait",
	"sync.(*WaitGroup).Done":                   "Done",
	"sync.(*WaitGroup).Add":                    "Add",
	"sync.(*WaitGroup).Go.func1":               "Done",
	"sync.(*Cond).Wait":                        "Wait",
	"sync.(*Cond).Signal":                      "Signal",
	"sync.(*Cond).Broadcast":                   "Broadcast",
	"sync.(*Once).Do":                          "Once",
	"time.Sleep":                               "sleep",
	"golang.org/x/sync/errgroup.(*Group).Wait": "Wait",
}

// opOf names the operation of a call, or "".
func opOf(fn string) string { return ops[fn] }

// reasonOps names the operation of a block reason the stack did not name.
var reasonOps = map[string]string{
	"chan receive":            "receive",
	"chan send":               "send",
	"select":                  "select",
	"select (no cases)":       "select {}",
	"sync":                    "sync",
	"sync.(*Cond).Wait":       "Wait",
	"sleep":                   "sleep",
	"chan receive (nil chan)": "receive",
	"chan send (nil chan)":    "send",
}
