package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"github.com/racelab/racelab/lessons"
	"github.com/racelab/racelab/sandbox"
)

// The teaching views of issue 5 in the browser: race reports marked on
// the source, the histogram of a repeated run, and where each goroutine
// was stuck. Each view is driven twice: by contract-shaped events from a
// fake /api/ws (so the drawing is tested whatever the server parses), and
// by the real sandbox.

// racyTwo races on x (lines 9 and 13) and on y (lines 10 and 13); its
// goroutine is created on line 8.
const racyTwo = `package main

import "fmt"

func main() {
	x, y := 0, 0
	done := make(chan bool)
	go func() {
		x = 1
		y = 2
		done <- true
	}()
	fmt.Println(x, y)
	<-done
}
`

// deadlocked sends on line 7 with nobody receiving, while main waits on
// line 10: both goroutines are stuck.
const deadlocked = `package main

func main() {
	ch := make(chan int)
	done := make(chan bool)
	go func() {
		ch <- 1
		done <- true
	}()
	<-done
}
`

// parity prints one of two lines, as the clock has it.
const parity = `package main

import (
	"fmt"
	"time"
)

func main() {
	fmt.Println("parity", time.Now().UnixNano()/1000%2)
}
`

func TestBrowserViews(t *testing.T) {
	path := chromiumPath(t)
	r := realSandbox(t)
	ts, lib := newBuiltinServer(t, r)
	ctx := startBrowser(t, path)
	real := &browserTest{ctx: ctx, url: ts.URL, runner: r, lib: lib}
	fake := &browserTest{ctx: ctx, url: newFakeViewsServer(t, lib).URL, lib: lib}
	for _, st := range []struct {
		name string
		bt   *browserTest
		run  func(*testing.T, *browserTest)
	}{
		{"FakeRaces", fake, testViewsFakeRaces},
		{"FakeStuck", fake, testViewsFakeStuck},
		{"Histogram", real, testViewsHistogram},
		{"Races", real, testViewsRealRaces},
		{"Deadlock", real, testViewsRealDeadlock},
		{"Asm", real, testViewsAsm},
	} {
		t.Run(st.name, func(t *testing.T) { st.run(t, st.bt) })
	}
}

