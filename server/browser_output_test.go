package server

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"github.com/racelab/racelab/sandbox"
)

// The output panel of a cell: the place in line while a run waits for a
// slot, and auto-scroll while a run prints.

// manyLines prints 500 lines, 2 ms apart: a stream of a second or more
// that overflows the output panel many times over.
const manyLines = `package main

import (
	"fmt"
	"time"
)

func main() {
	for i := 1; i <= 500; i++ {
		fmt.Printf("line %d of 500\n", i)
		time.Sleep(2 * time.Millisecond)
	}
}
`

// wheelAfter is how many lines the panel shows when the reader turns the
// mouse wheel: enough to overflow it, and far from the end of the stream.
const wheelAfter = 60

// scrollTrace is what the page saw of the output panel: its scroll
// position after each change of the output, and when the wheel turned.
type scrollTrace struct {
	Samples []scrollSample `json:"samples"`
	WheelAt int            `json:"wheelAt"` // lines shown when the wheel turned; 0 if it never did
}

type scrollSample struct {
	Lines  int     `json:"lines"`  // lines shown
	Top    float64 `json:"top"`    // scrollTop
	Bottom float64 `json:"bottom"` // scrollTop at the bottom: scrollHeight - clientHeight
}

func (s scrollSample) atBottom() bool { return s.Top >= s.Bottom-1 }

// traceScrollExpr watches the output panel of a cell from inside the page,
// and brings the cell into view so that the panel will be under the mouse.
// A MutationObserver's callback runs right after each piece of output is
// added, so the trace holds every position the panel takes, however slowly
// the test polls: the assertions are on positions, not on timing.
func traceScrollExpr(id string) string {
	return `(() => {
	const f = document.querySelector('figure.cell[data-cell=' + ` + jsString(id) + ` + ']');
	const s = f.querySelector('pre.cell-stream');
	const lines = () => (s.textContent.match(/\n/g) || []).length;
	const tr = window.racelabScrollTrace = {samples: [], wheelAt: 0};
	new MutationObserver(() => {
		const n = lines();
		if (n > 0) tr.samples.push({lines: n, top: s.scrollTop, bottom: s.scrollHeight - s.clientHeight});
	}).observe(s, {childList: true, characterData: true, subtree: true});
	s.addEventListener('wheel', () => { tr.wheelAt = tr.wheelAt || lines(); }, {passive: true});
	f.scrollIntoView({block: 'start'});
})()`
}

func streamExpr(id string) string {
	return `(() => {
	const s = document.querySelector('figure.cell[data-cell=' + ` + jsString(id) + ` + '] pre.cell-stream');
	const r = s.getBoundingClientRect();
	return {lines: (s.textContent.match(/\n/g) || []).length, top: s.scrollTop, bottom: s.scrollHeight - s.clientHeight,
		x: r.left + r.width / 2, y: r.top + r.height / 2};
})()`
}

// streamView is the output panel: its scroll position and its middle.
type streamView struct {
	scrollSample
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// wheelParams turns the mouse wheel. cdproto's DispatchMouseEventParams
// leaves out a zero deltaX, which the protocol requires of a wheel.
type wheelParams struct {
	Type   string  `json:"type"`
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
	DeltaX float64 `json:"deltaX"`
	DeltaY float64 `json:"deltaY"`
}

var dispatchWheel = cdp.Command[wheelParams, cdp.Empty]{Method: input.CommandDispatchMouseEvent}

// The reader scrolls the way readers do, with the mouse wheel, whose
// scroll and scroll event reach the page together. (A scroll by script is
// not enough: the page learns of it from the scroll event, at its next
// frame, and output that arrives before then scrolls the panel back down.)
func testBrowserAutoScroll(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellHello, manyLines)
	eval[chromedp.Void](t, tab, traceScrollExpr(cellHello))
	do(t, tab, "press run", chromedp.Click(button(cellHello, "run")))
	s := poll(t, tab, "the output to overflow its panel", browserWait, streamExpr(cellHello), func(s streamView) bool {
		return s.Lines >= wheelAfter
	})
	do(t, tab, "turn the mouse wheel over the panel",
		cdpCall(dispatchWheel, wheelParams{Type: "mouseWheel", X: s.X, Y: s.Y, DeltaY: -400}))
	v := poll(t, tab, "the run to end", browserWait, cellExpr(cellHello), cellView.over)
	if v.State != "done" || strings.Count(v.Stdout, "\n") != 500 {
		failShot(t, tab, "run ended %s with %d lines, want done and 500", v.State, strings.Count(v.Stdout, "\n"))
	}
	tr := eval[scrollTrace](t, tab, `window.racelabScrollTrace`)
	end := eval[streamView](t, tab, streamExpr(cellHello)).scrollSample
	checkScrollTrace(t, tab, tr, end)
}

