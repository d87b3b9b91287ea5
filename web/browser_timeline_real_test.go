package web_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/chromedp/chromedp"
)

// The goroutine timeline on the real sandbox: the Timeline button runs
// the hand-off traced in runc, the server parses the trace, and the page
// draws the arrow from main's send to the worker's receive. The hand-off
// is run handOffRuns times: the sleep before the send makes the worker
// wait first, and each run must show it.
func TestBrowserTimeline(t *testing.T) {
	bt := newBrowserTest(t, site{lessons: timelineLesson})
	for _, st := range []subtest{
		{"HandOff", testTimelineRealHandOff},
		{"Many", testTimelineRealMany},
		{"Sync", testTimelineRealSync},
		{"LessonCell", testTimelineRealLessonCell},
		{"Lessons", testTimelineRealLessons},
	} {
		t.Run(st.name, func(t *testing.T) { st.run(t, bt) })
	}
}

const handOffRuns = 3

// timelineLesson holds the programs as a lesson's cells, whose
// expectations the runs meet; the hand-off's is traced and claims its edge.
var timelineLesson = fstest.MapFS{"01-timeline.md": {Data: []byte("---\ntitle: Timeline\nsummary: A hand-off to trace.\norder: 1\n---\n\n" +
	"## Hand-off\n\n```go {trace=true expect=\"output=got 42\\n\" expect=edge=send@19->receive@9}\n" + handOff + "```\n\n" +
	"## Many\n\n```go {expect=\"output=124750\\n\"}\n" + manyWorkers + "```\n\n" +
	"## Sync\n\n```go {expect=\"output=got the lock\\n\"}\n" + lockHandOff + "```\n")}}

const (
	cellHandOff = "timeline-1"
	cellMany    = "timeline-2"
	cellSync    = "timeline-3"
)

func testTimelineRealHandOff(t *testing.T, bt *browserTest) {
	tab, _ := bt.open(t, "/lessons/timeline")
	waitScript(t, tab)
	for run := range handOffRuns {
		v, tl := waitTimeline(t, tab, cellHandOff)
		if v.State != "done" || v.Stdout != "got 42\n" {
			failShot(t, tab, "run %d: the traced hand-off ended %s printing %q", run+1, v.State, v.Stdout)
		}
		if tl.Cut != "" || len(tl.Lanes) != 2 || tl.Lanes[0].Name != "main" || tl.Lanes[1].Name != "worker" || tl.Lanes[1].Created != "created at line 17" {
			failShot(t, tab, "run %d: cut %q, lanes %+v; want main and worker created at line 17", run+1, tl.Cut, tl.Lanes)
		}
		if !strings.HasPrefix(tl.Heading, "Timeline: 2 goroutines, ") {
			t.Errorf("run %d: heading %q", run+1, tl.Heading)
		}
		// The worker waited at its receive on line 9 until main's send.
		if !hasString(tl.Lanes[1].Spans, "blocked:chan receive@9") {
			failShot(t, tab, "run %d: the worker's spans %q, want it blocked in chan receive at line 9", run+1, tl.Lanes[1].Spans)
		}
		var found bool
		main, worker := tl.Lanes[0].Mid, tl.Lanes[1].Mid
		for _, a := range tl.Arrows {
			if a.FromLine == "19" && a.ToLine == "9" {
				found = true
				if a.From != "1" || a.Label != "send → receive" || abs(a.Start-main) > 10 || abs(a.Tip-worker) > 10 {
					failShot(t, tab, "run %d: the arrow from line 19 to line 9 is %+v; want it from main's lane (y %.0f) to the worker's (y %.0f), labelled send → receive",
						run+1, a, main, worker)
				}
			}
		}
		if !found {
			failShot(t, tab, "run %d: no arrow from line 19 to line 9 among %+v", run+1, tl.Arrows)
		}
		const want = "main's send at line 19 unblocked worker's receive at line 9"
		if len(tl.Items) == 0 || tl.Items[0] != want {
			failShot(t, tab, "run %d: the list %q, want it to start with %q", run+1, tl.Items, want)
		}
		ok := poll(t, tab, "the verdict", browserWait, `(document.querySelector('figure.cell[data-cell=`+jsString(cellHandOff)+`] .cell-verdict') || {dataset: {}}).dataset.ok || ''`,
			func(s string) bool { return s != "" })
		if ok != "true" {
			failShot(t, tab, "run %d: the verdict on the traced hand-off is %q, want true", run+1, ok)
		}
		t.Logf("run %d: %s; list %q", run+1, tl.Heading, tl.Items)
	}
	hoverAt(t, tab, cellHandOff, `.tl-edge[data-from-line="19"][data-to-line="9"] .tl-edge-hit`)
	if m := eval[tlMarks](t, tab, tlMarksExpr(cellHandOff)); !reflect.DeepEqual(m, tlMarks{From: []int{19}, To: []int{9}}) {
		failShot(t, tab, "hovering the arrow of main's send marks %+v, want from [19] to [9]", m)
	}
	moveAway(t, tab)
	// The README's picture: the first item of the list has the focus.
	eval[struct{}](t, tab, `(document.querySelector('figure.cell[data-cell=`+jsString(cellHandOff)+`] .tl-edge-btn').focus(), {})`)
	if m := eval[tlMarks](t, tab, tlMarksExpr(cellHandOff)); !reflect.DeepEqual(m, tlMarks{From: []int{19}, To: []int{9}}) {
		failShot(t, tab, "the first item has the focus and marks %+v, want from [19] to [9]", m)
	}
	docShot(t, tab, cellHandOff, "timeline-view.png")
}

