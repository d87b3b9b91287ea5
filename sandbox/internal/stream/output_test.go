package stream

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/racelab/racelab/sandbox"
)

// recorder collects emitted events. Output calls emit under its own lock,
// so recorder takes none: the race detector then proves the calls are
// serialized, as sandbox.Runner promises its callers.
type recorder struct{ evs []sandbox.Event }

func (r *recorder) emit(e sandbox.Event) { r.evs = append(r.evs, e) }

// data joins the Data of the events of kind k.
func (r *recorder) data(k sandbox.Kind) string {
	var b strings.Builder
	for _, e := range r.evs {
		if e.Kind == k {
			b.WriteString(e.Data)
		}
	}
	return b.String()
}

func mustWrite(t *testing.T, w io.Writer, s string) {
	t.Helper()
	n, err := w.Write([]byte(s))
	if n != len(s) || err != nil {
		t.Fatalf("Write(%q) = %d, %v, want %d, nil", s, n, err, len(s))
	}
}

func TestOutputEventPerWrite(t *testing.T) {
	for _, run := range []int{0, 3} {
		var rec recorder
		o := New(rec.emit, run, 1<<20, time.Now())
		mustWrite(t, o.Stdout(), "one\n")
		mustWrite(t, o.Stderr(), "two")
		mustWrite(t, o.Stdout(), "three\n")
		want := []sandbox.Event{
			{Kind: sandbox.KindStdout, Run: run, Data: "one\n"},
			{Kind: sandbox.KindStderr, Run: run, Data: "two"},
			{Kind: sandbox.KindStdout, Run: run, Data: "three\n"},
		}
		for i := range rec.evs {
			if rec.evs[i].TMs < 0 || rec.evs[i].TMs > 10_000 {
				t.Errorf("run %d: event %d has t_ms %d, want a small non-negative time", run, i, rec.evs[i].TMs)
			}
			rec.evs[i].TMs = 0
		}
		if !reflect.DeepEqual(rec.evs, want) {
			t.Errorf("run %d: events = %+v, want %+v", run, rec.evs, want)
		}
		stdout, stderr := o.Text()
		if stdout != "one\nthree\n" || stderr != "two" {
			t.Errorf("run %d: Text() = %q, %q, want %q, %q", run, stdout, stderr, "one\nthree\n", "two")
		}
	}
}

func TestOutputRestart(t *testing.T) {
	var rec recorder
	o := New(rec.emit, 0, 100, time.Now().Add(-time.Hour))
	o.Restart(time.Now())
	mustWrite(t, o.Stdout(), "x")
	if got := rec.evs[0].TMs; got > 10_000 {
		t.Errorf("after Restart, t_ms = %d, want it measured from the restart", got)
	}
}

// A race report, as the race runtime writes it: a write per line.
var reportLines = []string{
	"==================\n",
	"WARNING: DATA RACE\n",
	"Write at 0x00c000012345 by goroutine 7:\n",
	"  main.main.func1()\n",
	"      /work/main.go:12 +0x44\n",
	"\n",
	"Goroutine 7 (running) created at:\n",
	"  main.main()\n",
	"      /work/main.go:10 +0x2c\n",
	"==================\n",
}

