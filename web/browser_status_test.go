package web_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/racelab/racelab/lessons"
	"github.com/racelab/racelab/sandbox"
)

// The status line and the output of a run that went wrong
// (web/src/words.js, output.js, dump.js), on the real sandbox: words
// that know the mode and the reason, figures only when something ran; a
// timeout's dump with its registers and runtime frames folded away and
// the output scrolled to its start; a race report scrolled into view.
// With a fake run: the clock of a long run, and the live regions.
func TestBrowserStatus(t *testing.T) {
	bt := newBrowserTest(t, site{})
	for _, st := range []subtest{
		{"Deadlock", testStatusDeadlock},
		{"TimeoutDump", testStatusTimeoutDump},
		{"RaceInView", testStatusRaceInView},
		{"TestFails", testStatusTestFails},
		{"ClockAndLiveRegions", testStatusClock},
	} {
		t.Run(st.name, func(t *testing.T) { st.run(t, bt) })
	}
}

// statusParts is the status line, part by part.
type statusParts struct {
	State   string `json:"state"`
	Msg     string `json:"msg"`
	Stats   string `json:"stats"`
	Clock   string `json:"clock"`
	MsgRole string `json:"msgRole"`
	MsgLive string `json:"msgLive"`
}

func statusPartsExpr(id string) string {
	return `(() => {
	const s = document.querySelector('figure.cell[data-cell=' + ` + jsString(id) + ` + '] .cell-status');
	const t = (sel) => { const e = s.querySelector(sel); return e ? e.textContent : ''; };
	const m = s.querySelector('.status-msg'), st = s.querySelector('.status-stats'), c = s.querySelector('.status-clock');
	return {state: s.dataset.state, msg: t('.status-msg'), stats: t('.status-stats'), clock: t('.status-clock'),
		msgRole: m.getAttribute('role') || '', msgLive: m.getAttribute('aria-live') || '',
		statsLive: st.getAttribute('aria-live') || '', statsInMsg: m.contains(st),
		clockRole: c.getAttribute('role') || '', clockLive: c.getAttribute('aria-live') || '',
		statusLive: s.getAttribute('aria-live') || ''};
})()`
}

func testStatusDeadlock(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellHello, deadlocked)
	v := runCell(t, tab, cellHello, "run")
	s := eval[statusParts](t, tab, statusPartsExpr(cellHello))
	if v.Code != "2" || !strings.HasPrefix(s.Msg, "Deadlock: every goroutine was blocked") || strings.Contains(s.Msg, "above") {
		failShot(t, tab, "deadlock ended with code %q saying %q, want the deadlock named", v.Code, s.Msg)
	}
	if !strings.Contains(s.Stats, "ms wall") {
		t.Errorf("figures %q, want the run's timing: the program ran", s.Stats)
	}
}

// streamFold is what the output box shows of a dump.
type streamFold struct {
	Visible   string  `json:"visible"`   // the text that is displayed
	Elided    string  `json:"elided"`    // the notes shown in place of what is hidden
	Hidden    int     `json:"hidden"`    // folded spans
	Toggle    string  `json:"toggle"`    // the button's words
	FirstLine string  `json:"firstLine"` // the text at the top of the box
	Top       float64 `json:"top"`
	Bottom    float64 `json:"bottom"`
	ReportAt  float64 `json:"reportAt"` // the race report's first line, from the box's top; -1 when not in view
}

// streamFoldExpr reads the box's text as displayed (innerText leaves out
// what is display: none) and the line at its top edge.
func streamFoldExpr(id string) string {
	return `(() => {
	const f = document.querySelector('figure.cell[data-cell=' + ` + jsString(id) + ` + ']');
	const s = f.querySelector('pre.cell-stream');
	const b = f.querySelector('.dump-toggle');
	const r = s.getBoundingClientRect();
	const at = document.caretRangeFromPoint(r.left + 20, r.top + 14);
	let first = '';
	if (at && at.startContainer.nodeType === 3) {
		const text = at.startContainer.data, i = at.startOffset;
		first = text.slice(text.lastIndexOf('\n', i - 1) + 1).split('\n', 1)[0];
	}
	let reportAt = -1;
	const w = document.createTreeWalker(s, NodeFilter.SHOW_TEXT);
	for (let n = w.nextNode(); n; n = w.nextNode()) {
		const i = n.data.indexOf('==================\nWARNING: DATA RACE');
		if (i < 0) continue;
		const rg = document.createRange();
		rg.setStart(n, i);
		rg.setEnd(n, i + 18);
		const rr = rg.getBoundingClientRect();
		if (rr.top >= r.top && rr.bottom <= r.bottom) reportAt = rr.top - r.top;
		break;
	}
	return {visible: s.innerText, reportAt,
		elided: [...s.querySelectorAll('.out-elided')].filter((e) => getComputedStyle(e, '::before').content !== 'none' && e.getClientRects().length > 0).map((e) => e.dataset.lines).join(''),
		hidden: s.querySelectorAll('.out-internal').length, toggle: b ? b.textContent : '',
		firstLine: first, top: s.scrollTop, bottom: s.scrollHeight - s.clientHeight};
})()`
}