func hasString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// 500 goroutines, each sending once to main: the server folds those past
// its lanes into an aggregate lane, and the page draws it within its
// limits.
func testTimelineRealMany(t *testing.T, bt *browserTest) {
	tab, _ := bt.open(t, "/lessons/timeline")
	waitScript(t, tab)
	v, tl := waitTimeline(t, tab, cellMany)
	if v.State != "done" || v.Stdout != "124750\n" {
		failShot(t, tab, "the 500 goroutines ended %s printing %q", v.State, v.Stdout)
	}
	var agg, folded int
	for _, l := range tl.Lanes {
		if l.Agg {
			agg++
			if !strings.HasPrefix(l.Name, "main.func1 ×") || len(l.Parts) == 0 {
				failShot(t, tab, "aggregate lane %+v, want main.func1 ×N with the shares of its states", l)
			}
		}
	}
	for _, f := range tl.Folded {
		if strings.HasPrefix(f, "main.func1 ×") && strings.Contains(f, "created at line 8") {
			folded++
		}
	}
	if agg == 0 || folded != agg || len(tl.Lanes) > 48 {
		failShot(t, tab, "%d lanes, %d aggregate, folded %q; want aggregate lanes, each in words", len(tl.Lanes), agg, tl.Folded)
	}
	if !strings.Contains(tl.Heading, "501 goroutines") || len(tl.Arrows) > 300 || tl.Tabbable > 40 || len(tl.Items) > 200 {
		failShot(t, tab, "heading %q, %d arrows, %d tab stops, %d items; want 501 goroutines and at most 300, 40, 200", tl.Heading, len(tl.Arrows), tl.Tabbable, len(tl.Items))
	}
	t.Logf("%s; %d lanes (%d aggregate), %d arrows, %d items, cut %q; drawn in %s ms", tl.Heading, len(tl.Lanes), agg, len(tl.Arrows), len(tl.Items), tl.Cut, tl.DrawMs)
	shot(t, tab, cellMany, "timeline-many-real.png")
}

// lockHandOff hands a mutex from main (Unlock, line 25) to a goroutine
// waiting in Lock (line 17), which then lets main's wg.Wait (line 26) go;
// main's close (line 27) releases the receive of line 22.
const lockHandOff = `package main

import (
	"fmt"
	"sync"
	"time"
)

func main() {
	var mu sync.Mutex
	var wg sync.WaitGroup
	done := make(chan struct{})
	mu.Lock()
	wg.Add(1)
	go func() {
		defer func() { time.Sleep(20 * time.Millisecond); wg.Done() }()
		mu.Lock()
		fmt.Println("got the lock")
		mu.Unlock()
	}()
	go func() {
		<-done
	}()
	time.Sleep(20 * time.Millisecond)
	mu.Unlock()
	wg.Wait()
	close(done)
	time.Sleep(time.Millisecond)
}
`