// newFakeViewsServer serves the built-in lessons with a fake runner, and
// in place of /api/ws a handler that answers with the raw JSON events of
// the contract (/tmp/issue5-contract.md) for racyTwo and deadlocked.
func newFakeViewsServer(t *testing.T, lib *lessons.Library) *httptest.Server {
	t.Helper()
	s, err := New(Config{}, lib, newFake())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", s)
	mux.HandleFunc("/api/ws", handleFakeViews)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

func handleFakeViews(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := r.Context()
	_, b, err := c.Read(ctx)
	if err != nil {
		return
	}
	var req sandbox.Request
	if err := json.Unmarshal(b, &req); err != nil {
		return
	}
	for _, ev := range fakeViewEvents(req.Files["main.go"]) {
		b, _ := json.Marshal(ev)
		if err := c.Write(ctx, websocket.MessageText, b); err != nil {
			return
		}
	}
	// The page closes the socket after the last event.
	for {
		if _, _, err := c.Read(ctx); err != nil {
			return
		}
	}
}

func frame(fn string, line int) map[string]any {
	return map[string]any{"func": fn, "file": "main.go", "line": line, "user": true}
}

var runtimeFrame = map[string]any{"func": "runtime.gopark", "file": "/usr/local/go/src/runtime/proc.go", "line": 435}

// fakeRace is a race report of racyTwo: goroutine 7 writes on line w, the
// main goroutine had read on line 13.
func fakeRace(w int, v string) map[string]any {
	raw := fmt.Sprintf("==================\nWARNING: DATA RACE\nWrite at 0x00c000012088 by goroutine 7:\n  main.main.func1()\n      /tmp/x/main.go:%d +0x44\n\nPrevious read at 0x00c000012088 by main goroutine:\n  main.main()\n      /tmp/x/main.go:13 +0x12\n<b>%s is not bold</b>\n==================\n", w, v)
	return map[string]any{"kind": "race", "race": map[string]any{
		"accesses": []any{
			map[string]any{"op": "write", "addr": "0x00c000012088", "goroutine": 7, "stack": []any{frame("main.main.func1", w)}},
			map[string]any{"op": "read", "addr": "0x00c000012088", "goroutine": 1, "main": true, "stack": []any{frame("main.main", 13)}},
		},
		"goroutines": []any{map[string]any{"goroutine": 7, "state": "running", "created": []any{frame("main.main", 8)}}},
		"raw":        raw,
	}}
}

func fakeViewEvents(src string) []map[string]any {
	build := map[string]any{"kind": "build", "ms": 1}
	switch src {
	case racyTwo:
		return []map[string]any{build,
			{"kind": "stdout", "data": "0 0\n"},
			{"kind": "stderr", "data": "WARNING: DATA RACE (twice)\n"},
			fakeRace(9, "x"), fakeRace(10, "y"),
			{"kind": "exit", "code": 66, "reason": "exited", "msg": "The program exited with status 66."},
		}
	case deadlocked:
		return []map[string]any{build,
			{"kind": "stderr", "data": "fatal error: all goroutines are asleep - deadlock!\n"},
			{"kind": "goroutines", "cause": "deadlock", "goroutines": []any{
				map[string]any{"id": 1, "state": "chan receive", "stack": []any{runtimeFrame, frame("main.main", 10)}, "top": frame("main.main", 10)},
				map[string]any{"id": 6, "state": "chan send", "wait": "1 minutes", "stack": []any{runtimeFrame, frame("main.main.func1", 7)}, "top": frame("main.main.func1", 7)},
			}},
			{"kind": "exit", "code": 2, "reason": "exited", "msg": "The program exited with status 2."},
		}
	}
	return []map[string]any{build, {"kind": "stdout", "data": "hello\n"}, {"kind": "exit", "code": 0, "reason": "exited"}}
}

// marksView is what the teaching views show in a cell: the editor's
// marked lines by class, the race list and the stuck list.
type marksView struct {
	Lines   map[string][]int `json:"lines"`   // class (race-a, race-b, race-go, stuck) → line numbers
	Gutter  []string         `json:"gutter"`  // the gutter markers' letters and titles
	Heading string           `json:"heading"` // the races' heading
	Races   []raceItem       `json:"races"`
	Stuck   string           `json:"stuck"` // the stuck list's heading
	Items   []string         `json:"items"` // its items
	RawBold int              `json:"rawBold"`
}

type raceItem struct {
	Accesses []string `json:"accesses"`
	Raw      string   `json:"raw"`
}

func marksExpr(id string) string {
	return `(() => {
	const f = document.querySelector('figure.cell[data-cell=' + ` + jsString(id) + ` + ']');
	const lines = {};
	for (const k of ['race-a', 'race-b', 'race-go', 'stuck']) {
		lines[k] = [...f.querySelectorAll('.cm-line.cm-' + k)].map((e) => Number(e.dataset.markLine));
	}
	const h = f.querySelector('.cell-races .view-heading');
	const s = f.querySelector('.cell-stuck .view-heading');
	return {lines,
		gutter: [...f.querySelectorAll('.cm-mark-letter')].map((e) => e.textContent + ' ' + e.title),
		heading: h ? h.textContent : '',
		races: [...f.querySelectorAll('.race-item')].map((li) => ({
			accesses: [...li.querySelectorAll('.race-access')].map((a) => a.textContent),
			raw: li.querySelector('.race-raw pre').textContent})),
		stuck: s ? s.textContent : '',
		items: [...f.querySelectorAll('.stuck-item')].map((e) => e.textContent),
		rawBold: f.querySelectorAll('.race-raw b').length};
})()`
}

// shot saves a screenshot of one cell among the artifacts.
func shot(t *testing.T, tab context.Context, id, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, browserWait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(fmt.Sprintf(`figure[data-cell=%q]`, id))))
	if err != nil {
		t.Fatalf("screenshot of %s: %v", id, err)
	}
	t.Logf("%s: %s", name, saveArtifact(t, name, png))
}

// clickLine clicks a jump button and returns the editor's cursor line.
func clickLine(t *testing.T, tab context.Context, id, sel string) int {
	t.Helper()
	do(t, tab, "click "+sel, chromedp.Click(chromedp.CSS(fmt.Sprintf(`figure[data-cell=%q] %s`, id, sel))))
	return eval[int](t, tab, `(() => {
	const f = document.querySelector('figure.cell[data-cell=' + `+jsString(id)+` + ']');
	const line = f.querySelector('.cm-activeLine');
	return line ? [...line.parentNode.children].indexOf(line) + 1 : 0;
})()`)
}

