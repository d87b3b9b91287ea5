package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/racelab/racelab/sandbox"
)

// The goroutine timeline of a traced run (web/src/timeline.js, issue
// #16): the Timeline button, the lanes, spans and arrows, the marks they
// put on the source when hovered or focused, the list of who unblocked
// whom by keyboard, aggregate lanes and the cut note, both themes. Driven
// by contract-shaped timeline events from a fake /api/ws, so that the
// drawing is tested whatever the tracer records.
func TestBrowserTimelineFake(t *testing.T) {
	f := &fakeRun{script: fakeTimelineEvents}
	bt := newBrowserTest(t, f.site())
	for _, st := range []subtest{
		{"Button", func(t *testing.T, bt *browserTest) { testTimelineButton(t, bt, f) }},
		{"TraceCell", func(t *testing.T, bt *browserTest) { testTimelineTraceCell(t, bt, f) }},
		{"HandOff", testTimelineHandOff},
		{"Keyboard", testTimelineKeyboard},
		{"Many", testTimelineMany},
		{"Themes", testTimelineThemes},
		{"Nothing", testTimelineNothing},
		{"Busy", testTimelineBusy},
		{"Phone", testTimelinePhone},
	} {
		t.Run(st.name, func(t *testing.T) { st.run(t, bt) })
	}
}

// handOff is the unbuffered hand-off: the worker waits at its receive on
// line 9 (main sleeps first, so that it does), main's send on line 19
// unblocks it; then the worker's send on line 11 unblocks main's receive
// on line 20.
const handOff = `package main

import (
	"fmt"
	"time"
)

func worker(ch chan int, done chan bool) {
	v := <-ch
	fmt.Println("got", v)
	done <- true
}

func main() {
	ch := make(chan int)
	done := make(chan bool)
	go worker(ch, done)
	time.Sleep(50 * time.Millisecond) // the worker waits at its receive first
	ch <- 42
	<-done
}
`

// manyWorkers starts 500 goroutines that each send to main: the fake
// answers it with 24 single lanes, one aggregate lane of 476, and a cut.
const manyWorkers = `package main

import "fmt"

func main() {
	ch := make(chan int)
	for i := 0; i < 500; i++ {
		go func() {
			ch <- i
		}()
	}
	sum := 0
	for range 500 {
		sum += <-ch
	}
	fmt.Println(sum)
}
`

// unparsable is answered with a timeline event that has nothing to draw.
const unparsable = "package main\n\nfunc main() {}\n"

const unparsableCut = "no timeline: the trace could not be parsed: unexpected EOF"

const manyCut = "trace cut after 200000 events: the program ran on, untraced"

func pos(line int, fn string) map[string]any {
	return map[string]any{"file": "main.go", "line": line, "func": fn}
}

func span(start, end int64, state, reason string, at map[string]any) map[string]any {
	s := map[string]any{"start_ns": start, "end_ns": end, "state": state}
	if reason != "" {
		s["reason"] = reason
	}
	if at != nil {
		s["at"] = at
	}
	return s
}

func edge(at, from, to int64, fromOp, toOp string, fromAt, toAt map[string]any) map[string]any {
	return map[string]any{"at_ns": at, "from": from, "to": to, "from_op": fromOp, "to_op": toOp, "from_at": fromAt, "to_at": toAt}
}

// handOffTimeline is what the tracer records of handOff, in the shape of
// sandbox.Timeline: main (1) and the worker (18).
func handOffTimeline() map[string]any {
	return map[string]any{
		"duration_ns": 51_300_000,
		"goroutines": []any{
			map[string]any{"id": 1, "name": "main", "spans": []any{
				span(0, 40_000, "running", "", nil),
				span(40_000, 50_040_000, "blocked", "sleep", pos(18, "main")),
				span(50_040_000, 50_060_000, "runnable", "", nil),
				span(50_060_000, 50_100_000, "running", "", nil),
				span(50_100_000, 51_150_000, "blocked", "chan receive", pos(20, "main")),
				span(51_150_000, 51_200_000, "runnable", "", nil),
				span(51_200_000, 51_300_000, "running", "", nil),
			}},
			map[string]any{"id": 18, "name": "worker", "created": pos(17, "main"), "parent": 1, "spans": []any{
				span(38_000, 60_000, "runnable", "", nil),
				span(60_000, 75_000, "running", "", nil),
				span(75_000, 50_090_000, "blocked", "chan receive", pos(9, "worker")),
				span(50_090_000, 50_110_000, "runnable", "", nil),
				span(50_110_000, 50_400_000, "running", "", nil),
				span(50_400_000, 51_100_000, "syscall", "", pos(10, "worker")),
				span(51_100_000, 51_160_000, "running", "", nil),
			}},
		},
		"edges": []any{
			edge(50_090_000, 1, 18, "send", "receive", pos(19, "main"), pos(9, "worker")),
			edge(51_150_000, 18, 1, "send", "receive", pos(11, "worker"), pos(20, "main")),
		},
	}
}