// The mutex's, the WaitGroup's and close's edges, as the real tracer
// reports them: the arrow Unlock → Lock from line 25 to line 17, Done →
// Wait into line 26, close → receive from line 27 to line 22. The
// goroutine sleeps before Done so that main's Wait blocks: without it,
// the goroutine once ran to Done (on the other core, in CI) before main,
// just past its Unlock, reached Wait, and there was no edge to draw.
func testTimelineRealSync(t *testing.T, bt *browserTest) {
	tab, _ := bt.open(t, "/lessons/timeline")
	waitScript(t, tab)
	v, tl := waitTimeline(t, tab, cellSync)
	if v.State != "done" || v.Stdout != "got the lock\n" {
		failShot(t, tab, "the lock hand-off ended %s printing %q", v.State, v.Stdout)
	}
	var lock, wait, closed bool
	for _, a := range tl.Arrows {
		lock = lock || a.Label == "Unlock → Lock" && a.FromLine == "25" && a.ToLine == "17" && a.From == "1"
		wait = wait || a.Label == "Done → Wait" && a.ToLine == "26" && a.To == "1"
		closed = closed || a.Label == "close → receive" && a.FromLine == "27" && a.ToLine == "22" && a.From == "1"
	}
	if !lock || !wait || !closed {
		failShot(t, tab, "arrows %+v: want Unlock → Lock from main's line 25 to line 17, Done → Wait into main's line 26, close → receive from main's line 27 to line 22", tl.Arrows)
	}
	if !hasString(tl.Items, "main's Unlock at line 25 unblocked main.func1's Lock at line 17") {
		failShot(t, tab, "the list %q says nothing of main's Unlock at line 25", tl.Items)
	}
	hoverAt(t, tab, cellSync, `.tl-edge[data-from-line="25"][data-to-line="17"] .tl-edge-hit`)
	if m := eval[tlMarks](t, tab, tlMarksExpr(cellSync)); !reflect.DeepEqual(m, tlMarks{From: []int{25}, To: []int{17}}) {
		failShot(t, tab, "hovering the Unlock → Lock arrow marks %+v, want from [25] to [17]", m)
	}
	moveAway(t, tab)
	t.Logf("%s; list %q", tl.Heading, tl.Items)
	shot(t, tab, cellSync, "timeline-sync-real.png")
}

// Lesson 03's traced cell, on the built-in lessons: its Run traces the
// program, the server's verdict holds it to its edge claim (the receive at
// line 16 unblocks the send at line 19), and the page draws that arrow.
func testTimelineRealLessonCell(t *testing.T, bt *browserTest) {
	bt = bt.serve(t, site{})
	tab, _ := bt.open(t, "/lessons/"+traceLesson)
	waitScript(t, tab)
	v := runCell(t, tab, cellTraced, "run")
	tl := poll(t, tab, "the timeline", browserWait, timelineExpr(cellTraced), func(v timelineView) bool { return v.Found })
	if v.State != "done" {
		failShot(t, tab, "the traced lesson cell ended %s: %s", v.State, v.Output)
	}
	ok := poll(t, tab, "the verdict", browserWait, `(document.querySelector('figure.cell[data-cell=`+jsString(cellTraced)+`] .cell-verdict') || {dataset: {}}).dataset.ok || ''`,
		func(s string) bool { return s != "" })
	if ok != "true" {
		failShot(t, tab, "the verdict on the traced cell is %q, want true", ok)
	}
	var found bool
	for _, a := range tl.Arrows {
		found = found || a.Label == "receive → send" && a.FromLine == "16" && a.ToLine == "19" && a.To == "1"
	}
	if !found {
		failShot(t, tab, "arrows %+v: want receive → send from line 16 to main's line 19", tl.Arrows)
	}
	// The caption says the claim in words, as a claim of its own.
	if claim := eval[string](t, tab, `(document.querySelector('figure.cell[data-cell=`+jsString(cellTraced)+`] li.expect-claim[data-kind="edge"]') || {}).textContent || ''`); claim != "the timeline shows that the receive at line 16 unblocks the send at line 19" {
		failShot(t, tab, "the caption's edge claim reads %q", claim)
	}
	t.Logf("%s; list %q", tl.Heading, tl.Items)
	shot(t, tab, cellTraced, "timeline-lesson-03.png")
}