func testViewsFakeRaces(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellHello, racyTwo)
	runCell(t, tab, cellHello, "run")
	m := eval[marksView](t, tab, marksExpr(cellHello))
	want := map[string][]int{"race-a": {9, 10}, "race-b": {13}, "race-go": {8}, "stuck": {}}
	if !reflect.DeepEqual(m.Lines, want) {
		failShot(t, tab, "marked lines %v, want %v", m.Lines, want)
	}
	if m.Heading != "Data races (2)" || len(m.Races) != 2 {
		failShot(t, tab, "races list %q with %d items, want Data races (2) and 2", m.Heading, len(m.Races))
	}
	if a := m.Races[0].Accesses; len(a) != 3 || !strings.Contains(a[0], "write by goroutine 7 at main.go:9") ||
		!strings.Contains(a[1], "previous read by main goroutine at main.go:13") || !strings.Contains(a[2], "goroutine 7 (running) created at main.go:8") {
		t.Errorf("first race lists %q", a)
	}
	if !strings.Contains(m.Races[1].Raw, "<b>y is not bold</b>") || m.RawBold != 0 {
		t.Errorf("raw report %q with %d <b> elements, want the text as printed", m.Races[1].Raw, m.RawBold)
	}
	if !slices.ContainsFunc(m.Gutter, func(g string) bool {
		return strings.HasPrefix(g, "A ") && strings.Contains(g, "write by goroutine 7 in main.main.func1")
	}) ||
		!slices.ContainsFunc(m.Gutter, func(g string) bool { return strings.Contains(g, "previous read by main goroutine in main.main") }) {
		t.Errorf("gutter markers %q, want A (write by goroutine 7) and B (previous read by main goroutine)", m.Gutter)
	}
	if got := clickLine(t, tab, cellHello, ".race-item:nth-child(2) .race-access-a .view-jump"); got != 10 {
		t.Errorf("clicking the second race's write shows line %d, want 10", got)
	}
	shot(t, tab, cellHello, "views-races-fake.png")

	// An edit clears the marks.
	do(t, tab, "type", chromedp.Click(chromedp.CSS(fmt.Sprintf(`figure[data-cell=%q] .cm-content`, cellHello))), chromedp.KeyEvent(" "))
	if m := eval[marksView](t, tab, marksExpr(cellHello)); len(m.Lines["race-a"])+len(m.Lines["race-b"])+len(m.Lines["race-go"]) != 0 || len(m.Gutter) != 0 {
		failShot(t, tab, "after an edit the editor still shows %v %q", m.Lines, m.Gutter)
	}
}

func testViewsFakeStuck(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellHello, deadlocked)
	runCell(t, tab, cellHello, "run")
	checkStuck(t, tab, "views-stuck-fake.png")
}

// checkStuck checks the view of deadlocked: goroutine 1 waits on line 10,
// another goroutine sends on line 7.
func checkStuck(t *testing.T, tab context.Context, name string) {
	t.Helper()
	m := eval[marksView](t, tab, marksExpr(cellHello))
	if got := m.Lines["stuck"]; !reflect.DeepEqual(got, []int{7, 10}) {
		failShot(t, tab, "stuck lines %v, want [7 10]", got)
	}
	if m.Stuck != "Where each goroutine was stuck (deadlock)" {
		t.Errorf("stuck heading %q", m.Stuck)
	}
	joined := strings.Join(m.Items, "\n")
	if len(m.Items) != 2 || !strings.Contains(joined, "goroutine 1: chan receive") || !strings.Contains(joined, "chan send") ||
		!strings.Contains(joined, "main.go:10") || !strings.Contains(joined, "main.go:7") {
		failShot(t, tab, "stuck list %q, want goroutine 1 in chan receive at main.go:10 and a chan send at main.go:7", m.Items)
	}
	if !slices.ContainsFunc(m.Gutter, func(g string) bool { return g == "S goroutine 1: chan receive" }) {
		t.Errorf("gutter markers %q, want S goroutine 1: chan receive", m.Gutter)
	}
	if got := clickLine(t, tab, cellHello, ".stuck-item:first-child .view-jump"); got != 10 {
		t.Errorf("clicking goroutine 1 shows line %d, want 10", got)
	}
	shot(t, tab, cellHello, name)
}