// manyTimeline is what a cut trace of manyWorkers looks like: main, 24
// single workers (ids 10…33), the other 476 folded into lane -1.
func manyTimeline() map[string]any {
	lanes := []any{map[string]any{"id": 1, "name": "main", "spans": []any{
		span(0, 100_000, "running", "", nil),
		span(100_000, 9_000_000, "blocked", "chan receive", pos(14, "main")),
	}}}
	var edges []any
	for i := range int64(24) {
		id := 10 + i
		lanes = append(lanes, map[string]any{"id": id, "name": "main.func1", "created": pos(8, "main"), "parent": 1, "spans": []any{
			span(1_000+i*1_000, 200_000+i*10_000, "runnable", "", nil),
			span(200_000+i*10_000, 210_000+i*10_000, "running", "", nil),
			span(210_000+i*10_000, 300_000+i*20_000, "blocked", "chan send", pos(9, "main.func1")),
		}})
		edges = append(edges, edge(300_000+i*20_000, 1, id, "receive", "send", pos(14, "main"), pos(9, "main.func1")))
	}
	lanes = append(lanes, map[string]any{"id": -1, "name": "main.func1", "created": pos(8, "main"), "parent": 1, "count": 476,
		"states": map[string]any{"running": 4_000_000, "runnable": 12_000_000, "blocked": 1_500_000_000}})
	for i := range int64(476) {
		edges = append(edges, edge(800_000+i*17_000, 1, -1, "receive", "send", pos(14, "main"), pos(9, "main.func1")))
	}
	return map[string]any{"duration_ns": 9_000_000, "goroutines": lanes, "edges": edges, "cut": manyCut}
}

func fakeTimelineEvents(req sandbox.Request) []any {
	build := map[string]any{"kind": "build", "ms": 1}
	exit := map[string]any{"kind": "exit", "code": 0, "reason": "exited", "ms": 60}
	switch req.Files["main.go"] {
	case handOff:
		return []any{build, map[string]any{"kind": "stdout", "data": "got 42\n"},
			map[string]any{"kind": "timeline", "timeline": handOffTimeline()}, exit}
	case unparsable:
		return []any{build, map[string]any{"kind": "timeline", "timeline": map[string]any{
			"duration_ns": 0, "goroutines": []any{}, "edges": []any{}, "cut": unparsableCut}}, exit}
	case busyProgram:
		return []any{build, map[string]any{"kind": "timeline", "timeline": busyTimeline()}, exit}
	case manyWorkers:
		return []any{build, map[string]any{"kind": "stdout", "data": "124750\n"},
			map[string]any{"kind": "timeline", "timeline": manyTimeline()}, exit}
	}
	return []any{build, map[string]any{"kind": "stdout", "data": "hello\n"}, exit}
}

// timelineView is what a cell's timeline shows.
type timelineView struct {
	Found   bool   `json:"found"`
	DrawMs  string `json:"drawMs"` // how long the page took to draw it
	Heading string `json:"heading"`
	Cut     string `json:"cut"`
	Lanes   []struct {
		ID      string   `json:"id"`
		Name    string   `json:"name"`
		Created string   `json:"created"`
		Agg     bool     `json:"agg"`
		Spans   []string `json:"spans"` // state, or state:reason@line
		Parts   []string `json:"parts"` // an aggregate's states
		Mid     float64  `json:"mid"`   // the y of its track
	} `json:"lanes"`
	Arrows []struct {
		From     string  `json:"from"`
		To       string  `json:"to"`
		FromLine string  `json:"fromLine"`
		ToLine   string  `json:"toLine"`
		Label    string  `json:"label"`
		Name     string  `json:"name"` // aria-label
		Start    float64 `json:"start"`
		Tip      float64 `json:"tip"`
	} `json:"arrows"`
	Items     []string `json:"items"`
	ItemLines []string `json:"itemLines"` // each item's FROM->TO lines
	Counts    []string `json:"counts"`
	ListName  string   `json:"listName"` // the text of what labels the list
	Folded    []string `json:"folded"`
	Tabbable  int      `json:"tabbable"` // arrows and spans in the tab order
	Focusable int      `json:"focusable"`
	More      []string `json:"more"`
}

