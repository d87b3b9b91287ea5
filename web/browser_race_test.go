package web_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// A data race in the browser, on the built-in lesson: the report of a
// race run, and the race view (web/src/teach.js, marks.js) that marks the
// two accesses and the goroutine's creation on the source. The view is
// driven twice: by contract-shaped events from a fake /api/ws (so the
// drawing is tested whatever the server parses), and by the real sandbox.
func TestBrowserRace(t *testing.T) {
	bt := newBrowserTest(t, site{})
	for _, st := range []subtest{
		{"Report", testRaceReport},
		{"FakeViews", testRaceFakeViews},
		{"Views", testRaceViews}, // after Report: it replaces the racy cell's program
	} {
		t.Run(st.name, func(t *testing.T) { st.run(t, bt) })
	}
}

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

func testRaceReport(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	v := runCell(t, tab, cellRacy, "race")
	if v.State != "failed" || v.Code != "66" || !strings.Contains(v.Stderr, "WARNING: DATA RACE") {
		failShot(t, tab, "race run ended %s (reason %q, code %q), stderr %q: want a race report and code 66",
			v.State, v.Reason, v.Code, v.Stderr)
	}
	if !strings.Contains(v.Stdout, "counter = ") {
		t.Errorf("stdout %q: want the counter printed", v.Stdout)
	}
}

func testRaceFakeViews(t *testing.T, bt *browserTest) {
	bt = bt.serve(t, fakeViewsSite())
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
	// The report as printed is in the output, once: the list's button
	// shows it there.
	if m.Races[1].Show != "Show the report as printed" {
		t.Errorf("second race's button %q, want Show the report as printed", m.Races[1].Show)
	}
	if !showReport(t, tab, cellHello, 2) {
		failShot(t, tab, "after Show the report, the report is not in view in the output")
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

func testRaceViews(t *testing.T, bt *browserTest) {
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
	if len(m.Races) < 1 || !strings.HasPrefix(m.Heading, "Data races (") || m.Races[0].Show == "" {
		failShot(t, tab, "races list %q %+v, want at least one report and its button", m.Heading, m.Races)
	}
	if n := strings.Count(eval[string](t, tab, `document.querySelector('figure.cell[data-cell=`+jsString(cellRacy)+`]').textContent`), "WARNING: DATA RACE"); n != len(m.Races) {
		t.Errorf("the cell shows %d reports for %d races, want each once (in the output)", n, len(m.Races))
	}
	if !showReport(t, tab, cellRacy, len(m.Races)) {
		failShot(t, tab, "after Show the report, the report is not in view in the output")
	}
	t.Logf("%s: %+v", m.Heading, m.Races)
	shot(t, tab, cellRacy, "views-races.png")
	docShot(t, tab, cellRacy, "race-view.png")
}