// checkScrollTrace holds the trace to auto-scroll's promise: at the bottom
// until the reader scrolls up, and from then on where the reader left it.
func checkScrollTrace(t *testing.T, tab context.Context, tr scrollTrace, end scrollSample) {
	t.Helper()
	if tr.WheelAt < wheelAfter || tr.WheelAt >= 500 {
		failShot(t, tab, "the wheel turned at line %d, want mid-stream", tr.WheelAt)
	}
	followed, up := 0, -1
	for i, s := range tr.Samples {
		switch {
		case up < 0 && s.atBottom():
			if s.Bottom > 0 {
				followed++
			}
		case up < 0 && s.Lines < tr.WheelAt:
			failShot(t, tab, "at line %d, before the reader scrolled, the panel is at %v, want the bottom (%v)", s.Lines, s.Top, s.Bottom)
		case up < 0:
			up = i
		case s.atBottom() || s.Top > tr.Samples[i-1].Top:
			failShot(t, tab, "at line %d, after the reader scrolled up at line %d, the panel moved down to %v (bottom %v): auto-scroll did not stop",
				s.Lines, tr.Samples[up].Lines, s.Top, s.Bottom)
		}
	}
	t.Logf("%d changes of the output; the panel followed %d of them while overflowing; the wheel turned at line %d; at the end %+v",
		len(tr.Samples), followed, tr.WheelAt, end)
	if up < 0 || followed < 2 {
		failShot(t, tab, "the panel followed the output %d times and was scrolled up at sample %d of %d, want both mid-stream", followed, up, len(tr.Samples))
	}
	if last := tr.Samples[len(tr.Samples)-1]; end.Lines != 500 || end.Top != last.Top || end.atBottom() {
		failShot(t, tab, "after the run the panel is at %v of %v with %d lines, want it where the reader left it (%v)", end.Top, end.Bottom, end.Lines, last.Top)
	}
}

// cellStatus is a cell's status line.
type cellStatus struct {
	State string `json:"state"`
	Text  string `json:"text"`
}

func statusExpr(id string) string {
	return `(() => {
	const s = document.querySelector('figure.cell[data-cell=' + ` + jsString(id) + ` + '] .cell-status');
	return s ? {state: s.dataset.state || '', text: s.textContent} : {state: '', text: ''};
})()`
}

// blocking holds a run slot until its socket closes (or the test
// sandbox's 5 s run timeout ends it).
const blocking = "package main\n\nimport (\n\t\"fmt\"\n\t\"time\"\n)\n\nfunc main() {\n\tfmt.Println(\"holding the only slot\")\n\ttime.Sleep(20 * time.Second)\n}\n"

// The place in line, live: with one run slot taken by a program started
// over a websocket from here, the learner's run waits and says so, then
// runs when the slot is free.
func testBrowserQueuePosition(t *testing.T, bt *browserTest) {
	s, err := New(Config{MaxRuns: 1}, bt.lib, bt.runner)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	qt := &browserTest{ctx: bt.ctx, url: ts.URL, runner: bt.runner, lib: bt.lib}
	tab := qt.openLesson(t)

	c := dial(t, ts)
	send(t, c, sandbox.Request{Files: map[string]string{"main.go": blocking}})
	readUntil(t, c, sandbox.KindStdout)
	held := time.Now()
	do(t, tab, "press run", chromedp.Click(button(cellHello, "run")))
	// The wait ends on the place in line, or on a run that did not wait.
	st := poll(t, tab, "the run to wait in line", browserWait, statusExpr(cellHello), func(s cellStatus) bool {
		switch s.State {
		case "idle", "connecting":
			return false
		case "waiting":
			return strings.Contains(s.Text, "1st in line")
		}
		return true
	})
	if st.State != "waiting" {
		failShot(t, tab, "with the only slot taken the status is %s %q, want waiting, 1st in line", st.State, st.Text)
	}
	t.Logf("slot taken → %q after %v", st.Text, time.Since(held))
	if v := eval[cellView](t, tab, cellExpr(cellHello)); v.Stdout != "" {
		t.Errorf("while waiting the cell shows %q, want nothing yet", v.Stdout)
	}

	c.Close(websocket.StatusNormalClosure, "")
	v := poll(t, tab, "the run to end once the slot is free", browserWait, cellExpr(cellHello), cellView.over)
	if v.State != "done" || v.Stdout != "hello, racelab\n" {
		failShot(t, tab, "after the slot was freed the run ended %s with stdout %q, want done and hello, racelab", v.State, v.Stdout)
	}
	if left := waitNoLeftovers(bt.runner, browserWait); len(left) > 0 {
		t.Errorf("after both runs the sandbox still holds %v", left)
	}
}

// readUntil reads events from c up to one of kind k, failing on an exit or
// an error first, or when that takes longer than browserWait.
func readUntil(t *testing.T, c *websocket.Conn, k sandbox.Kind) []sandbox.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), browserWait)
	defer cancel()
	var evs []sandbox.Event
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for a %s event after %s: %v", k, kinds(evs), err)
		}
		var e sandbox.Event
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("event %q: %v", b, err)
		}
		evs = append(evs, e)
		switch e.Kind {
		case k:
			return evs
		case sandbox.KindExit, sandbox.KindError:
			t.Fatalf("the run ended (%+v) before a %s event", e, k)
		}
	}
}