func timelineExpr(id string) string {
	return `(() => {
	const f = document.querySelector('figure.cell[data-cell=' + ` + jsString(id) + ` + ']');
	const r = f && f.querySelector('.cell-timeline');
	if (!r) return {found: false};
	const num = (e, a) => Number(e.getAttribute(a));
	const lanes = [...r.querySelectorAll('.tl-lane')].map((l) => ({
		id: l.dataset.goroutine, name: l.querySelector('.tl-name').textContent,
		created: (l.querySelector('.tl-created') || {}).textContent || '',
		agg: l.classList.contains('tl-lane-agg'),
		spans: [...l.querySelectorAll('.tl-span')].map((s) => s.dataset.state + (s.dataset.reason ? ':' + s.dataset.reason : '') + (s.dataset.line ? '@' + s.dataset.line : '')),
		parts: [...l.querySelectorAll('.tl-agg-part')].map((p) => p.dataset.state),
		mid: num(l.querySelector('.tl-track'), 'y1')}));
	const arrows = [...r.querySelectorAll('.tl-edge')].map((g) => {
		const line = g.querySelector('.tl-edge-line');
		const tip = g.querySelector('.tl-edge-head').getAttribute('d').split(' ')[1].split(',');
		return {from: g.dataset.from, to: g.dataset.to, fromLine: g.dataset.fromLine || '', toLine: g.dataset.toLine || '',
			label: (g.querySelector('.tl-edge-label') || {}).textContent || '', name: g.getAttribute('aria-label') || '',
			start: num(line, 'y1'), tip: Number(tip[1])};
	});
	const list = r.querySelector('ol.tl-edges');
	const by = list && document.getElementById(list.getAttribute('aria-labelledby'));
	return {found: true, drawMs: r.dataset.drawMs || '', heading: r.querySelector('.view-heading').textContent,
		cut: (r.querySelector('.tl-cut') || {}).textContent || '', lanes, arrows,
		items: [...r.querySelectorAll('.tl-edge-btn')].map((b) => b.textContent),
		counts: [...r.querySelectorAll('.tl-edge-btn')].map((b) => b.dataset.count),
		itemLines: [...r.querySelectorAll('.tl-edge-btn')].map((b) => (b.dataset.fromLine || '') + '->' + (b.dataset.toLine || '')),
		listName: by ? by.textContent : '',
		folded: [...r.querySelectorAll('.tl-folded-item')].map((e) => e.textContent),
		tabbable: r.querySelectorAll('svg [tabindex="0"]').length,
		focusable: r.querySelectorAll('svg [tabindex]').length,
		more: [...r.querySelectorAll('.tl-more')].map((e) => e.textContent)};
})()`
}

// tlMarks is what the timeline marks on the source: the lines with
// cm-tl-from (the unblocking operation) and cm-tl-to (the waiting one).
type tlMarks struct {
	From []int `json:"from"`
	To   []int `json:"to"`
}

func tlMarksExpr(id string) string {
	return `(() => {
	const f = document.querySelector('figure.cell[data-cell=' + ` + jsString(id) + ` + ']');
	const lines = (k) => [...f.querySelectorAll('.cm-line.cm-' + k)].map((e) => Number(e.dataset.markLine));
	return {from: lines('tl-from'), to: lines('tl-to')};
})()`
}

// waitTimeline presses a cell's Timeline button and waits for the run to
// end and its timeline to be drawn.
func waitTimeline(t *testing.T, tab context.Context, id string) (cellView, timelineView) {
	t.Helper()
	v := runCell(t, tab, id, "timeline")
	tl := poll(t, tab, "the timeline", browserWait, timelineExpr(id), func(v timelineView) bool { return v.Found })
	return v, tl
}

// hoverAt moves the mouse to the middle of the first element sel matches
// in cell id (scrolled into view first), as a learner's pointer does.
func hoverAt(t *testing.T, tab context.Context, id, sel string) {
	t.Helper()
	type point struct {
		Ok bool    `json:"ok"`
		X  float64 `json:"x"`
		Y  float64 `json:"y"`
	}
	p := eval[point](t, tab, `(() => {
	const e = document.querySelector('figure.cell[data-cell=' + `+jsString(id)+` + '] ' + `+jsString(sel)+`);
	if (!e) return {ok: false};
	e.scrollIntoView({block: 'center'});
	const b = e.getBoundingClientRect();
	return {ok: true, x: b.left + b.width / 2, y: b.top + b.height / 2};
})()`)
	if !p.Ok {
		failShot(t, tab, "nothing matches %s in %s", sel, id)
	}
	do(t, tab, "move the mouse to "+sel, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, p.X, p.Y))
}

func moveAway(t *testing.T, tab context.Context) {
	t.Helper()
	do(t, tab, "move the mouse away", chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 2, 2))
}

