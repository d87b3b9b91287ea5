package server

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/racelab/racelab/lessons"
)

// More of issue 5 in the browser, on the real sandbox: the GOMAXPROCS
// selector, the stuck goroutines of a run that timed out, the goroutines
// left running when main returned, and go vet's findings on their lines.

// printProcs prints the GOMAXPROCS it runs with.
const printProcs = "package main\n\nimport (\n\t\"fmt\"\n\t\"runtime\"\n)\n\nfunc main() { fmt.Println(runtime.GOMAXPROCS(0)) }\n"

// selectForever blocks main in select {} on line 11 while another
// goroutine keeps sleeping, so the runtime sees no deadlock and the run
// times out.
const selectForever = `package main

import "time"

func main() {
	go func() {
		for {
			time.Sleep(time.Millisecond)
		}
	}()
	select {}
}
`

// leakySend starts a goroutine on line 10 that sends on a channel nobody
// receives from, and returns. The sleep lets the goroutine reach its send,
// so that it is seen blocked in it rather than not yet started.
const leakySend = `package main

import (
	"fmt"
	"time"
)

func main() {
	ch := make(chan int)
	go func() { ch <- 1 }()
	time.Sleep(50 * time.Millisecond)
	fmt.Println("main returns")
}
`

func TestBrowserViews2(t *testing.T) {
	path := chromiumPath(t)
	r := realSandbox(t)
	ts, lib := newBuiltinServer(t, r)
	bt := &browserTest{ctx: startBrowser(t, path), url: ts.URL, runner: r, lib: lib}
	for _, st := range []struct {
		name string
		run  func(*testing.T, *browserTest)
	}{
		{"GOMAXPROCS", testViewsProcs},
		{"Timeout", testViewsTimeout},
		{"LeakAtExit", testViewsLeak},
		{"Vet", testViewsVet},
	} {
		t.Run(st.name, func(t *testing.T) { st.run(t, bt) })
	}
}

// procsView is the GOMAXPROCS selector of a cell.
type procsView struct {
	Label   string   `json:"label"`   // the text of its <label>
	Options []string `json:"options"` // the options' text
	Value   string   `json:"value"`
}

func procsExpr(id, value string) string {
	return `(() => {
	const f = document.querySelector('figure.cell[data-cell=' + ` + jsString(id) + ` + ']');
	const s = f.querySelector('.cell-toolbar select.cell-procs-select');
	if (!s) return {label: '', options: [], value: ''};
	const v = ` + jsString(value) + `;
	if (v !== '-') {
		s.value = v;
		s.dispatchEvent(new Event('change', {bubbles: true}));
	}
	return {label: s.labels.length ? s.labels[0].textContent : '',
		options: [...s.options].map((o) => o.textContent), value: s.value};
})()`
}

func testViewsProcs(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellHello, printProcs)
	p := eval[procsView](t, tab, procsExpr(cellHello, "-"))
	if !strings.Contains(p.Label, "GOMAXPROCS") || !reflect.DeepEqual(p.Options, []string{"default", "1", "2", "4", "8"}) || p.Value != "" {
		failShot(t, tab, "the selector is %+v, want a GOMAXPROCS label, options default 1 2 4 8 and default chosen", p)
	}
	for _, n := range []string{"1", "4"} {
		if p := eval[procsView](t, tab, procsExpr(cellHello, n)); p.Value != n {
			failShot(t, tab, "choosing %s left the selector at %q", n, p.Value)
		}
		v := runCell(t, tab, cellHello, "run")
		if v.State != "done" || strings.TrimSpace(v.Stdout) != n {
			failShot(t, tab, "with GOMAXPROCS %s the run ended %s printing %q, want %q", n, v.State, v.Stdout, n+"\n")
		}
	}
	shot(t, tab, cellHello, "views-gomaxprocs.png")
}

func testViewsTimeout(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellHello, selectForever)
	v := runCell(t, tab, cellHello, "run")
	if v.State != "failed" {
		failShot(t, tab, "the endless select ended %s (reason %q), want failed", v.State, v.Reason)
	}
	m := poll(t, tab, "the stuck list", browserWait, marksExpr(cellHello), func(m marksView) bool { return m.Stuck != "" })
	if !strings.Contains(m.Stuck, "timeout") {
		failShot(t, tab, "stuck heading %q, want one naming the timeout", m.Stuck)
	}
	if !slices.ContainsFunc(m.Items, func(s string) bool {
		return strings.Contains(s, "select (no cases)") && strings.Contains(s, "main.go:11")
	}) {
		failShot(t, tab, "stuck list %q, want a goroutine in select (no cases) at main.go:11", m.Items)
	}
	if !slices.Contains(m.Lines["stuck"], 11) {
		failShot(t, tab, "stuck lines %v, want line 11 (select {}) among them", m.Lines["stuck"])
	}
	t.Logf("%s (reason %s): %q", m.Stuck, v.Reason, m.Items)
	shot(t, tab, cellHello, "views-timeout.png")
}

