package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/chromedp/chromedp"

	"github.com/racelab/racelab/lessons"
	"github.com/racelab/racelab/sandbox"
)

// A repeated run (web/src/summary.js, teach.js, output.js): the summary
// of the runs first, the races grouped by their pair of accesses, each
// run's output folded; what the runs counted, and the spread of the
// numbers they printed. On the real sandbox with the built-in lessons,
// and with fake summaries for the fields the server does not fill in yet.
func TestBrowserRepeat(t *testing.T) {
	bt := newBrowserTest(t, site{})
	for _, st := range []subtest{
		{"Histogram", testRepeatHistogram},
		{"RaceGroups", testRepeatRaceGroups},
		{"CountedAndNumbers", testRepeatCountedAndNumbers},
	} {
		t.Run(st.name, func(t *testing.T) { st.run(t, bt) })
	}
}

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

// histView is the histogram of a repeated run.
type histView struct {
	Heading string    `json:"heading"`
	Labels  []string  `json:"labels"`
	Counts  []int     `json:"counts"`
	Shares  []float64 `json:"shares"` // each bar's width over its track's
	Facts   string    `json:"facts"`
}

// histExpr reads the histogram of distinct outputs, opening its fold
// first when the summary folded it under what the runs counted.
func histExpr(id string) string {
	return `(() => {
	const f = document.querySelector('figure.cell[data-cell=' + ` + jsString(id) + ` + ']');
	const fold = f.querySelector('.cell-summary details.summary-outputs');
	if (fold) fold.open = true;
	const rows = [...f.querySelectorAll('.cell-summary .hist:not(.summary-counted .hist) .hist-row')];
	const h = f.querySelector('.cell-summary .view-heading');
	const p = f.querySelector('.summary-facts');
	return {heading: h ? h.textContent : '',
		labels: rows.map((r) => r.querySelector('.hist-label').textContent),
		counts: rows.map((r) => Number(r.querySelector('.hist-count').textContent)),
		shares: rows.map((r) => r.querySelector('.hist-bar').getBoundingClientRect().width / r.querySelector('.hist-track').clientWidth),
		facts: p ? p.textContent : ''};
})()`
}

// findCell returns the first built-in cell ok accepts.
func findCell(t *testing.T, lib *lessons.Library, what string, ok func(*lessons.Cell) bool) *lessons.Cell {
	t.Helper()
	for _, c := range lib.AllCells() {
		if ok(c) {
			return c
		}
	}
	t.Fatalf("no built-in cell is %s", what)
	return nil
}

func hasExpect(c *lessons.Cell, kind string) bool {
	for _, e := range c.Expect {
		if e.Kind == kind {
			return true
		}
	}
	return false
}

// openCell opens the lesson of a cell and waits for its cells to be live.
func (bt *browserTest) openCell(t *testing.T, c *lessons.Cell) context.Context {
	t.Helper()
	tab, _ := bt.open(t, "/lessons/"+c.Lesson)
	waitScript(t, tab)
	do(t, tab, "scroll to the cell", chromedp.ScrollIntoView(chromedp.CSS(fmt.Sprintf(`figure[data-cell=%q]`, c.ID))))
	return tab
}

func testRepeatHistogram(t *testing.T, bt *browserTest) {
	c := findCell(t, bt.lib, "a run-mode cell of main.go alone with repeat ≥ 2", func(c *lessons.Cell) bool {
		return c.Repeat >= 2 && (c.Mode == "" || c.Mode == "run") && c.Exercise == "" && len(c.Files) == 1 && c.Files[0].Name == "main.go"
	})
	tab := bt.openCell(t, c)
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
	if st := statusText(t, tab, c.ID); !strings.HasPrefix(st, fmt.Sprintf("%d runs finished", c.Repeat)) {
		t.Errorf("status %q, want it to count the runs", st)
	}
	t.Logf("cell %s: %+v", c.ID, h)
	shot(t, tab, c.ID, "views-histogram.png")
}

