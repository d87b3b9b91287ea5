package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The output panel of a cell (web/src/output.js), on the real sandbox:
// output streamed as it is printed, program output kept as text, and
// auto-scroll while a run prints.
func TestBrowserOutput(t *testing.T) {
	bt := newBrowserTest(t, site{})
	for _, st := range []subtest{
		{"Stream", testOutputStream}, // first: it edits the lesson's own program
		{"ScriptStaysText", testOutputScriptStaysText},
		{"AutoScroll", testOutputAutoScroll},
	} {
		t.Run(st.name, func(t *testing.T) { st.run(t, bt) })
	}
}

const (
	editComment  = "// edited in the browser"
	scriptOutput = `<script>document.title="pwned"</script><img src=x onerror="document.title='pwned'">`
)

func testOutputStream(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	cell, _ := bt.lib.Cell(cellStream)
	editor := chromedp.CSS(fmt.Sprintf(`figure[data-cell=%q] .cm-content`, cellStream))
	do(t, tab, "type into the editor",
		chromedp.Click(editor),
		chromedp.KeyEvent(kb.End, chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.KeyEvent(editComment))
	want := map[string]string{"main.go": cell.FileMap()["main.go"] + editComment}
	key := jsString("racelab:cell:" + cellStream)
	poll(t, tab, "the edit to be saved", browserWait, "localStorage.getItem("+key+") || ''", func(s string) bool {
		var got map[string]string
		return json.Unmarshal([]byte(s), &got) == nil && maps.Equal(got, want)
	})

	// The first line must show while the program sleeps: note when it
	// appears and when the status says done.
	pressed := time.Now()
	do(t, tab, "press run", chromedp.Click(button(cellStream, "run")))
	var first time.Time
	var secondWithFirst bool
	end := poll(t, tab, "the run to end", browserWait, cellExpr(cellStream), func(v cellView) bool {
		if first.IsZero() && strings.Contains(v.Stdout, "first line") {
			first, secondWithFirst = time.Now(), strings.Contains(v.Stdout, "second line")
		}
		return v.over()
	})
	done := time.Now()
	if end.State != "done" || end.Reason != "exited" || end.Code != "0" {
		failShot(t, tab, "run ended %+v, want done, exited, code 0", end)
	}
	if want := "first line\nsecond line, a second later\n"; end.Stdout != want {
		t.Errorf("stdout %q, want %q", end.Stdout, want)
	}
	t.Logf("run pressed → first line %v, first line → done %v", first.Sub(pressed), done.Sub(first))
	switch {
	case first.IsZero():
		t.Errorf("never saw the first line alone")
	case secondWithFirst:
		t.Errorf("the second line was there when the first appeared: output is not streamed")
	case done.Sub(first) < streamGap:
		t.Errorf("first line only %v before done, want ≥ %v: output is not streamed", done.Sub(first), streamGap)
	}
	screenshot(t, tab, "lesson.png")
}

func testOutputScriptStaysText(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	src := "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(`" + scriptOutput + "`)\n}\n"
	bt.putProgram(t, tab, cellHello, src)
	v := runCell(t, tab, cellHello, "run")
	if v.State != "done" || v.Stdout != scriptOutput+"\n" || !strings.Contains(v.Output, scriptOutput) {
		failShot(t, tab, "run ended %s with stdout %q, want done and the markup as text", v.State, v.Stdout)
	}
	type markup struct {
		Elements int    `json:"elements"`
		Title    string `json:"title"`
	}
	m := eval[markup](t, tab, `({elements: document.querySelectorAll('.cell-output script, .cell-output img').length, title: document.title})`)
	if m.Elements != 0 || m.Title == "pwned" {
		failShot(t, tab, "program output became markup: %d script or img elements, title %q", m.Elements, m.Title)
	}
}

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
func testOutputAutoScroll(t *testing.T, bt *browserTest) {
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
