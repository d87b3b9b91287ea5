package web_test

import (
	"encoding/json"
	"fmt"
	"go/format"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/racelab/racelab/lessons"
)

// A cell's editor (web/src/editor.js, cell.js), on the real sandbox:
// compile errors and go vet's findings marked on their lines, Ctrl+Enter,
// Reset and Format.
func TestBrowserEditor(t *testing.T) {
	bt := newBrowserTest(t, site{})
	for _, st := range []subtest{
		{"CompileErrorMarked", testEditorCompileError},
		{"CtrlEnterRuns", testEditorCtrlEnter},
		{"ResetRestores", testEditorReset},
		{"Format", testEditorFormat},
		{"Vet", testEditorVet},
	} {
		t.Run(st.name, func(t *testing.T) { st.run(t, bt) })
	}
}

// The programs the subtests put into the cell cellHello.
const (
	// undefinedOnLine6 does not build: line 6, column 14 names nothing.
	undefinedOnLine6 = "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(undefinedName)\n}\n"
	ctrlEnterProgram = "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"run by Ctrl+Enter\")\n}\n"
	unformatted      = "package main\nimport \"fmt\"\nfunc main(){\nfmt.Println( \"formatted\" )\n}\n"
)

func testEditorCompileError(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellHello, undefinedOnLine6)
	v := runCell(t, tab, cellHello, "run")
	status := statusText(t, tab, cellHello)
	if v.State != "failed" || v.Reason != "build-failed" || !strings.Contains(status, "build failed") {
		failShot(t, tab, "run ended %s (reason %q) saying %q; want failed, build-failed, and the words \"build failed\"", v.State, v.Reason, status)
	}
	if !strings.Contains(v.Stderr, "undefined: undefinedName") {
		t.Errorf("stderr %q: want the compiler's error", v.Stderr)
	}
	m := poll(t, tab, "the error to be marked in the editor", browserWait, lintExpr(cellHello), func(m lintMarks) bool {
		return len(m.Ranges) > 0 && len(m.Markers) > 0
	})
	var underlined strings.Builder
	for _, r := range m.Ranges {
		if r.Line != 6 {
			failShot(t, tab, "an underline on line %d (%q), want it on line 6 only", r.Line, r.Text)
		}
		underlined.WriteString(r.Text)
	}
	if underlined.String() != "undefinedName" {
		t.Errorf("underlined %q, want %q", underlined.String(), "undefinedName")
	}
	if len(m.Markers) != 1 || m.Markers[0].Line != 6 {
		failShot(t, tab, "gutter markers %+v, want one, on line 6", m.Markers)
	}
}

// lintMark is an error mark in an editor: the 1-based line it is on and,
// for an underline, the text it underlines.
type lintMark struct {
	Line int    `json:"line"`
	Text string `json:"text"`
}

type lintMarks struct {
	Ranges  []lintMark `json:"ranges"`  // .cm-lintRange-error
	Markers []lintMark `json:"markers"` // .cm-lint-marker-error, in the gutter
}

// lintExpr finds the error marks of a cell's editor. An underline is in
// its line's element; a gutter marker is beside it, so it is placed by its
// height on the page.
func lintExpr(id string) string {
	return `(() => {
	const f = document.querySelector('figure.cell[data-cell=' + ` + jsString(id) + ` + ']');
	const lines = [...f.querySelectorAll('.cm-content .cm-line')];
	const beside = (e) => {
		const r = e.getBoundingClientRect(), y = (r.top + r.bottom) / 2;
		return lines.findIndex((l) => { const b = l.getBoundingClientRect(); return y >= b.top && y < b.bottom; }) + 1;
	};
	return {
		ranges: [...f.querySelectorAll('.cm-lintRange-error')].map((e) => ({line: lines.indexOf(e.closest('.cm-line')) + 1, text: e.textContent})),
		markers: [...f.querySelectorAll('.cm-lint-marker-error')].map((e) => ({line: beside(e), text: ''})),
	};
})()`
}

