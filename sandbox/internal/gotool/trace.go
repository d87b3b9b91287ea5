package gotool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/racelab/racelab/sandbox"
)

// TraceWrapFile is the file a traced program gets besides WrapFile: the
// code that starts Go's execution tracer before the learner's main and
// stops it after main returns. It is racelab's, never the learner's.
const TraceWrapFile = "zz_racelab_trace.go"

// TraceFile is the file a traced program writes its execution trace to,
// in its working directory (where execution 1 starts: the source
// directory). A submitted file cannot be named so: names starting with a
// dot are refused.
const TraceFile = ".racelab-trace"

// The categories of the user log events the traced program's wrapper
// writes into its own trace (runtime/trace.Log): the parser reads them
// back.
const (
	// TraceLogCut's message says, in words, why the tracer stopped before
	// main returned (the time or the bytes ran out).
	TraceLogCut = "racelab.cut"
	// TraceLogReturned marks main's return: what follows it is
	// racelab's wrapper stopping the tracer, not the learner's program.
	TraceLogReturned = "racelab.returned"
)

// Tracing says how a traced program bounds its own trace; the zero value
// does not trace.
type Tracing struct {
	// Bytes bounds the trace file: the tracer is asked to stop once half
	// of it is written (its stop flushes the buffers it holds, up to
	// 64 KiB per P, and the tables of stacks and strings, and a busy
	// program goes on writing until the stop), and nothing is written
	// beyond it.
	Bytes int64
	// Time is how long the tracer records before it stops.
	Time time.Duration
}

// TracingOf returns how a request is traced within l: not at all unless
// it asks.
func TracingOf(req *sandbox.Request, l sandbox.Limits) Tracing {
	if !req.Trace {
		return Tracing{}
	}
	return Tracing{Bytes: l.TraceBytes, Time: l.TraceTime}
}

// On reports whether t traces.
func (t Tracing) On() bool { return t.Bytes > 0 && t.Time > 0 }

// source is TraceWrapFile's text for t.
func (t Tracing) source() string {
	r := strings.NewReplacer(
		"SOFT", strconv.FormatInt(t.Bytes/2, 10),
		"HARD", strconv.FormatInt(t.Bytes, 10),
		"NANOS", strconv.FormatInt(int64(t.Time), 10),
		"TIMECUT", strconv.Quote(fmt.Sprintf("trace cut after %v (the limit --trace-time): what the program did after it is not shown", t.Time)),
		"BYTECUT", strconv.Quote(fmt.Sprintf("trace cut after %d bytes (half the limit --trace-bytes): what the program did after it is not shown", t.Bytes/2)),
	)
	return r.Replace(traceSrc)
}

// traceSrc is TraceWrapFile's text: racelabTraceStart opens TraceFile,
// starts the tracer and a goroutine that stops it when main returns, at
// the time limit or once the bytes are half spent, whichever is first; it
// returns what main defers: a mark in the trace that main returned, then
// the wait for the stop. A program that deadlocks has no deferred call
// run, but the goroutine's timer keeps the runtime from calling it a
// deadlock until the time limit stops the tracer: the trace is complete,
// and the deadlock's report comes up to Time later.
const traceSrc = `package main

import (
	racelabContext "context"
	racelabOS "os"
	racelabTrace "runtime/trace"
	racelabTime "time"
)

// racelabTraceWriter passes the tracer's output to its file, closing full
// once SOFT bytes are written and writing nothing beyond HARD. Only the
// tracer's goroutine calls Write.
type racelabTraceWriter struct {
	f        *racelabOS.File
	n        int64
	full     chan struct{}
	stopping chan struct{}
}

func (w *racelabTraceWriter) Write(p []byte) (int, error) {
	q := p
	if int64(len(q)) > HARD-w.n {
		q = q[:HARD-w.n]
	}
	n, err := w.f.Write(q)
	w.n += int64(n)
	if w.n >= SOFT && w.full != nil {
		close(w.full)
		w.full = nil
		// The close readied the stopping goroutine on this P, next in
		// line; waiting here runs it now, and it readies this goroutine
		// next in line again just before it stops the tracer (which
		// needs this goroutine to write the rest). A yield instead would
		// put this goroutine in the global queue, where a busy program's
		// goroutines, handing the P to each other, can starve it for as
		// long as it takes the trace to reach HARD, and a trace cut at
		// HARD has lost its tables of stacks: nothing of it can be read.
		<-w.stopping
	}
	if err != nil {
		return n, err
	}
	return len(p), nil
}

func racelabTraceStart() func() {
	f, err := racelabOS.OpenFile("` + TraceFile + `", racelabOS.O_WRONLY|racelabOS.O_CREATE|racelabOS.O_TRUNC, 0o600)
	if err != nil {
		racelabOS.Stderr.WriteString("racelab: cannot trace: " + err.Error() + "\n")
		return func() {}
	}
	full, stopping := make(chan struct{}), make(chan struct{})
	if err := racelabTrace.Start(&racelabTraceWriter{f: f, full: full, stopping: stopping}); err != nil {
		f.Close()
		racelabOS.Stderr.WriteString("racelab: cannot trace: " + err.Error() + "\n")
		return func() {}
	}
	returned, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := racelabTime.NewTimer(NANOS)
		defer t.Stop()
		select {
		case <-returned:
		case <-t.C:
			racelabTrace.Log(racelabContext.Background(), "` + TraceLogCut + `", TIMECUT)
		case <-full:
			racelabTrace.Log(racelabContext.Background(), "` + TraceLogCut + `", BYTECUT)
		}
		close(stopping)
		racelabTrace.Stop()
		f.Close()
	}()
	return func() {
		racelabTrace.Log(racelabContext.Background(), "` + TraceLogReturned + `", "")
		close(returned)
		<-stopped
	}
}
`

// ReadTrace reads the trace a program wrote at path, at most max bytes
// of it; cut says there was more. The file is the program's: it is
// opened without following a symbolic link and without blocking on a
// FIFO, and must be a regular file. A missing file is ErrNoTrace.
func ReadTrace(path string, max int64) (data []byte, cut bool, err error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil, false, ErrNoTrace
	}
	if err != nil {
		return nil, false, fmt.Errorf("trace file: %w", err)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("trace file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, false, fmt.Errorf("trace file: not a regular file (%v)", st.Mode().Type())
	}
	data, err = io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, false, fmt.Errorf("trace file: %w", err)
	}
	if int64(len(data)) > max {
		return data[:max], true, nil
	}
	return data, false, nil
}

// ErrNoTrace is ReadTrace's error when the program wrote no trace.
var ErrNoTrace = errors.New("the program wrote no trace")