// The traced cells of the built-in lessons (tl-back's, each with an edge
// claim): each Run draws its timeline, the verdict agrees, and the list
// has the claimed edge, its operations in its words.
func testTimelineRealLessons(t *testing.T, bt *browserTest) {
	bt = bt.serve(t, site{})
	for _, c := range []struct {
		lesson, cell     string
		fromOp, toOp     string
		fromLine, toLine string
	}{
		{"unbuffered-channels", "unbuffered-channels-1", "receive", "send", "16", "19"},
		{"select", "select-6", "send", "select", "10", "21"},
		{"incomplete-work", "incomplete-work-2", "Done", "Wait", "17", "19"},
		{"mutex", "mutex-6", "Unlock", "Lock", "20", "34"},
	} {
		t.Run(c.cell, func(t *testing.T) {
			tab, _ := bt.open(t, "/lessons/"+c.lesson)
			waitScript(t, tab)
			settle(t, tab, c.cell)
			v := runCell(t, tab, c.cell, "run")
			tl := poll(t, tab, "the timeline", browserWait, timelineExpr(c.cell), func(v timelineView) bool { return v.Found })
			ok := poll(t, tab, "the verdict", browserWait, `(document.querySelector('figure.cell[data-cell=`+jsString(c.cell)+`] .cell-verdict') || {dataset: {}}).dataset.ok || ''`,
				func(s string) bool { return s != "" })
			if v.State != "done" || ok != "true" {
				failShot(t, tab, "%s ended %s with verdict ok=%s", c.cell, v.State, ok)
			}
			found := false
			for i, lines := range tl.ItemLines {
				found = found || lines == c.fromLine+"->"+c.toLine &&
					strings.Contains(tl.Items[i], "'s "+c.fromOp+" at line "+c.fromLine+" unblocked ") &&
					strings.Contains(tl.Items[i], "'s "+c.toOp+" at line "+c.toLine)
			}
			if !found {
				failShot(t, tab, "%s: no %s@%s -> %s@%s among %q", c.cell, c.fromOp, c.fromLine, c.toOp, c.toLine, tl.Items)
			}
			t.Logf("%s; %d lanes, %d arrows, %d items, cut %q; drawn in %s ms", tl.Heading, len(tl.Lanes), len(tl.Arrows), len(tl.Items), tl.Cut, tl.DrawMs)
			shot(t, tab, c.cell, "timeline-"+c.cell+".png")
		})
	}
}

// settle brings a cell far down a lesson into view and waits until the
// page has stopped moving (the editors above it measure themselves after
// they mount): its Run button in the same place two frames apart, twice
// in a row, so that a click lands on the button it aims at.
func settle(t *testing.T, tab context.Context, id string) {
	t.Helper()
	eval[struct{}](t, tab, `(document.querySelector('figure.cell[data-cell=`+jsString(id)+`]').scrollIntoView({block: 'center'}), {})`)
	expr := `new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(() =>
	ok(document.querySelector('figure.cell[data-cell=` + jsString(id) + `] button.cell-btn-run').getBoundingClientRect().top))))`
	ctx, cancel := context.WithTimeout(tab, browserWait)
	defer cancel()
	last, same := -1.0, 0
	for same < 2 {
		top, err := chromedp.Run(ctx, chromedp.Evaluate[float64](expr, chromedp.EvalAwaitPromise))
		if err != nil {
			failShot(t, tab, "waiting for the page to settle: %v", err)
		}
		if top == last {
			same++
		} else {
			same = 0
		}
		last = top
	}
}