// A race report goes out whole, in one event, whatever came between its
// lines on stdout: a learner never sees its opening rule apart from it.
func TestOutputHoldsRaceReport(t *testing.T) {
	report := strings.Join(reportLines, "")
	type write struct {
		stderr bool
		s      string
	}
	lines := func(ls []string) []write {
		var ws []write
		for _, l := range ls {
			ws = append(ws, write{true, l})
		}
		return ws
	}
	interleaved := lines(reportLines[:1])
	interleaved = append(interleaved, write{false, "a\n"}, write{false, "b\n"})
	interleaved = append(interleaved, lines(reportLines[1:])...)
	ev := func(k sandbox.Kind, s string) sandbox.Event { return sandbox.Event{Kind: k, Data: s} }
	out, errk := sandbox.KindStdout, sandbox.KindStderr
	tests := []struct {
		name   string
		writes []write
		want   []sandbox.Event
	}{
		{"stdout between its lines", interleaved, []sandbox.Event{ev(out, "a\n"), ev(out, "b\n"), ev(errk, report)}},
		{"text before and after in the same writes",
			[]write{{true, "before\n" + reportLines[0]}, {true, strings.Join(reportLines[1:], "") + "after\n"}},
			[]sandbox.Event{ev(errk, "before\n"), ev(errk, report), ev(errk, "after\n")}},
		{"two reports in one write", []write{{true, report + report + "Found 2 data race(s)\n"}},
			[]sandbox.Event{ev(errk, report), ev(errk, report), ev(errk, "Found 2 data race(s)\n")}},
		{"the rule inside a line is text", []write{{true, "x" + reportLines[0]}, {false, "a\n"}, {true, "y\n"}},
			[]sandbox.Event{ev(errk, "x"+reportLines[0]), ev(out, "a\n"), ev(errk, "y\n")}},
		{"a rule on stdout is text", []write{{false, reportLines[0]}, {false, "a\n"}},
			[]sandbox.Event{ev(out, reportLines[0]), ev(out, "a\n")}},
		{"the closing rule split across writes", []write{{true, strings.Join(reportLines[:len(reportLines)-1], "") + "========="}, {false, "a\n"}, {true, "=========\nafter\n"}},
			[]sandbox.Event{ev(out, "a\n"), ev(errk, report), ev(errk, "after\n")}},
		{"the rule split across writes", []write{{true, "=========="}, {true, "========\nWARNING: DATA RACE\n"}, {false, "a\n"}, {true, reportLines[len(reportLines)-1]}},
			[]sandbox.Event{ev(errk, "=========="), ev(errk, "========\nWARNING: DATA RACE\n"), ev(out, "a\n"), ev(errk, reportLines[len(reportLines)-1])}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			o := New(rec.emit, 0, 1<<20, time.Now())
			for _, w := range tt.writes {
				if w.stderr {
					mustWrite(t, o.Stderr(), w.s)
				} else {
					mustWrite(t, o.Stdout(), w.s)
				}
			}
			o.Flush()
			for i := range rec.evs {
				rec.evs[i].TMs = 0
			}
			if !reflect.DeepEqual(rec.evs, tt.want) {
				t.Errorf("events:\n%+v\nwant\n%+v", rec.evs, tt.want)
			}
		})
	}
}