// repeatView is the layout of a repeated run's results.
type repeatView struct {
	Extra     []string `json:"extra"`     // the classes of the views under the output, in order
	SummaryY  float64  `json:"summaryY"`  // the summary's top, from the figure's
	RacesY    float64  `json:"racesY"`    // the races' top, from the figure's
	RunsY     float64  `json:"runsY"`     // the folds' top, from the figure's
	Height    float64  `json:"height"`    // the figure's
	Heading   string   `json:"heading"`   // the races' heading
	Seen      []string `json:"seen"`      // each race item's "seen in K of N runs"
	Folds     int      `json:"folds"`     // the runs' folds
	OpenFolds int      `json:"openFolds"` // those open
	RunsHead  string   `json:"runsHead"`
	FoldHeads []string `json:"foldHeads"`
	Shown     int      `json:"shown"` // output streams with a visible box
	Stdout    string   `json:"stdout"`
}

func repeatExpr(id string) string {
	return `(() => {
	const f = document.querySelector('figure.cell[data-cell=' + ` + jsString(id) + ` + ']');
	const top = f.getBoundingClientRect().top;
	const y = (sel) => { const e = f.querySelector(sel); return e ? e.getBoundingClientRect().top - top : -1; };
	const h = f.querySelector('.cell-races .view-heading');
	const runs = f.querySelector('.cell-runs > summary');
	return {extra: [...f.querySelector('.cell-extra').children].map((e) => e.className),
		summaryY: y('.cell-summary'), racesY: y('.cell-races'), runsY: y('.cell-runs'),
		height: f.getBoundingClientRect().height, heading: h ? h.textContent : '',
		seen: [...f.querySelectorAll('.race-item .race-seen')].map((e) => e.textContent),
		folds: f.querySelectorAll('.run-fold').length, openFolds: f.querySelectorAll('.run-fold[open], .cell-runs[open]').length,
		runsHead: runs ? runs.textContent : '',
		foldHeads: [...f.querySelectorAll('.run-fold > summary')].map((e) => e.textContent),
		shown: [...f.querySelectorAll('pre.cell-stream')].filter((p) => p.checkVisibility()).length,
		stdout: [...f.querySelectorAll('.cell-output span.out-stdout')].map((e) => e.textContent).join('')};
})()`
}

var seenRE = regexp.MustCompile(`^seen in (\d+) of (\d+) runs$`)

// The lesson's 20-run race cell: 20 runs that each report the same race
// make one item, "seen in 20 of 20 runs", under the summary of the runs;
// the runs' output is folded, so that all of it fits on a screen or two.
func testRepeatRaceGroups(t *testing.T, bt *browserTest) {
	c := findCell(t, bt.lib, "a race-mode cell with repeat ≥ 10 that expects a race", func(c *lessons.Cell) bool {
		return c.Mode == "race" && c.Repeat >= 10 && hasExpect(c, "race") && c.Exercise == ""
	})
	tab := bt.openCell(t, c)
	v := runCell(t, tab, c.ID, "run")
	if v.State != "done" {
		failShot(t, tab, "the repeated race run ended %s: %s", v.State, v.Output)
	}
	r := eval[repeatView](t, tab, repeatExpr(c.ID))
	t.Logf("cell %s: %+v", c.ID, r)
	if len(r.Extra) < 2 || !strings.Contains(r.Extra[0], "cell-summary") || !(r.SummaryY >= 0 && r.SummaryY < r.RacesY && r.RacesY < r.RunsY) {
		failShot(t, tab, "views %q at %v, %v, %v: want the summary first, then the races, then the runs' output", r.Extra, r.SummaryY, r.RacesY, r.RunsY)
	}
	if len(r.Seen) == 0 || len(r.Seen) > 3 {
		failShot(t, tab, "%d race items (%q), want the reports grouped into one to three pairs of accesses", len(r.Seen), r.Seen)
	}
	for _, s := range r.Seen {
		m := seenRE.FindStringSubmatch(s)
		if m == nil || m[2] != strconv.Itoa(c.Repeat) || m[1] == "0" {
			t.Errorf("race item says %q, want seen in K of %d runs", s, c.Repeat)
		}
	}
	if !strings.HasPrefix(r.Heading, fmt.Sprintf("Data races (%d): ", len(r.Seen))) || !strings.HasSuffix(r.Heading, fmt.Sprintf(" in %d runs", c.Repeat)) {
		t.Errorf("races heading %q", r.Heading)
	}
	if r.Folds != c.Repeat || r.OpenFolds != 0 || r.Shown != 0 || r.RunsHead != fmt.Sprintf("The output of each run (%d)", c.Repeat) {
		failShot(t, tab, "%d folds (%d open, %d streams shown), heading %q: want %d closed folds", r.Folds, r.OpenFolds, r.Shown, r.RunsHead, c.Repeat)
	}
	if !strings.HasPrefix(r.FoldHeads[0], "Run 1 · exit 66, ") {
		t.Errorf("the first run's fold says %q, want its exit and races", r.FoldHeads[0])
	}
	if strings.Count(r.Stdout, "hello, world") == 0 && strings.Count(r.Stdout, "\n") < c.Repeat {
		t.Errorf("the folds hold %q, want each run's output", r.Stdout)
	}
	// Before: 40 race entries and the summary some 7,000 px down.
	if r.Height > 1800 {
		failShot(t, tab, "the cell is %.0f px tall after the run, want the results within 1800 px", r.Height)
	}
	shot(t, tab, c.ID, "views-repeat-races.png")
	docShot(t, tab, c.ID, "repeat-view.png")
	// The report as printed is in its run's folded output: the button
	// opens that run and shows it.
	if !showReport(t, tab, c.ID, 1) {
		failShot(t, tab, "after Show the report, no run's output shows it")
	}
}