// The Timeline button: on a run-mode cell, not on a race-mode one; it
// asks for one traced execution in run mode.
func testTimelineButton(t *testing.T, bt *browserTest, f *fakeRun) {
	tab := bt.openLesson(t)
	has := func(id string) bool {
		return eval[bool](t, tab, `!!document.querySelector('figure.cell[data-cell=`+jsString(id)+`] button.cell-btn[data-action="timeline"]')`)
	}
	if !has(cellHello) || has(cellRacy) {
		failShot(t, tab, "Timeline button on the run cell: %v, on the race cell: %v; want it on the run cell only", has(cellHello), has(cellRacy))
	}
	n := len(f.rawRequests())
	runCell(t, tab, cellHello, "timeline")
	raws := f.rawRequests()
	if len(raws) != n+1 {
		t.Fatalf("%d requests after pressing Timeline, want %d", len(raws), n+1)
	}
	var req struct {
		Mode   string `json:"mode"`
		Trace  bool   `json:"trace"`
		Repeat int    `json:"repeat"`
		Cell   string `json:"cell"`
	}
	if err := json.Unmarshal(raws[n], &req); err != nil {
		t.Fatal(err)
	}
	if req.Mode != "run" || !req.Trace || req.Repeat != 1 || req.Cell != lessonSlug+"/"+cellHello {
		t.Errorf("Timeline sent %s, want mode run, trace true, repeat 1, cell %s/%s", raws[n], lessonSlug, cellHello)
	}
	runCell(t, tab, cellHello, "run")
	if raws = f.rawRequests(); strings.Contains(string(raws[len(raws)-1]), `"trace"`) {
		t.Errorf("Run sent %s: a plain run asks for no trace", raws[len(raws)-1])
	}
}