func testViewsRealRaces(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellRacy, racyTwo)
	v := runCell(t, tab, cellRacy, "race")
	if v.Code != "66" {
		failShot(t, tab, "race run ended %s with code %q, want 66", v.State, v.Code)
	}
	m := eval[marksView](t, tab, marksExpr(cellRacy))
	// Which access comes first depends on the schedule: the two lines
	// between them must be 13 and one of 9, 10.
	marked := append(append([]int{}, m.Lines["race-a"]...), m.Lines["race-b"]...)
	if !slices.Contains(marked, 13) || !(slices.Contains(marked, 9) || slices.Contains(marked, 10)) {
		failShot(t, tab, "race lines %v, want 13 and 9 or 10", m.Lines)
	}
	if len(m.Lines["race-a"]) == 0 || len(m.Lines["race-b"]) == 0 {
		failShot(t, tab, "race lines %v, want both accesses marked", m.Lines)
	}
	if !reflect.DeepEqual(m.Lines["race-go"], []int{8}) {
		t.Errorf("creation site marked on %v, want [8]", m.Lines["race-go"])
	}
	if len(m.Races) < 1 || !strings.HasPrefix(m.Heading, "Data races (") || !strings.Contains(m.Races[0].Raw, "WARNING: DATA RACE") {
		failShot(t, tab, "races list %q %+v, want at least one report with its raw text", m.Heading, m.Races)
	}
	t.Logf("%s: %+v", m.Heading, m.Races)
	shot(t, tab, cellRacy, "views-races.png")
}

func testViewsRealDeadlock(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellHello, deadlocked)
	if v := runCell(t, tab, cellHello, "run"); v.Code != "2" {
		failShot(t, tab, "deadlocked run ended %s with code %q, want 2", v.State, v.Code)
	}
	checkStuck(t, tab, "views-stuck.png")
}

// histView is the histogram of a repeated run.
type histView struct {
	Heading string    `json:"heading"`
	Labels  []string  `json:"labels"`
	Counts  []int     `json:"counts"`
	Shares  []float64 `json:"shares"` // each bar's width over its track's
	Facts   string    `json:"facts"`
}

func histExpr(id string) string {
	return `(() => {
	const f = document.querySelector('figure.cell[data-cell=' + ` + jsString(id) + ` + ']');
	const rows = [...f.querySelectorAll('.cell-summary .hist-row')];
	const h = f.querySelector('.cell-summary .view-heading');
	const p = f.querySelector('.summary-facts');
	return {heading: h ? h.textContent : '',
		labels: rows.map((r) => r.querySelector('.hist-label').textContent),
		counts: rows.map((r) => Number(r.querySelector('.hist-count').textContent)),
		shares: rows.map((r) => r.querySelector('.hist-bar').getBoundingClientRect().width / r.querySelector('.hist-track').clientWidth),
		facts: p ? p.textContent : ''};
})()`
}

// repeatedCell finds a built-in run-mode cell with repeat ≥ 2 and one
// file, main.go.
func repeatedCell(t *testing.T, lib *lessons.Library) *lessons.Cell {
	t.Helper()
	for _, l := range lib.Lessons() {
		for _, c := range l.Cells {
			if c.Repeat >= 2 && (c.Mode == "" || c.Mode == "run") && c.Exercise == "" && len(c.Files) == 1 && c.Files[0].Name == "main.go" {
				return c
			}
		}
	}
	t.Fatal("no built-in cell runs main.go with repeat ≥ 2")
	return nil
}