// viewsLesson holds repeated cells for fake summaries: one whose exact
// output states a number, one that counts outcomes.
var viewsLesson = fstest.MapFS{"01-views.md": {Data: []byte("---\ntitle: Views\nsummary: Cells for the views' tests.\norder: 1\n---\n\n" +
	"## Numbers\n\n```go {repeat=5 expect=\"output=counter = 2000\\n\"}\npackage main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"counter =\", 2000) }\n```\n\n" +
	"## Counted\n\n```go {repeat=4 expect=exit=0 expect=outputs>=2}\npackage main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"r1=0 r2=0: 1\") }\n```\n")}}

// fakeSummary answers the views lesson's two cells with runs and a
// summary holding numbers (views-1) or counted outcomes (views-2).
func fakeSummary(req sandbox.Request) []any {
	out := []any{map[string]any{"kind": "build", "ms": 3}}
	numbers := []float64{1990, 2000, 1875, 2000, 1999}
	for i := 1; i <= req.Repeat; i++ {
		text := fmt.Sprintf("counter = %v\n", numbers[(i-1)%len(numbers)])
		if req.Cell == "views/views-2" {
			text = fmt.Sprintf("r1=0 r2=0: %d\nr1=1 r2=1: %d\n", 30000+i, 20000-i)
		}
		out = append(out, map[string]any{"kind": "stdout", "run": i, "data": text},
			map[string]any{"kind": "exit", "run": i, "code": 0, "reason": "exited", "ms": 12})
	}
	s := map[string]any{"runs": req.Repeat, "reasons": map[string]int{"exited": req.Repeat}, "codes": map[string]int{"0": req.Repeat}, "races": 0}
	if req.Cell == "views/views-2" {
		s["outputs"] = []any{map[string]any{"output": "r1=0 r2=0: 30001\nr1=1 r2=1: 19999", "count": 1}}
		s["others"] = req.Repeat - 1
		s["counted"] = []any{map[string]any{"label": "r1=0 r2=0", "count": 120010}, map[string]any{"label": "r1=1 r2=1", "count": 79990}, map[string]any{"label": "r1=1 r2=0", "count": 3}}
	} else {
		s["outputs"] = []any{map[string]any{"output": "counter = 2000", "count": 2}, map[string]any{"output": "counter = 1990", "count": 1},
			map[string]any{"output": "counter = 1875", "count": 1}, map[string]any{"output": "counter = 1999", "count": 1}}
		s["numbers"] = numbers
	}
	return append(out, map[string]any{"kind": "summary", "summary": s})
}