func testTimelineHandOff(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellHello, handOff)
	v, tl := waitTimeline(t, tab, cellHello)
	if v.State != "done" || v.Stdout != "got 42\n" {
		failShot(t, tab, "the traced run ended %s printing %q", v.State, v.Stdout)
	}
	if tl.Heading != "Timeline: 2 goroutines, 2 hand-offs, 51.3 ms" || tl.Cut != "" {
		t.Errorf("heading %q, cut note %q; want Timeline: 2 goroutines, 2 hand-offs, 51.3 ms and no cut note", tl.Heading, tl.Cut)
	}
	if len(tl.Lanes) != 2 || tl.Lanes[0].Name != "main" || tl.Lanes[1].Name != "worker" || tl.Lanes[1].Created != "created at line 17" {
		failShot(t, tab, "lanes %+v, want main and worker created at line 17", tl.Lanes)
	}
	wantSpans := []string{"runnable", "running", "blocked:chan receive@9", "runnable", "running", "syscall@10", "running"}
	if !reflect.DeepEqual(tl.Lanes[1].Spans, wantSpans) {
		t.Errorf("worker's spans %q, want %q", tl.Lanes[1].Spans, wantSpans)
	}
	if len(tl.Arrows) != 2 {
		failShot(t, tab, "%d arrows, want 2: %+v", len(tl.Arrows), tl.Arrows)
	}
	// The first arrow goes down from main's lane to the worker's, the
	// second up: each starts at its sender's bar and points at the
	// receiver's.
	main, worker := tl.Lanes[0].Mid, tl.Lanes[1].Mid
	for i, w := range []struct {
		from, to         string
		fromLine, toLine string
		start, tip       float64
	}{{"1", "18", "19", "9", main, worker}, {"18", "1", "11", "20", worker, main}} {
		a := tl.Arrows[i]
		if a.From != w.from || a.To != w.to || a.FromLine != w.fromLine || a.ToLine != w.toLine || a.Label != "send → receive" ||
			abs(a.Start-w.start) > 10 || abs(a.Tip-w.tip) > 10 {
			failShot(t, tab, "arrow %d: %+v; want from goroutine %s line %s (lane at y %.0f) to %s line %s (lane at y %.0f), labelled send → receive",
				i, a, w.from, w.fromLine, w.start, w.to, w.toLine, w.tip)
		}
	}
	want := []string{
		"main's send at line 19 unblocked worker's receive at line 9",
		"worker's send at line 11 unblocked main's receive at line 20",
	}
	if !reflect.DeepEqual(tl.Items, want) || tl.ListName != "Who unblocked whom" {
		failShot(t, tab, "list %q labelled %q, want %q labelled Who unblocked whom", tl.Items, tl.ListName, want)
	}
	if tl.Arrows[0].Name != want[0] {
		t.Errorf("the first arrow is named %q for screen readers, want %q", tl.Arrows[0].Name, want[0])
	}

	// Hovering the arrow marks both its lines; leaving it, none.
	hoverAt(t, tab, cellHello, `.tl-edge[data-from="1"] .tl-edge-hit`)
	if m := eval[tlMarks](t, tab, tlMarksExpr(cellHello)); !reflect.DeepEqual(m, tlMarks{From: []int{19}, To: []int{9}}) {
		failShot(t, tab, "hovering main's send arrow marks %+v, want from [19] to [9]", m)
	}
	moveAway(t, tab)
	// The README's picture: the first item of the list has the focus
	// (the pointer would move off an arrow as the picture scrolls).
	eval[chromedp.Void](t, tab, `document.querySelector('figure.cell[data-cell=`+jsString(cellHello)+`] .tl-edge-btn').focus()`)
	if m := eval[tlMarks](t, tab, tlMarksExpr(cellHello)); !reflect.DeepEqual(m, tlMarks{From: []int{19}, To: []int{9}}) {
		failShot(t, tab, "the first item has the focus and marks %+v, want from [19] to [9]", m)
	}
	if hot := eval[[]string](t, tab, `[...document.querySelectorAll('figure.cell[data-cell=`+jsString(cellHello)+`] .tl-edge.tl-hot')].map((a) => a.dataset.from + '>' + a.dataset.to)`); !reflect.DeepEqual(hot, []string{"1>18"}) {
		failShot(t, tab, "the first item has the focus and lights the arrows %q, want 1>18", hot)
	}
	docShot(t, tab, cellHello, "timeline-fake.png")
	eval[chromedp.Void](t, tab, `document.activeElement.blur()`)
	if m := eval[tlMarks](t, tab, tlMarksExpr(cellHello)); len(m.From)+len(m.To) != 0 {
		failShot(t, tab, "after the mouse left, the lines %+v are still marked", m)
	}
	// Hovering the worker's wait at its receive marks where it waits and
	// the send that ended the wait.
	hoverAt(t, tab, cellHello, `.tl-lane[data-goroutine="18"] .tl-span[data-state="blocked"]`)
	if m := eval[tlMarks](t, tab, tlMarksExpr(cellHello)); !reflect.DeepEqual(m, tlMarks{From: []int{19}, To: []int{9}}) {
		failShot(t, tab, "hovering the worker's blocked span marks %+v, want from [19] to [9]", m)
	}
	moveAway(t, tab)
	// To scale, the same arrows are drawn.
	do(t, tab, "draw to scale", chromedp.Click(chromedp.CSS(fmt.Sprintf(`figure[data-cell=%q] .tl-scale-box input`, cellHello))))
	if n := eval[timelineView](t, tab, timelineExpr(cellHello)); len(n.Arrows) != 2 || n.Arrows[0].FromLine != "19" {
		failShot(t, tab, "drawn to scale: arrows %+v", n.Arrows)
	}
	do(t, tab, "shorten the gaps again", chromedp.Click(chromedp.CSS(fmt.Sprintf(`figure[data-cell=%q] .tl-scale-box input`, cellHello))))

	// An edit may move the lines: the timeline marks none after it.
	do(t, tab, "type", chromedp.Click(editorOf(cellHello)), chromedp.KeyEvent(kb.End), chromedp.KeyEvent(" "))
	hoverAt(t, tab, cellHello, `.tl-edge[data-from="1"] .tl-edge-hit`)
	if m := eval[tlMarks](t, tab, tlMarksExpr(cellHello)); len(m.From)+len(m.To) != 0 {
		failShot(t, tab, "after an edit, hovering an arrow marks %+v, want nothing", m)
	}
	if !eval[bool](t, tab, `getComputedStyle(document.querySelector('figure.cell[data-cell=`+jsString(cellHello)+`] .tl-stale-note')).display !== 'none'`) {
		failShot(t, tab, "after an edit the timeline does not say its lines may have moved")
	}
	moveAway(t, tab)
}

// focusedTL is where the focus is, in a timeline's terms.
type focusedTL struct {
	Class string `json:"class"`
	Text  string `json:"text"`
	Label string `json:"label"`
}

const focusedTLExpr = `(() => {
	const a = document.activeElement;
	if (!a) return {};
	return {class: a.getAttribute('class') || '', text: a.textContent.slice(0, 120), label: a.getAttribute('aria-label') || ''};
})()`