// A report whose closing rule never comes goes out after the hold, past
// ReportMax bytes, or at Flush: a program may print the rule itself, and
// nothing is lost.
func TestOutputReportBounds(t *testing.T) {
	t.Run("hold", func(t *testing.T) {
		var mu sync.Mutex
		var got []sandbox.Event
		o := New(func(e sandbox.Event) { mu.Lock(); got = append(got, e); mu.Unlock() }, 0, 1<<20, time.Now())
		o.hold = 50 * time.Millisecond
		mustWrite(t, o.Stderr(), reportLines[0]+"my own banner\n")
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n != 0 {
			t.Fatalf("%d events before the hold ended, want the rule held", n)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			n = len(got)
			mu.Unlock()
			if n > 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		mustWrite(t, o.Stderr(), "then this\n")
		o.Flush()
		mu.Lock()
		defer mu.Unlock()
		want := []string{reportLines[0] + "my own banner\n", "then this\n"}
		if len(got) != 2 || got[0].Data != want[0] || got[1].Data != want[1] {
			t.Errorf("events %+v, want %q", got, want)
		}
	})
	t.Run("size", func(t *testing.T) {
		var rec recorder
		o := New(rec.emit, 0, 1<<20, time.Now())
		o.hold = time.Hour
		mustWrite(t, o.Stderr(), reportLines[0])
		line := strings.Repeat("x", 1023) + "\n"
		under := (ReportMax - len(reportLines[0])) / len(line) // lines that keep the report under ReportMax
		for range under {
			mustWrite(t, o.Stderr(), line)
		}
		if len(rec.evs) != 0 {
			t.Fatalf("%d events at ReportMax bytes, want none yet", len(rec.evs))
		}
		mustWrite(t, o.Stderr(), line)
		if len(rec.evs) != 1 || len(rec.evs[0].Data) != len(reportLines[0])+(under+1)*len(line) {
			t.Fatalf("past ReportMax: %d events, want the held bytes in one", len(rec.evs))
		}
		mustWrite(t, o.Stderr(), "more\n")
		if len(rec.evs) != 2 || rec.evs[1].Data != "more\n" {
			t.Errorf("after the release, stderr is held still: %d events", len(rec.evs))
		}
		o.Flush()
	})
	t.Run("flush", func(t *testing.T) {
		var rec recorder
		o := New(rec.emit, 0, 1<<20, time.Now())
		o.hold = time.Hour
		mustWrite(t, o.Stderr(), reportLines[0]+reportLines[1])
		o.Flush()
		if _, stderr := o.Text(); stderr != reportLines[0]+reportLines[1] || len(rec.evs) != 1 {
			t.Errorf("after Flush: stderr %q in %d events, want the held lines in one", stderr, len(rec.evs))
		}
	})
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func TestOutputLimit(t *testing.T) {
	tests := []struct {
		name   string
		limit  int64
		writes []string
		over   int    // index of the write that crosses the limit; -1 for none
		want   string // everything emitted
	}{
		{"under", 10, []string{"abc", "def"}, -1, "abcdef"},
		{"exactly at the limit", 6, []string{"abc", "def"}, -1, "abcdef"},
		{"crossed mid-write", 10, []string{"hello", "world!!", "more"}, 1, "helloworld"},
		{"one byte over", 6, []string{"abcdef", "g", "h"}, 1, "abcdef"},
		{"first write", 4, []string{"abcdefgh", "ij"}, 0, "abcd"},
		{"limit 0", 0, []string{"a"}, 0, ""},
		{"rune at the limit", 6, []string{"abcde", "é", "z"}, 1, "abcde"},
		{"rune at the limit in one write", 4, []string{"ab€cd"}, 0, "ab"},
		// The limit counts bytes as JSON sends them.
		{"control bytes count six", 14, []string{"\x01\x02\x03"}, 0, "\x01\x02"},
		{"quotes and newlines count two", 6, []string{"a\"\n\\"}, 0, "a\"\n"},
		{"invalid UTF-8 counts six", 7, []string{"a\xff\xfe"}, 0, "a\xff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			o := New(rec.emit, 0, tt.limit, time.Now())
			for i, w := range tt.writes {
				emitted := len(rec.evs)
				mustWrite(t, o.Stdout(), w)
				crossed := tt.over >= 0 && i >= tt.over
				if got := closed(o.Exceeded()); got != crossed {
					t.Errorf("after write %d (%q): Exceeded closed = %v, want %v", i, w, got, crossed)
				}
				if got := o.IsExceeded(); got != crossed {
					t.Errorf("after write %d (%q): IsExceeded() = %v, want %v", i, w, got, crossed)
				}
				if tt.over >= 0 && i > tt.over && len(rec.evs) != emitted {
					t.Errorf("write %d (%q) after the limit emitted %+v, want nothing", i, w, rec.evs[emitted:])
				}
			}
			mustWrite(t, o.Stderr(), "late")
			o.Flush()
			got := rec.data(sandbox.KindStdout) + rec.data(sandbox.KindStderr)
			if tt.over >= 0 && got != tt.want {
				t.Errorf("emitted %q, want %q", got, tt.want)
			}
			if n := WireLen([]byte(got)); n > tt.limit {
				t.Errorf("emitted %d bytes as JSON, want at most the limit %d", n, tt.limit)
			}
			if stdout, _ := o.Text(); !strings.HasPrefix(got, stdout) {
				t.Errorf("Text() stdout = %q, want what was emitted, %q", stdout, got)
			}
		})
	}
}

func TestWireLen(t *testing.T) {
	for _, s := range []string{"", "hello", "é€😀", "a\"b\\c\n\t\r\b\f", "\x00\x01\x1f\x7f", "\xff\xfe<>&", "\u2028\u2029"} {
		var b bytes.Buffer // the string as events carry it: JSON without HTML escaping
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(s)
		if got, want := WireLen([]byte(s)), int64(b.Len()-3); got != want { // quotes and newline
			t.Errorf("WireLen(%q) = %d, want %d (json: %s)", s, got, want, b.String())
		}
	}
}

func TestOutputSplitRune(t *testing.T) {
	const text = "aé€😀\n日本語 ok 😀😀"
	for cut := 0; cut <= len(text); cut++ {
		var rec recorder
		o := New(rec.emit, 0, 1<<20, time.Now())
		mustWrite(t, o.Stdout(), text[:cut])
		mustWrite(t, o.Stdout(), text[cut:])
		for _, e := range rec.evs {
			if !utf8.ValidString(e.Data) {
				t.Errorf("writes %q, %q: event data %q is not valid UTF-8", text[:cut], text[cut:], e.Data)
			}
		}
		if got := rec.data(sandbox.KindStdout); got != text {
			t.Errorf("writes %q, %q: emitted %q, want %q", text[:cut], text[cut:], got, text)
		}
	}
}

func TestOutputByteAtATime(t *testing.T) {
	const text = "héllo 😀 wörld"
	var rec recorder
	o := New(rec.emit, 0, 1<<20, time.Now())
	for i := range len(text) {
		mustWrite(t, o.Stderr(), text[i:i+1])
	}
	for _, e := range rec.evs {
		if !utf8.ValidString(e.Data) {
			t.Errorf("event data %q is not valid UTF-8", e.Data)
		}
	}
	if got := rec.data(sandbox.KindStderr); got != text {
		t.Errorf("emitted %q, want %q", got, text)
	}
	if _, stderr := o.Text(); stderr != text {
		t.Errorf("Text() stderr = %q, want %q", stderr, text)
	}
}

func TestOutputFlush(t *testing.T) {
	var rec recorder
	o := New(rec.emit, 0, 1<<20, time.Now())
	mustWrite(t, o.Stdout(), "ab\xe2\x82") // "ab" and the start of "€"
	mustWrite(t, o.Stderr(), "\xf0\x9f")   // the start of "😀"
	if got := rec.data(sandbox.KindStdout); got != "ab" {
		t.Errorf("before Flush, stdout = %q, want %q", got, "ab")
	}
	if got := rec.data(sandbox.KindStderr); got != "" {
		t.Errorf("before Flush, stderr = %q, want nothing", got)
	}
	o.Flush()
	if got := rec.data(sandbox.KindStdout); got != "ab\xe2\x82" {
		t.Errorf("after Flush, stdout = %q, want %q", got, "ab\xe2\x82")
	}
	if got := rec.data(sandbox.KindStderr); got != "\xf0\x9f" {
		t.Errorf("after Flush, stderr = %q, want %q", got, "\xf0\x9f")
	}
	n := len(rec.evs)
	o.Flush()
	if len(rec.evs) != n {
		t.Errorf("a second Flush emitted %+v, want nothing", rec.evs[n:])
	}
}

func TestOutputConcurrentWrites(t *testing.T) {
	var rec recorder
	o := New(rec.emit, 1, 1<<20, time.Now())
	const n = 500
	var wg sync.WaitGroup
	for _, w := range []io.Writer{o.Stdout(), o.Stderr(), o.Stdout()} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				w.Write([]byte("ab€\n"))
			}
		}()
	}
	wg.Wait()
	o.Flush()
	stdout, stderr := o.Text()
	if want := strings.Repeat("ab€\n", 2*n); stdout != want {
		t.Errorf("stdout is %d bytes, want %d", len(stdout), len(want))
	}
	if want := strings.Repeat("ab€\n", n); stderr != want {
		t.Errorf("stderr is %d bytes, want %d", len(stderr), len(want))
	}
	if got := rec.data(sandbox.KindStdout); got != stdout {
		t.Errorf("emitted stdout differs from Text()")
	}
	if len(rec.evs) != 3*n {
		t.Errorf("%d events, want %d (one per write)", len(rec.evs), 3*n)
	}
}