// summaryDetail is what a summary shows of counted outcomes and numbers.
type summaryDetail struct {
	Counted  []string `json:"counted"` // label and count of each row
	Subheads []string `json:"subheads"`
	Facts    []string `json:"facts"` // the numbers' min, median, max, the lesson's
	Dots     []string `json:"dots"`  // each dot's --x
	Expected string   `json:"expected"`
	Off      string   `json:"off"`
	Folded   bool     `json:"folded"` // the distinct outputs are folded away
	Labels   []string `json:"labels"` // the distinct outputs, in order
}

func summaryDetailExpr(id string) string {
	return `(() => {
	const f = document.querySelector('figure.cell[data-cell=' + ` + jsString(id) + ` + ']');
	const s = f.querySelector('.cell-summary');
	const e = s.querySelector('.num-expected');
	const o = s.querySelector('.num-off');
	const fold = s.querySelector('details.summary-outputs');
	return {counted: [...s.querySelectorAll('.summary-counted .hist-row')].map((r) => r.querySelector('.hist-label').textContent + ' = ' + r.querySelector('.hist-count').textContent),
		subheads: [...s.querySelectorAll('.view-subheading')].map((h) => h.textContent),
		facts: [...s.querySelectorAll('.num-facts > div')].map((d) => d.textContent),
		dots: [...s.querySelectorAll('.num-dot')].map((d) => d.style.getPropertyValue('--x')),
		expected: e ? e.style.getPropertyValue('--x') : '', off: o ? o.textContent : '',
		folded: !!fold && !fold.open,
		labels: [...s.querySelectorAll('.summary-outputs .hist-label, .cell-summary > .hist .hist-label')].map((l) => l.textContent)};
})()`
}

func testRepeatCountedAndNumbers(t *testing.T, bt *browserTest) {
	fake := &fakeRun{script: fakeSummary}
	s := fake.site()
	s.lessons = viewsLesson
	vt := bt.serve(t, s)
	tab, _ := vt.open(t, "/lessons/views")
	waitScript(t, tab)

	if v := runCell(t, tab, "views-1", "run"); v.State != "done" {
		failShot(t, tab, "the numbers cell ended %s", v.State)
	}
	d := eval[summaryDetail](t, tab, summaryDetailExpr("views-1"))
	t.Logf("numbers: %+v", d)
	wantFacts := []string{"min1,875", "median1,999", "max2,000", "the lesson expects2,000"}
	if strings.Join(d.Facts, "|") != strings.Join(wantFacts, "|") || len(d.Dots) != 5 || d.Expected != "100%" || d.Off != "3 of 5 runs printed something else." {
		failShot(t, tab, "numbers %+v, want facts %q, 5 dots and the expected 2000 marked at 100%%", d, wantFacts)
	}
	if !d.Folded || strings.Join(d.Labels, "|") != "counter = 2000|counter = 1875|counter = 1990|counter = 1999" {
		t.Errorf("distinct outputs folded %v, in the order %q: want them folded, by count, then numbers as numbers", d.Folded, d.Labels)
	}
	shot(t, tab, "views-1", "views-numbers.png")

	if v := runCell(t, tab, "views-2", "run"); v.State != "done" {
		failShot(t, tab, "the counted cell ended %s", v.State)
	}
	d = eval[summaryDetail](t, tab, summaryDetailExpr("views-2"))
	t.Logf("counted: %+v", d)
	want := []string{"r1=0 r2=0 = 120,010 (60.0%)", "r1=1 r2=1 = 79,990 (40.0%)", "r1=1 r2=0 = 3 (0.00%)"}
	if strings.Join(d.Counted, "|") != strings.Join(want, "|") || len(d.Subheads) == 0 || d.Subheads[0] != "What the runs counted (200,003 in all)" {
		failShot(t, tab, "counted rows %q under %q, want %q", d.Counted, d.Subheads, want)
	}
	shot(t, tab, "views-2", "views-counted.png")
	for _, r := range fake.requests() {
		if !strings.HasPrefix(r.Cell, "views/views-") {
			t.Errorf("a run of the views lesson was sent with cell %q, want views/views-N", r.Cell)
		}
	}
}