// The keyboard reaches the arrows and then every item of the list, and
// each marks its lines while it has the focus; Enter on an item keeps
// them marked and shows the line in the editor.
func testTimelineKeyboard(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellHello, handOff)
	waitTimeline(t, tab, cellHello)
	eval[chromedp.Void](t, tab, `document.querySelector('figure.cell[data-cell=`+jsString(cellHello)+`] .tl-scale-box input').focus()`)
	var f focusedTL
	arrows := 0
	for i := 0; i < 40 && !strings.Contains(f.Class, "tl-edge-btn"); i++ {
		do(t, tab, "press Tab", chromedp.KeyEvent(kb.Tab))
		f = eval[focusedTL](t, tab, focusedTLExpr)
		if slices.Contains(strings.Fields(f.Class), "tl-edge") {
			arrows++
			if m := eval[tlMarks](t, tab, tlMarksExpr(cellHello)); len(m.From) != 1 || len(m.To) != 1 {
				failShot(t, tab, "the arrow %q has the focus and marks %+v, want one line each", f.Label, m)
			}
		}
	}
	if arrows != 2 || !strings.Contains(f.Class, "tl-edge-btn") {
		failShot(t, tab, "Tab from the scale box reached %d arrows and then %+v; want both arrows, then the list", arrows, f)
	}
	if m := eval[tlMarks](t, tab, tlMarksExpr(cellHello)); f.Text != "main's send at line 19 unblocked worker's receive at line 9" ||
		!reflect.DeepEqual(m, tlMarks{From: []int{19}, To: []int{9}}) {
		failShot(t, tab, "the first item %q has the focus and marks %+v", f.Text, m)
	}
	do(t, tab, "press Tab", chromedp.KeyEvent(kb.Tab))
	f = eval[focusedTL](t, tab, focusedTLExpr)
	if m := eval[tlMarks](t, tab, tlMarksExpr(cellHello)); !strings.HasPrefix(f.Text, "worker's send at line 11") ||
		!reflect.DeepEqual(m, tlMarks{From: []int{11}, To: []int{20}}) {
		failShot(t, tab, "the second item %q has the focus and marks %+v, want from [11] to [20]", f.Text, m)
	}
	do(t, tab, "press Enter", chromedp.KeyEvent(kb.Enter))
	f = eval[focusedTL](t, tab, focusedTLExpr)
	m := eval[tlMarks](t, tab, tlMarksExpr(cellHello))
	line := eval[int](t, tab, `(() => {
	const l = document.querySelector('figure.cell[data-cell=`+jsString(cellHello)+`] .cm-activeLine');
	return l ? [...l.parentNode.children].indexOf(l) + 1 : 0;
})()`)
	if f.Class != "cm-content" || line != 11 || !reflect.DeepEqual(m, tlMarks{From: []int{11}, To: []int{20}}) {
		failShot(t, tab, "Enter on the item: focus %+v on line %d, marks %+v; want the editor on line 11 and both lines still marked", f, line, m)
	}
}

// Hundreds of goroutines: 24 lanes of their own, the rest one aggregate
// lane with the shares of its states, the list grouped, the arrows and
// tab stops bounded, and the cut said.
func testTimelineMany(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellHello, manyWorkers)
	_, tl := waitTimeline(t, tab, cellHello)
	if tl.Heading != "Timeline: 501 goroutines, 500 hand-offs, 9 ms" || tl.Cut != manyCut {
		failShot(t, tab, "heading %q and cut note %q, want 501 goroutines, 500 hand-offs, and %q", tl.Heading, tl.Cut, manyCut)
	}
	if len(tl.Lanes) != 26 {
		failShot(t, tab, "%d lanes, want 26 (main, 24 workers, one aggregate)", len(tl.Lanes))
	}
	agg := tl.Lanes[25]
	if !agg.Agg || agg.Name != "main.func1 ×476" || !reflect.DeepEqual(agg.Parts, []string{"running", "runnable", "blocked"}) || len(agg.Spans) != 0 {
		failShot(t, tab, "the last lane %+v, want the aggregate main.func1 ×476 with running, runnable and blocked parts", agg)
	}
	if len(tl.Folded) != 1 || !strings.HasPrefix(tl.Folded[0], "main.func1 ×476, created at line 8: running 0% (4 ms) · runnable 1% (12 ms) · blocked 99% (1.5 s)") {
		t.Errorf("folded lanes in words %q", tl.Folded)
	}
	if tl.Lanes[1].Name != "main.func1 #1" || tl.Lanes[24].Name != "main.func1 #24" {
		t.Errorf("lanes of the same function are called %q … %q, want main.func1 #1 … #24", tl.Lanes[1].Name, tl.Lanes[24].Name)
	}
	// The list speaks of the 24 lanes of one name together (more than
	// maxNamedLanes), and of the aggregate's 476 hand-offs as one.
	want := []string{
		"main's receive at line 14 unblocked main.func1 (one of 24)'s send at line 9 (24 times)",
		"main's receive at line 14 unblocked main.func1 (one of 476)'s send at line 9 (476 times)",
	}
	if !reflect.DeepEqual(tl.Items, want) || !reflect.DeepEqual(tl.Counts, []string{"24", "476"}) {
		failShot(t, tab, "list %q (counts %q), want %q", tl.Items, tl.Counts, want)
	}
	// Its first item lights the arrows of all 24.
	eval[chromedp.Void](t, tab, `document.querySelector('figure.cell[data-cell=`+jsString(cellHello)+`] .tl-edge-btn').focus()`)
	if n := eval[int](t, tab, `document.querySelectorAll('figure.cell[data-cell=`+jsString(cellHello)+`] .tl-edge.tl-hot').length`); n != 24 {
		failShot(t, tab, "the first item lights %d arrows, want 24", n)
	}
	eval[chromedp.Void](t, tab, `document.activeElement.blur()`)
	labels := 0
	for _, a := range tl.Arrows {
		if a.Label != "" {
			labels++
		}
	}
	if len(tl.Arrows) != 300 || labels != 0 || tl.Tabbable != 40 || tl.Focusable <= 40 {
		failShot(t, tab, "%d arrows, %d of %d in the tab order; %d labelled; want 300 (maxArrows), none labelled (more than maxLabelled) and 40 (maxTabStops)", len(tl.Arrows), tl.Tabbable, tl.Focusable, labels)
	}
	shot(t, tab, cellHello, "timeline-many.png")
}