func testStatusTimeoutDump(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellHello, selectForever)
	do(t, tab, "press run", chromedp.Click(button(cellHello, "run")))
	// The clock shows while the program runs into the time limit.
	c := poll(t, tab, "the clock of the running program", browserWait, statusPartsExpr(cellHello), func(s statusParts) bool {
		return s.Clock != "" || s.State == "failed"
	})
	// The build event says the run's time limit (timeout_ms): the clock
	// counts it down.
	if !regexp.MustCompile(`^\d+ s left of \d+ s$`).MatchString(c.Clock) {
		failShot(t, tab, "while running the clock says %q (state %s), want N s left of M s", c.Clock, c.State)
	}
	v := poll(t, tab, "the run to time out", browserWait, cellExpr(cellHello), cellView.over)
	s := eval[statusParts](t, tab, statusPartsExpr(cellHello))
	if v.Reason != "timeout" || !strings.HasPrefix(s.Msg, "The program was still running at the time limit after ") || s.Clock != "" {
		failShot(t, tab, "timeout ended %s (%s) saying %q, clock %q", v.State, v.Reason, s.Msg, s.Clock)
	}
	if !strings.Contains(v.Stderr, "rflags") || !strings.Contains(v.Stderr, "runtime.gopark") {
		t.Fatalf("stderr %q: want a SIGQUIT dump with registers and runtime frames to fold", v.Stderr)
	}
	d := eval[streamFold](t, tab, streamFoldExpr(cellHello))
	t.Logf("folded: %d spans, toggle %q, top line %q (%v of %v)", d.Hidden, d.Toggle, d.FirstLine, d.Top, d.Bottom)
	if d.Hidden == 0 || strings.Contains(d.Visible, "rflags") || strings.Contains(d.Visible, "runtime.gopark(") || d.Toggle != "Show the full dump" {
		failShot(t, tab, "the dump shows %q with %d folds and toggle %q: want registers and runtime frames hidden", d.Visible, d.Hidden, d.Toggle)
	}
	if !strings.Contains(d.Visible, "main.go:11") || !strings.Contains(d.Elided, "lines of runtime frames") {
		t.Errorf("the folded dump shows %q and notes %q, want main.go:11 and a note of what is hidden", d.Visible, d.Elided)
	}
	if d.FirstLine != "SIGQUIT: quit" {
		failShot(t, tab, "the box starts at %q (scrolled %v of %v), want the dump's first line", d.FirstLine, d.Top, d.Bottom)
	}
	shot(t, tab, cellHello, "views-timeout-folded.png")
	do(t, tab, "show the full dump", chromedp.Click(chromedp.CSS(`figure[data-cell="`+cellHello+`"] .dump-toggle`)))
	d = eval[streamFold](t, tab, streamFoldExpr(cellHello))
	if !strings.Contains(d.Visible, "rflags") || !strings.Contains(d.Visible, "runtime.gopark(") || d.Toggle != "Hide the runtime internals" {
		failShot(t, tab, "after Show the full dump the box shows %q, toggle %q", d.Visible, d.Toggle)
	}
}

// racyAfterLines prints 60 lines, races on n (lines 13 and 14), and
// prints 60 more: the race report sits in the middle of a long output.
const racyAfterLines = `package main

import "fmt"

func main() {
	for i := range 60 {
		fmt.Println("before", i)
	}
	n := 0
	done := make(chan bool)
	go func() {
		n++
		done <- true
	}()
	n++
	<-done
	for i := range 60 {
		fmt.Println("after", i)
	}
}
`