func TestOutputConcurrentLimit(t *testing.T) {
	var rec recorder
	const limit = 1000
	o := New(rec.emit, 0, limit, time.Now())
	var wg sync.WaitGroup
	for _, w := range []io.Writer{o.Stdout(), o.Stderr()} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if n, err := w.Write([]byte("0123456789")); n != 10 || err != nil {
					t.Errorf("Write = %d, %v, want 10, nil", n, err)
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-o.Exceeded():
	default:
		t.Fatal("Exceeded not closed after 4000 bytes with limit 1000")
	}
	if got := len(rec.data(sandbox.KindStdout)) + len(rec.data(sandbox.KindStderr)); got != limit {
		t.Errorf("emitted %d bytes, want the limit %d", got, limit)
	}
}

func TestTally(t *testing.T) {
	exit := func(code int, r sandbox.Reason) sandbox.Event {
		return sandbox.Event{Kind: sandbox.KindExit, Code: code, Reason: r}
	}
	tl := NewTally()
	tl.Add("2\n", false, exit(0, sandbox.ReasonExited))
	tl.Add("1\n", true, exit(66, sandbox.ReasonExited))
	tl.Add("2 \t\r\n", false, exit(0, sandbox.ReasonExited))
	tl.Add("b", false, exit(0, sandbox.ReasonExited))
	tl.Add("a\n\n", true, exit(66, sandbox.ReasonExited))
	tl.Add("", false, exit(2, sandbox.ReasonTimeout))
	tl.Add("  lead", false, exit(0, sandbox.ReasonExited))

	want := &sandbox.Summary{
		Runs: 7,
		Outputs: []sandbox.Outcome{
			{Output: "2", Count: 2},
			{Output: "", Count: 1},
			{Output: "  lead", Count: 1},
			{Output: "1", Count: 1},
			{Output: "a", Count: 1},
			{Output: "b", Count: 1},
		},
		Reasons: map[sandbox.Reason]int{sandbox.ReasonExited: 6, sandbox.ReasonTimeout: 1},
		Codes:   map[string]int{"0": 4, "66": 2, "2": 1},
		Races:   2,
	}
	if got := tl.Summary(); !reflect.DeepEqual(got, want) {
		t.Errorf("Summary() = %+v, want %+v", got, want)
	}
}