// colourPair is a colour of the timeline over its background.
type colourPair struct {
	What    string     `json:"what"`
	Text    bool       `json:"text"`
	Missing bool       `json:"missing"`
	FG      [4]float64 `json:"fg"`
	BG      [4]float64 `json:"bg"`
}

func timelineColoursExpr(id string) string {
	return `(() => {
	const ctx = document.createElement('canvas').getContext('2d', {willReadFrequently: true});
	const rgba = (c) => { ctx.clearRect(0, 0, 1, 1); ctx.fillStyle = c; ctx.fillRect(0, 0, 1, 1); return [...ctx.getImageData(0, 0, 1, 1).data]; };
	const f = document.querySelector('figure.cell[data-cell=' + ` + jsString(id) + ` + ']');
	let bgEl = f.querySelector('.cell-timeline'), bg = [255, 255, 255, 255];
	for (; bgEl; bgEl = bgEl.parentElement) { const c = rgba(getComputedStyle(bgEl).backgroundColor); if (c[3] > 0) { bg = c; break; } }
	const pair = (what, sel, prop, text) => {
		const e = f.querySelector(sel);
		return e ? {what, text, fg: rgba(getComputedStyle(e)[prop]), bg} : {what, missing: true};
	};
	return [pair('lane name', '.tl-name', 'fill', true), pair('creation site', '.tl-created', 'fill', true),
		pair('arrow label', '.tl-edge-label', 'fill', true), pair('list item', '.tl-edge-btn', 'color', true),
		pair('running span', '.tl-span.tl-running', 'fill', false), pair('blocked span', '.tl-span.tl-blocked', 'fill', false),
		pair('runnable span', '.tl-span.tl-runnable', 'fill', false), pair('system call outline', '.tl-span.tl-syscall', 'stroke', false),
		pair('arrow', '.tl-edge-line', 'stroke', false), pair('arrow head', '.tl-edge-head', 'fill', false)];
})()`
}

// Both themes: the timeline's text reads (4.5:1) and its marks show (3:1,
// WCAG's contrast for graphics) on the page's background.
func testTimelineThemes(t *testing.T, bt *browserTest) {
	for _, scheme := range []string{"light", "dark"} {
		t.Run(scheme, func(t *testing.T) {
			tab, _ := bt.openWith(t, "/lessons/"+lessonSlug, chromedp.EmulateViewport(1280, 900), emulateScheme(scheme))
			bt.waitLive(t, tab)
			bt.putProgram(t, tab, cellHello, handOff)
			waitTimeline(t, tab, cellHello)
			for _, p := range eval[[]colourPair](t, tab, timelineColoursExpr(cellHello)) {
				if p.Missing {
					failShot(t, tab, "no %s in the timeline", p.What)
				}
				want := 3.0
				if p.Text {
					want = 4.5
				}
				r := contrast(p.FG, p.BG)
				t.Logf("%s: %v on %v, contrast %.1f", p.What, p.FG, p.BG, r)
				if r < want {
					failShot(t, tab, "%s: %v on %v has contrast %.2f, want ≥ %.1f", p.What, p.FG, p.BG, r, want)
				}
			}
			if scheme == "dark" {
				docShot(t, tab, cellHello, "timeline-view-dark.png")
				return
			}
			// On a light system, the header's theme choice turns the
			// timeline dark too.
			eval[chromedp.Void](t, tab, chooseTheme("dark"))
			fill := poll(t, tab, "the dark theme", browserWait, `getComputedStyle(document.querySelector('figure.cell[data-cell=`+jsString(cellHello)+`] .tl-span.tl-running')).fill`,
				func(s string) bool { return s == "rgb(53, 194, 154)" })
			eval[chromedp.Void](t, tab, chooseTheme(""))
			t.Logf("the dark theme chosen: running spans %s", fill)
		})
	}
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

// A timeline event with nothing to draw says why, and draws nothing.
func testTimelineNothing(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellHello, unparsable)
	_, tl := waitTimeline(t, tab, cellHello)
	if tl.Heading != "No timeline" || tl.Cut != "The run has no timeline: the trace could not be parsed: unexpected EOF" ||
		len(tl.Lanes)+len(tl.Arrows)+len(tl.Items) != 0 {
		failShot(t, tab, "a timeline without goroutines shows %+v", tl)
	}
}