func testEditorCtrlEnter(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellHello, ctrlEnterProgram)
	do(t, tab, "press Ctrl+Enter in the editor",
		chromedp.Click(editorOf(cellHello)),
		chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	v := poll(t, tab, "the run to end", browserWait, cellExpr(cellHello), cellView.over)
	if v.State != "done" || v.Stdout != "run by Ctrl+Enter\n" {
		failShot(t, tab, "after Ctrl+Enter the cell is %s with stdout %q, want done and %q", v.State, v.Stdout, "run by Ctrl+Enter\n")
	}
	if v.Editor != ctrlEnterProgram {
		t.Errorf("after Ctrl+Enter the editor holds %q, want %q unchanged (no new line)", v.Editor, ctrlEnterProgram)
	}
}

func testEditorReset(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	cell, _ := bt.lib.Cell(cellHello)
	want := cell.FileMap()["main.go"]
	page := eval[map[string]string](t, tab, `JSON.parse(document.querySelector('figure.cell[data-cell=`+jsString(cellHello)+`] script.cell-files').textContent)`)
	if page["main.go"] != want {
		t.Fatalf("the page's cell-files hold %q, want the lesson's %q", page["main.go"], want)
	}
	bt.putProgram(t, tab, cellHello, ctrlEnterProgram)
	do(t, tab, "press reset", chromedp.Click(button(cellHello, "reset")))
	poll(t, tab, "the original code to be back", browserWait, cellExpr(cellHello), func(v cellView) bool {
		return v.Editor == want && !v.Edited
	})
	if stored := eval[*string](t, tab, storedExpr(cellHello)); stored != nil {
		failShot(t, tab, "after Reset localStorage still holds %q", *stored)
	}
	// What Reset forgot stays forgotten.
	do(t, tab, "reload", chromedp.Reload())
	bt.waitLive(t, tab)
	if v := eval[cellView](t, tab, cellExpr(cellHello)); v.Editor != want || v.Edited {
		failShot(t, tab, "after Reset and a reload the editor holds %q (edited %v), want %q", v.Editor, v.Edited, want)
	}
}

func testEditorFormat(t *testing.T, bt *browserTest) {
	b, err := format.Source([]byte(unformatted))
	if err != nil {
		t.Fatal(err)
	}
	want := string(b)
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellHello, unformatted)
	v := runCell(t, tab, cellHello, "fmt")
	if v.State != "done" || v.Editor != want {
		failShot(t, tab, "after Format the cell is %s and its editor holds %q, want done and %q", v.State, v.Editor, want)
	}
	// The formatted text is the learner's edit now, kept like any other.
	var files map[string]string
	if stored := eval[*string](t, tab, storedExpr(cellHello)); stored == nil {
		t.Errorf("after Format localStorage holds nothing for the cell, want the formatted program")
	} else if json.Unmarshal([]byte(*stored), &files) != nil || files["main.go"] != want {
		t.Errorf("after Format localStorage holds %s, want the formatted program", *stored)
	}
}

// vetCell finds the built-in cell in vet mode that shows a copied lock.
func vetCell(t *testing.T, lib *lessons.Library) *lessons.Cell {
	t.Helper()
	// The mutex lesson's cell, which claims vet's "copies lock" finding:
	// other vet cells (lesson 02's lostcancel) come earlier.
	claimsCopy := func(e lessons.Expect) bool { return strings.Contains(e.Value, "copies lock") }
	for _, l := range lib.Lessons() {
		for _, c := range l.Cells {
			if c.Mode == "vet" && len(c.Files) == 1 && c.Files[0].Name == "main.go" && slices.ContainsFunc(c.Expect, claimsCopy) {
				return c
			}
		}
	}
	t.Fatal("no built-in cell runs go vet on main.go and claims a copied lock")
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

func testEditorVet(t *testing.T, bt *browserTest) {
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