func TestTallyEmpty(t *testing.T) {
	got := NewTally().Summary()
	if got.Runs != 0 || len(got.Outputs) != 0 || len(got.Reasons) != 0 || len(got.Codes) != 0 || got.Races != 0 {
		t.Errorf("NewTally().Summary() = %+v, want all zero", got)
	}
}

// chunk is one Write that reached Pump's destination, and when.
type chunk struct {
	data []byte
	at   time.Time
}

// chunks records the writes Pump makes; Pump reuses its buffer, so each
// write is copied.
type chunks struct {
	mu  sync.Mutex
	got []chunk
}

func (c *chunks) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, chunk{bytes.Clone(p), time.Now()})
	return len(p), nil
}

func (c *chunks) snapshot() []chunk {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]chunk(nil), c.got...)
}

// startPump runs Pump on a new pipe and returns its write end, the
// destination and a channel closed when Pump returns.
func startPump(t *testing.T) (*os.File, *chunks, <-chan struct{}) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	dst := &chunks{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Pump(r, dst)
	}()
	t.Cleanup(func() {
		w.Close()
		<-done
		r.Close()
	})
	return w, dst, done
}

func waitDone(t *testing.T, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Pump did not return 5s after the write end was closed")
	}
}

func TestPumpGathers(t *testing.T) {
	w, dst, done := startPump(t)
	var want []byte
	for i := range 200 {
		b := []byte{byte('a' + i%26)}
		want = append(want, b...)
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	waitDone(t, done)

	got := dst.snapshot()
	var all []byte
	for _, c := range got {
		all = append(all, c.data...)
	}
	if !bytes.Equal(all, want) {
		t.Errorf("Pump delivered %q, want %q", all, want)
	}
	if len(got) >= 20 {
		t.Errorf("200 one-byte writes reached the destination in %d writes, want fewer than 20", len(got))
	}
}

func TestPumpLatency(t *testing.T) {
	w, dst, done := startPump(t)
	start := time.Now()
	if _, err := w.Write([]byte("line\n")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the program pauses after a line
	got := dst.snapshot()
	if len(got) == 0 {
		t.Fatal("a line was not delivered during a 200ms pause")
	}
	if string(got[0].data) != "line\n" {
		t.Errorf("first delivery = %q, want %q", got[0].data, "line\n")
	}
	if lat := got[0].at.Sub(start); lat >= 50*time.Millisecond {
		t.Errorf("a line took %v to arrive, want less than 50ms (Gather is %v)", lat, Gather)
	}
	if _, err := w.Write([]byte("after")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	waitDone(t, done)
	if got := dst.snapshot(); len(got) != 2 || string(got[1].data) != "after" {
		t.Errorf("after the pause, deliveries = %d, want a second one of %q", len(got), "after")
	}
}

func TestPumpEmpty(t *testing.T) {
	w, dst, done := startPump(t)
	w.Close()
	waitDone(t, done)
	if got := dst.snapshot(); len(got) != 0 {
		t.Errorf("Pump of an empty pipe wrote %d times, want none", len(got))
	}
}

// A litmus test prints its outcomes as "label: N" lines; over the runs
// they are summed into one table.
func TestTallyCounted(t *testing.T) {
	tl := NewTally()
	ok := sandbox.Event{Kind: sandbox.KindExit, Reason: sandbox.ReasonExited}
	tl.Add("r1=0 r2=0: 3\nr1=1 r2=0: 90\nr1=0 r2=1: 7\n", false, ok)
	tl.Add("r1=0 r2=0: 1\nr1=1 r2=0: 99\n", false, ok)
	tl.Add("a line that counts nothing\n", false, ok)
	want := []sandbox.Counted{{Label: "r1=1 r2=0", Count: 189}, {Label: "r1=0 r2=1", Count: 7}, {Label: "r1=0 r2=0", Count: 4}}
	if got := tl.Summary().Counted; !reflect.DeepEqual(got, want) {
		t.Errorf("Counted = %+v, want %+v", got, want)
	}
}

// A racy counter prints one total a run: the summary keeps them, in run
// order, for the page to show their spread; a run that printed no number
// (or two) means there is no such spread.
func TestTallyNumbers(t *testing.T) {
	ok := sandbox.Event{Kind: sandbox.KindExit, Reason: sandbox.ReasonExited}
	tl := NewTally()
	for _, out := range []string{"n = 1564294\n", "n = 968568\n", "n = 2000000\n"} {
		tl.Add(out, true, ok)
	}
	s := tl.Summary()
	if want := []float64{1564294, 968568, 2000000}; !reflect.DeepEqual(s.Numbers, want) {
		t.Errorf("Numbers = %v, want %v", s.Numbers, want)
	}
	if got := []string{s.Outputs[0].Output, s.Outputs[1].Output, s.Outputs[2].Output}; !reflect.DeepEqual(got, []string{"n = 968568", "n = 1564294", "n = 2000000"}) {
		t.Errorf("outputs in the order %q, want numbers as numbers", got)
	}
	tl.Add("no number here\n", false, ok)
	if s := tl.Summary(); s.Numbers != nil {
		t.Errorf("Numbers = %v after a run without a number, want none", s.Numbers)
	}
}

func TestNaturalLess(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		less bool
	}{
		{"n = 968568", "n = 1564294", true},
		{"n = 1564294", "n = 968568", false},
		{"a 9 b", "a 10 a", true},
		{"007", "7", false},
		{"x", "x1", true},
		{"b", "a", false},
	} {
		if got := naturalLess(tt.a, tt.b); got != tt.less {
			t.Errorf("naturalLess(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.less)
		}
	}
}
