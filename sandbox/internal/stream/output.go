// Package stream turns what a sandboxed process prints into events, as it
// prints it, and stops at the output limit.
package stream

import (
	"bytes"
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
//
// A race report is the one exception to an event per write: it goes out
// whole, in one event, once its closing rule has arrived (see
// ReportHold). The race runtime writes a report line by line, and stdout
// and stderr come through pipes of their own, so under load a program's
// stdout overtook the report's first line, and a learner saw the report's
// opening rule alone, far above the rest of it.
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

	// A race report being held back: its bytes from the opening rule,
	// the timer that lets them go after hold, and a count that tells a
	// stale timer from the current one.
	report    []byte
	reportGen int
	reportEnd *time.Timer
	hold      time.Duration
	errMidLn  bool // the last stderr byte emitted or held was not a newline
}

// A race report begins and ends with this rule, each on a line of its own.
const reportRule = "==================\n"

// ReportHold bounds how long Output holds back a race report whose closing
// rule has not arrived, and ReportMax how many of its bytes: past either,
// what it holds goes out as it is (a program may print the rule itself).
// The race runtime writes a whole report within milliseconds, unless the
// machine is loaded.
const (
	ReportHold = time.Second
	ReportMax  = 64 << 10
)

// New returns an Output that emits through emit, tagging events with run
// (0 for an unrepeated request), measuring t_ms from start.
func New(emit func(sandbox.Event), run int, limit int64, start time.Time) *Output {
	return &Output{emit: emit, run: run, limit: limit, start: start, over: make(chan struct{}), hold: ReportHold}
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

// Flush emits any bytes held back, as an incomplete UTF-8 sequence or an
// unfinished race report; call it once the process's pipes are closed.
func (o *Output) Flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.send(sandbox.KindStdout, o.pendOut)
	o.sendErr(o.pendErr)
	o.pendOut, o.pendErr = nil, nil
	o.releaseReport()
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
	if w.kind == sandbox.KindStderr {
		o.sendErr(buf[:cut])
	} else {
		o.send(w.kind, buf[:cut])
	}
	return len(p), nil
}

// sendErr emits b on stderr, holding back a race report until its closing
// rule; o.mu is held.
func (o *Output) sendErr(b []byte) {
	for len(b) > 0 {
		if o.report == nil {
			i := o.ruleAt(b)
			if i < 0 {
				o.send(sandbox.KindStderr, b)
				o.errMidLn = b[len(b)-1] != '\n'
				return
			}
			o.send(sandbox.KindStderr, b[:i])
			o.startReport()
			b = b[i:]
		}
		// The closing rule is the next rule on a line of its own after
		// the opening one; it may have begun in the bytes held already.
		held := len(o.report)
		o.report = append(o.report, b...)
		from := max(held-len(reportRule)+1, len(reportRule))
		end := -1
		if from <= len(o.report) {
			if i := ruleIn(o.report, from); i >= 0 {
				end = i + len(reportRule)
			}
		}
		if end < 0 {
			o.errMidLn = o.report[len(o.report)-1] != '\n'
			if len(o.report) > ReportMax {
				o.releaseReport()
			}
			return
		}
		rest := len(o.report) - end
		o.report = o.report[:end]
		o.releaseReport()
		o.errMidLn = false
		b = b[len(b)-rest:]
	}
}

// ruleAt returns the index in b of the first rule that starts a line, the
// line before b's first byte being stderr's last, or -1.
func (o *Output) ruleAt(b []byte) int {
	if !o.errMidLn && bytes.HasPrefix(b, []byte(reportRule)) {
		return 0
	}
	return ruleIn(b, 0)
}

// ruleIn returns the index of the first rule in b[from:] that follows a
// newline, or -1.
func ruleIn(b []byte, from int) int {
	if from > 0 {
		from-- // the newline before the rule may be the byte before from
	}
	i := bytes.Index(b[from:], []byte("\n"+reportRule))
	if i < 0 {
		return -1
	}
	return from + i + 1
}

// startReport begins holding a race report, for at most o.hold; o.mu is
// held.
func (o *Output) startReport() {
	o.report = []byte{}
	o.reportGen++
	gen := o.reportGen
	o.reportEnd = time.AfterFunc(o.hold, func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.report != nil && o.reportGen == gen {
			o.releaseReport()
		}
	})
}

// releaseReport emits the race report held back, if any; o.mu is held.
func (o *Output) releaseReport() {
	if o.report == nil {
		return
	}
	o.reportEnd.Stop()
	b := o.report
	o.report, o.reportEnd = nil, nil
	o.send(sandbox.KindStderr, b)
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
