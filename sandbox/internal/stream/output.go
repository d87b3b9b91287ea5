// Package stream turns what a sandboxed process prints into events, as it
// prints it, and stops at the output limit.
package stream

import (
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/racelab/racelab/sandbox"
)

// Output collects one run's stdout and stderr. Its writers emit an event
// per write, in the order the writes arrive, and stop emitting once limit
// bytes have gone out; Exceeded is closed at that moment so the caller can
// stop the program.
type Output struct {
	mu       sync.Mutex
	emit     func(sandbox.Event)
	run      int
	start    time.Time
	limit    int64
	used     int64
	over     chan struct{}
	stdout   strings.Builder
	stderr   strings.Builder
	pendOut  []byte // an incomplete UTF-8 sequence held back until the next write
	pendErr  []byte
	overDone bool
}

// New returns an Output that emits through emit, tagging events with run
// (0 for an unrepeated request), measuring t_ms from start.
func New(emit func(sandbox.Event), run int, limit int64, start time.Time) *Output {
	return &Output{emit: emit, run: run, limit: limit, start: start, over: make(chan struct{})}
}

// Restart sets the moment t_ms counts from (the program's start, after
// the build step).
func (o *Output) Restart(t time.Time) {
	o.mu.Lock()
	o.start = t
	o.mu.Unlock()
}

// Stdout returns the writer for standard output.
func (o *Output) Stdout() io.Writer { return writer{o, sandbox.KindStdout} }

// Stderr returns the writer for standard error.
func (o *Output) Stderr() io.Writer { return writer{o, sandbox.KindStderr} }

// Exceeded is closed once the output limit is reached.
func (o *Output) Exceeded() <-chan struct{} { return o.over }

// IsExceeded reports whether the output limit was reached.
func (o *Output) IsExceeded() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.overDone
}

// Text returns everything emitted so far on stdout and stderr.
func (o *Output) Text() (stdout, stderr string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.stdout.String(), o.stderr.String()
}

// Flush emits any bytes held back as an incomplete UTF-8 sequence; call it
// once the process's pipes are closed.
func (o *Output) Flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.send(sandbox.KindStdout, o.pendOut)
	o.send(sandbox.KindStderr, o.pendErr)
	o.pendOut, o.pendErr = nil, nil
}

type writer struct {
	o    *Output
	kind sandbox.Kind
}

// Write never fails, so the copying goroutine drains the pipe even past
// the limit and the program is stopped by the caller, not by EPIPE.
func (w writer) Write(p []byte) (int, error) {
	o := w.o
	o.mu.Lock()
	defer o.mu.Unlock()
	pend := &o.pendOut
	if w.kind == sandbox.KindStderr {
		pend = &o.pendErr
	}
	buf := append(*pend, p...)
	cut := completePrefix(buf)
	*pend = append([]byte(nil), buf[cut:]...)
	o.send(w.kind, buf[:cut])
	return len(p), nil
}

// send emits b, or the part of it under the limit; o.mu is held.
func (o *Output) send(kind sandbox.Kind, b []byte) {
	if len(b) == 0 || o.overDone {
		return
	}
	cost := WireLen(b)
	if room := o.limit - o.used; cost > room {
		b = b[:completePrefix(b[:fit(b, room)])]
		cost = WireLen(b)
		o.overDone = true
		defer close(o.over)
	}
	o.used += cost
	if len(b) == 0 {
		return
	}
	s := string(b)
	if kind == sandbox.KindStdout {
		o.stdout.WriteString(s)
	} else {
		o.stderr.WriteString(s)
	}
	o.emit(sandbox.Event{Kind: kind, Run: o.run, Data: s, TMs: time.Since(o.start).Milliseconds()})
}

// completePrefix returns the length of the longest prefix of b that does
// not end inside a UTF-8 sequence. Invalid bytes count as complete.
func completePrefix(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if utf8.FullRune(b[i:]) {
				return len(b)
			}
			return i
		}
	}
	return len(b)
}

// WireLen is how many bytes b takes in a JSON string, as events go on the
// wire: the output limit counts these, so that a program printing bytes
// JSON must escape (a control byte becomes six) cannot send six times the
// limit.
func WireLen(b []byte) int64 {
	var n int64
	for i := 0; i < len(b); {
		cost, size := wireCost(b[i:])
		n += cost
		i += size
	}
	return n
}

// fit returns the length of the longest prefix of b whose JSON takes at
// most room bytes.
func fit(b []byte, room int64) int {
	for i := 0; i < len(b); {
		cost, size := wireCost(b[i:])
		if room -= cost; room < 0 {
			return i
		}
		i += size
	}
	return len(b)
}

// wireCost returns the JSON length of the rune b starts with, and the
// rune's length in b.
func wireCost(b []byte) (int64, int) {
	r, size := utf8.DecodeRune(b)
	switch {
	case r == utf8.RuneError && size == 1, r == '\u2028', r == '\u2029':
		return 6, size // \ufffd, \u2028, \u2029
	case r == '\n', r == '\r', r == '\t', r == '\b', r == '\f', r == '"', r == '\\':
		return 2, size
	case r < 0x20:
		return 6, size
	}
	return int64(size), size
}