func testStatusRaceInView(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellRacy, racyAfterLines)
	v := runCell(t, tab, cellRacy, "race")
	if v.Code != "66" || !strings.Contains(v.Stdout, "after 59") {
		failShot(t, tab, "the race run ended %s with code %q: %q", v.State, v.Code, v.Stdout)
	}
	// The box starts at the report, or, when the report ends the output
	// (stdout and stderr come in any order), shows it whole at its end.
	// The report comes whole, its first line with the rest: the race
	// runtime writes it line by line, and under load stdout the program
	// wrote after the whole report could come between its first line and
	// the heading (seen: that line, then "after 0" to "after 59", then
	// the heading), until racelab held a report back to its closing line
	// (stream.Output).
	d := eval[streamFold](t, tab, streamFoldExpr(cellRacy))
	t.Logf("the box starts at %q (scrolled %v of %v); the report's first line is %v px down", d.FirstLine, d.Top, d.Bottom, d.ReportAt)
	if d.ReportAt < 0 || (d.FirstLine != "==================" && d.Top < d.Bottom) {
		failShot(t, tab, "the box starts at %q (scrolled %v of %v), the report's first line at %v: want the report's first line at the top, or in view at the end", d.FirstLine, d.Top, d.Bottom, d.ReportAt)
	}
	s := eval[statusParts](t, tab, statusPartsExpr(cellRacy))
	if !strings.HasPrefix(s.Msg, "The race detector found a data race") || !strings.Contains(s.Msg, "below") {
		t.Errorf("status %q", s.Msg)
	}
	shot(t, tab, cellRacy, "views-race-in-view.png")
}

// An exercise's starting code fails its hidden test: "a test failed",
// not "exited with status 1".
func testStatusTestFails(t *testing.T, bt *browserTest) {
	c := findCell(t, bt.lib, "an exercise in mode test", func(c *lessons.Cell) bool {
		return c.Exercise != "" && c.Mode == "test" && len(c.Hidden) > 0
	})
	tab := bt.openCell(t, c)
	v := runCell(t, tab, c.ID, "run")
	s := eval[statusParts](t, tab, statusPartsExpr(c.ID))
	if (v.Code != "1" || !strings.HasPrefix(s.Msg, "A test failed")) && (v.Code != "2" || !strings.HasPrefix(s.Msg, "A test panicked")) {
		failShot(t, tab, "the exercise's test ended with code %q saying %q, want A test failed (1) or panicked (2)", v.Code, s.Msg)
	}
	t.Logf("%s: %s", c.ID, s.Msg)
}

// A fake run of 2.5 s whose limit the build event gives: the clock counts
// down, and the words, the figures and the clock are live regions of their own.
func testStatusClock(t *testing.T, bt *browserTest) {
	fake := &fakeRun{script: func(sandbox.Request) []any {
		return []any{map[string]any{"kind": "build", "ms": 40, "timeout_ms": 10000}, 2500 * time.Millisecond,
			map[string]any{"kind": "stdout", "data": "done\n"},
			map[string]any{"kind": "exit", "code": 0, "reason": "exited", "ms": 2500, "cpu_ms": 3}}
	}}
	ft := bt.serve(t, fake.site())
	tab := ft.openLesson(t)
	do(t, tab, "press run", chromedp.Click(button(cellHello, "run")))
	type parts struct {
		statusParts
		StatsLive  string `json:"statsLive"`
		StatsInMsg bool   `json:"statsInMsg"`
		ClockRole  string `json:"clockRole"`
		ClockLive  string `json:"clockLive"`
		StatusLive string `json:"statusLive"`
	}
	p := poll(t, tab, "the clock", browserWait, statusPartsExpr(cellHello), func(p parts) bool { return p.Clock != "" || p.State == "done" })
	if !strings.HasSuffix(p.Clock, " s left of 10 s") || p.Msg != "built in 40 ms, running…" {
		failShot(t, tab, "while running: %+v, want a countdown of the 10 s limit", p)
	}
	if p.MsgRole != "status" || p.MsgLive != "polite" || p.StatsLive != "polite" || p.StatsInMsg || p.ClockRole != "timer" || p.ClockLive != "off" || p.StatusLive != "" {
		t.Errorf("live regions %+v: want the words and the figures apart, the clock silent", p)
	}
	p = poll(t, tab, "the end", browserWait, statusPartsExpr(cellHello), func(p parts) bool { return p.State == "done" })
	if p.Clock != "" || p.Msg != "The program finished normally." || p.Stats != "2500 ms wall · 3 ms CPU" {
		t.Errorf("after the run: %+v", p)
	}
}