func testViewsLeak(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellHello, leakySend)
	v := runCell(t, tab, cellHello, "run")
	if !strings.Contains(v.Stdout, "main returns") {
		failShot(t, tab, "the run ended %s printing %q, want main returns", v.State, v.Stdout)
	}
	m := poll(t, tab, "the list of goroutines left running", browserWait, marksExpr(cellHello), func(m marksView) bool { return m.Stuck != "" })
	if m.Stuck != "Goroutines still running when main returned" {
		failShot(t, tab, "heading %q, want Goroutines still running when main returned", m.Stuck)
	}
	if !slices.ContainsFunc(m.Items, func(s string) bool { return strings.Contains(s, "chan send") && strings.Contains(s, "main.go:10") }) {
		failShot(t, tab, "list %q, want a goroutine in chan send at main.go:10", m.Items)
	}
	if !reflect.DeepEqual(m.Lines["stuck"], []int{10}) {
		failShot(t, tab, "marked lines %v, want [10]", m.Lines["stuck"])
	}
	t.Logf("%s: %q", m.Stuck, m.Items)
	shot(t, tab, cellHello, "views-leak.png")
}

// vetCell finds a built-in cell in vet mode.
func vetCell(t *testing.T, lib *lessons.Library) *lessons.Cell {
	t.Helper()
	for _, l := range lib.Lessons() {
		for _, c := range l.Cells {
			if c.Mode == "vet" && len(c.Files) == 1 && c.Files[0].Name == "main.go" {
				return c
			}
		}
	}
	t.Fatal("no built-in cell runs go vet on main.go")
	return nil
}

// vetLintView is what the editor of a cell shows of its diagnostics.
type vetLintView struct {
	Lines  []int  `json:"lines"`  // lines with an underlined range
	Marker int    `json:"marker"` // gutter markers
	Status string `json:"status"`
	Stderr string `json:"stderr"`
}

func vetLintExpr(id string) string {
	return `(() => {
	const f = document.querySelector('figure.cell[data-cell=' + ` + jsString(id) + ` + ']');
	const lines = new Set();
	for (const r of f.querySelectorAll('.cm-lintRange-error')) {
		const l = r.closest('.cm-line');
		if (l) lines.add([...l.parentNode.children].indexOf(l) + 1);
	}
	return {lines: [...lines], marker: f.querySelectorAll('.cm-lint-marker-error').length,
		status: f.querySelector('.cell-status .status-msg')?.textContent || '',
		stderr: [...f.querySelectorAll('.cell-output span.out-stderr')].map((e) => e.textContent).join('')};
})()`
}

// vetLine is one finding as go vet prints it.
var vetLine = regexp.MustCompile(`main\.go:(\d+):\d+: `)

func testViewsVet(t *testing.T, bt *browserTest) {
	c := vetCell(t, bt.lib)
	tab, _ := bt.open(t, "/lessons/"+c.Lesson)
	sel := fmt.Sprintf(`figure.cell[data-cell=%q]`, c.ID)
	poll(t, tab, "the vet cell to be live", browserWait, fmt.Sprintf(`!!document.querySelector(%s + '.cell-live')`, jsString(sel)), func(b bool) bool { return b })
	do(t, tab, "scroll to the cell", chromedp.ScrollIntoView(chromedp.CSS(sel)))
	v := runCell(t, tab, c.ID, "run")
	if v.State != "failed" || v.Code != "1" {
		failShot(t, tab, "vet ended %s with code %q, want failed with 1: %s", v.State, v.Code, v.Output)
	}
	l := eval[vetLintView](t, tab, vetLintExpr(c.ID))
	// The lines go vet names, as the page received them.
	var want []int
	for _, m := range vetLine.FindAllStringSubmatch(l.Stderr, -1) {
		n, _ := strconv.Atoi(m[1])
		if !slices.Contains(want, n) {
			want = append(want, n)
		}
	}
	sort.Ints(want)
	sort.Ints(l.Lines)
	if len(want) == 0 || !reflect.DeepEqual(l.Lines, want) || l.Marker == 0 {
		failShot(t, tab, "underlined lines %v with %d gutter markers, want go vet's lines %v (stderr %q)", l.Lines, l.Marker, want, l.Stderr)
	}
	// The lesson's copy: snapshot := c, line 24 of the cell.
	if !slices.Contains(l.Lines, 24) || !strings.Contains(l.Stderr, "copies lock value") {
		t.Errorf("lines %v, stderr %q: want the copy of line 24 among the findings", l.Lines, l.Stderr)
	}
	if !strings.HasPrefix(l.Status, fmt.Sprintf("go vet found %d problem", len(l.Lines))) || !strings.Contains(l.Status, fmt.Sprintf("main.go:%d", want[0])) {
		t.Errorf("status %q, want go vet's findings counted and the first named", l.Status)
	}
	t.Logf("cell %s: lines %v; %s", c.ID, l.Lines, l.Status)
	shot(t, tab, c.ID, "views-vet.png")
}