// busyProgram is answered with a timeline as big as the server sends
// (sandbox's default --trace-spans, 4000 spans and edges): 24 lanes of
// 150 spans, 400 edges.
const busyProgram = "package main\n\n// busy\nfunc main() {}\n"

// busyDrawLimit bounds how long the page may take to draw it, with a wide
// margin for a loaded machine (it takes tens of milliseconds).
const busyDrawLimit = 2000

func busyTimeline() map[string]any {
	var lanes, edges []any
	for g := range int64(24) {
		var spans []any
		for i := range int64(150) {
			start := i * 10_000
			if i%2 == 0 {
				spans = append(spans, span(start, start+10_000, "running", "", nil))
			} else {
				spans = append(spans, span(start, start+10_000, "blocked", "chan receive", pos(4, "main")))
			}
		}
		lanes = append(lanes, map[string]any{"id": g + 1, "name": "main", "spans": spans})
	}
	for i := range int64(400) {
		edges = append(edges, edge(i*3_700, 1+i%24, 1+(i+1)%24, "send", "receive", pos(4, "main"), pos(4, "main")))
	}
	return map[string]any{"duration_ns": 1_500_000, "goroutines": lanes, "edges": edges}
}

func testTimelineBusy(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellHello, busyProgram)
	_, tl := waitTimeline(t, tab, cellHello)
	spans := 0
	for _, l := range tl.Lanes {
		spans += len(l.Spans)
	}
	ms, err := strconv.Atoi(tl.DrawMs)
	if err != nil || spans != 3600 || len(tl.Arrows) != 300 || ms > busyDrawLimit {
		failShot(t, tab, "%d spans, %d arrows drawn in %q ms; want 3600, 300 (maxArrows), within %d ms", spans, len(tl.Arrows), tl.DrawMs, busyDrawLimit)
	}
	t.Logf("3600 spans and 300 of 400 arrows drawn in %d ms", ms)
}

// A lesson cell with trace=true (lesson 03's first) is rendered with
// data-trace="true", and its plain Run asks for the trace, once.
const (
	traceLesson = "unbuffered-channels"
	cellTraced  = "unbuffered-channels-1"
)

func testTimelineTraceCell(t *testing.T, bt *browserTest, f *fakeRun) {
	tab, _ := bt.open(t, "/lessons/"+traceLesson)
	waitScript(t, tab)
	if !eval[bool](t, tab, `document.querySelector('figure.cell[data-cell=`+jsString(cellTraced)+`]').dataset.trace === 'true'`) {
		failShot(t, tab, "%s is not marked data-trace", cellTraced)
	}
	n := len(f.rawRequests())
	runCell(t, tab, cellTraced, "run")
	raws := f.rawRequests()
	var req struct {
		Mode   string `json:"mode"`
		Trace  bool   `json:"trace"`
		Repeat int    `json:"repeat"`
	}
	if len(raws) != n+1 {
		t.Fatalf("%d requests after pressing Run, want %d", len(raws), n+1)
	}
	if err := json.Unmarshal(raws[n], &req); err != nil {
		t.Fatal(err)
	}
	if req.Mode != "run" || !req.Trace || req.Repeat != 1 {
		t.Errorf("Run of a trace=true cell sent %s, want mode run, trace true, repeat 1", raws[n])
	}
}

// On a phone's screen the chart scrolls sideways in its own box; the page
// does not.
func testTimelinePhone(t *testing.T, bt *browserTest) {
	tab, _ := bt.openWith(t, "/lessons/"+lessonSlug,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait, chromedp.EmulateScale(2)))
	bt.waitLive(t, tab)
	bt.putProgram(t, tab, cellHello, handOff)
	waitTimeline(t, tab, cellHello)
	type widths struct {
		Page  int `json:"page"`
		Inner int `json:"inner"`
		Chart int `json:"chart"` // the chart's scrollWidth
		Box   int `json:"box"`   // its clientWidth
	}
	w := eval[widths](t, tab, `(() => {
	const c = document.querySelector('figure.cell[data-cell=`+jsString(cellHello)+`] .tl-chart');
	return {page: document.scrollingElement.scrollWidth, inner: innerWidth, chart: c.scrollWidth, box: c.clientWidth};
})()`)
	if w.Inner != 390 || w.Page > w.Inner || w.Chart <= w.Box {
		failShot(t, tab, "on a phone: %+v; want the page no wider than the screen and the chart scrolling in its box", w)
	}
	shot(t, tab, cellHello, "timeline-phone.png")
}