func testViewsHistogram(t *testing.T, bt *browserTest) {
	c := repeatedCell(t, bt.lib)
	tab, _ := bt.open(t, "/lessons/"+c.Lesson)
	files, _ := json.Marshal(map[string]string{"main.go": parity})
	eval[chromedp.Void](t, tab, fmt.Sprintf("localStorage.setItem(%s, %s)", jsString("racelab:cell:"+c.ID), jsString(string(files))))
	do(t, tab, "reload", chromedp.Reload())
	poll(t, tab, "the cell to show the program", browserWait, cellExpr(c.ID), func(v cellView) bool { return v.Editor == parity })
	v := runCell(t, tab, c.ID, "run")
	if v.State != "done" {
		failShot(t, tab, "repeated run ended %s (%s)", v.State, v.Output)
	}
	h := eval[histView](t, tab, histExpr(c.ID))
	sum := 0
	for i, n := range h.Counts {
		sum += n
		if want := float64(n) / float64(c.Repeat); h.Shares[i] < want-0.03 || h.Shares[i] > want+0.03 {
			t.Errorf("bar %d (%q, %d of %d runs) is %.2f of its track, want %.2f", i, h.Labels[i], n, c.Repeat, h.Shares[i], want)
		}
		if !strings.HasPrefix(h.Labels[i], "parity ") {
			t.Errorf("bar %d is labelled %q, want parity 0 or 1", i, h.Labels[i])
		}
	}
	if sum != c.Repeat || len(h.Counts) < 1 || len(h.Counts) > 2 {
		failShot(t, tab, "histogram %+v: counts sum to %d, want %d in one or two bars", h, sum, c.Repeat)
	}
	if want := fmt.Sprintf("Outputs of %d runs", c.Repeat); h.Heading != want || !strings.Contains(h.Facts, fmt.Sprintf("races in 0 of %d runs", c.Repeat)) ||
		!strings.Contains(h.Facts, fmt.Sprintf("exited ×%d", c.Repeat)) {
		t.Errorf("histogram heading %q, facts %q", h.Heading, h.Facts)
	}
	t.Logf("cell %s: %+v", c.ID, h)
	shot(t, tab, c.ID, "views-histogram.png")
}

// asmView is what the assembly listing shows of its colours.
type asmView struct {
	Pairs   int      `json:"pairs"`   // instructions whose colour is their source line's in the editor
	Wrong   []string `json:"wrong"`   // instructions whose source line has another colour
	Colours int      `json:"colours"` // distinct colours in the listing
	Lock    string   `json:"lock"`    // the title of the first LOCK instruction
	Hot     []int    `json:"hot"`     // editor lines highlighted while the first coloured row is hovered
	Row     int      `json:"row"`     // that row's source line
}

func asmExpr(id string) string {
	return `(() => {
	const f = document.querySelector('figure.cell[data-cell=' + ` + jsString(id) + ` + ']');
	const colour = (e) => [...e.classList].find((c) => /^(cm-)?asm-c[0-9]$/.test(c)) || '';
	const editor = {};
	for (const l of f.querySelectorAll('.cm-line[data-mark-line]')) editor[l.dataset.markLine] = colour(l).replace('cm-', '');
	let pairs = 0;
	const wrong = [];
	const seen = new Set();
	const rows = [...f.querySelectorAll('.asm-line[data-line]')].filter((r) => colour(r));
	for (const r of rows) {
		seen.add(colour(r));
		if (editor[r.dataset.line] === colour(r)) pairs++;
		else wrong.push(r.dataset.line + ' ' + colour(r) + ' vs ' + editor[r.dataset.line]);
	}
	const lock = [...f.querySelectorAll('.asm-text')].find((e) => /^LOCK/.test(e.textContent.trim()) || /^XADD/.test(e.textContent.trim()));
	let hot = [], row = 0;
	if (rows.length > 0) {
		rows[0].dispatchEvent(new MouseEvent('mouseenter'));
		hot = [...f.querySelectorAll('.cm-line.cm-asm-hot')].map((l) => Number(l.dataset.markLine));
		row = Number(rows[0].dataset.line);
		rows[0].dispatchEvent(new MouseEvent('mouseleave'));
	}
	return {pairs, wrong, colours: seen.size, lock: lock ? lock.title : '', hot, row};
})()`
}

// cellAsm is the lesson's assembly cell: an atomic add, which compiles to
// a LOCK-prefixed instruction (lessons/builtin/00-first-race.md).
const cellAsm = "first-race-6"

func testViewsAsm(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	if v := runCell(t, tab, cellAsm, "run"); v.State != "done" {
		failShot(t, tab, "asm run ended %s: %s", v.State, v.Output)
	}
	a := eval[asmView](t, tab, asmExpr(cellAsm))
	if a.Pairs == 0 || len(a.Wrong) > 0 || a.Colours < 2 {
		failShot(t, tab, "asm colours: %d instructions match their source line, %d colours, mismatches %q", a.Pairs, a.Colours, a.Wrong)
	}
	if !strings.Contains(a.Lock, "atomically") {
		t.Errorf("the LOCK instruction's title is %q, want an explanation", a.Lock)
	}
	if !reflect.DeepEqual(a.Hot, []int{a.Row}) {
		t.Errorf("hovering an instruction of line %d highlights editor lines %v", a.Row, a.Hot)
	}
	t.Logf("%d instructions in %d colours", a.Pairs, a.Colours)
	shot(t, tab, cellAsm, "views-asm.png")
}
