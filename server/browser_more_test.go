package server

import (
	"context"
	"encoding/json"
	"fmt"
	"go/format"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestBrowserMore drives the rest of what issue 3 asks of the browser:
// compile errors on the editor lines, Ctrl+Enter, Reset and Format, the
// place in line while waiting, auto-scroll, lesson keys, themes, a phone's
// screen and a page without JavaScript. Like TestBrowser it runs against
// the real runc sandbox, with one Chromium whose tabs share a profile.
// The subtests about the output panel are in browser_output_test.go, those
// about how the page looks in browser_look_test.go.
func TestBrowserMore(t *testing.T) {
	path := chromiumPath(t)
	r := realSandbox(t)
	ts, lib := newBuiltinServer(t, r)
	bt := &browserTest{ctx: startBrowser(t, path), url: ts.URL, runner: r, lib: lib}
	for _, st := range []struct {
		name string
		run  func(*testing.T, *browserTest)
	}{
		{"CompileErrorMarked", testBrowserCompileErrorMarked},
		{"CtrlEnterRuns", testBrowserCtrlEnterRuns},
		{"ResetRestores", testBrowserResetRestores},
		{"Format", testBrowserFormat},
		{"QueuePosition", testBrowserQueuePosition},
		{"AutoScroll", testBrowserAutoScroll},
		{"LessonKeys", testBrowserLessonKeys},
		{"Themes", testBrowserThemes},
		{"Phone", testBrowserPhone},
		{"WithoutJavaScript", testBrowserWithoutJavaScript},
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

// statusText returns the words of a cell's status line.
func statusText(t *testing.T, tab context.Context, id string) string {
	t.Helper()
	return eval[string](t, tab, `(document.querySelector('figure.cell[data-cell=' + `+jsString(id)+` + '] .cell-status') || {}).textContent || ''`)
}

func testBrowserCompileErrorMarked(t *testing.T, bt *browserTest) {
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

func testBrowserCtrlEnterRuns(t *testing.T, bt *browserTest) {
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

func editorOf(id string) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`figure[data-cell=%q] .cm-content`, id))
}

// storedExpr is the learner's saved files of a cell, as JSON, or null.
func storedExpr(id string) string {
	return "localStorage.getItem(" + jsString("racelab:cell:"+id) + ")"
}

func testBrowserResetRestores(t *testing.T, bt *browserTest) {
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

func testBrowserFormat(t *testing.T, bt *browserTest) {
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

// Moving between lessons by keyboard: n and p on the page, but not in an
// editor, where they are letters.

// waitScript waits for the page script to have run: the page is marked
// js and every cell has its editor.
func waitScript(t *testing.T, tab context.Context) {
	t.Helper()
	poll(t, tab, "the page script", browserWait, `document.documentElement.classList.contains('js') &&
	[...document.querySelectorAll('figure.cell')].every((f) => f.classList.contains('cell-live'))`, func(b bool) bool { return b })
}

// spyNavigationsExpr records in sessionStorage, which outlives the page,
// every navigation the page starts. The navigate event fires within the
// call that starts one, so by the time a key press has been handled, a
// navigation it caused is on the list.
const spyNavigationsExpr = `navigation.addEventListener('navigate', (e) => {
	const seen = JSON.parse(sessionStorage.getItem('racelab-test-navigations') || '[]');
	sessionStorage.setItem('racelab-test-navigations', JSON.stringify([...seen, new URL(e.destination.url).pathname]));
})`

const navigationsExpr = `JSON.parse(sessionStorage.getItem('racelab-test-navigations') || '[]')`

// pressForPage presses key with the focus on the page itself, not in an
// editor, and waits for the page the key leads to.
func pressForPage(t *testing.T, tab context.Context, key, want string) {
	t.Helper()
	if !eval[bool](t, tab, `document.activeElement && document.activeElement.blur(), document.activeElement === document.body`) {
		t.Fatalf("could not move the focus to the body")
	}
	ctx, cancel := context.WithTimeout(tab, browserWait)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.KeyEvent(key))); err != nil {
		failShot(t, tab, "pressing %q: no page loaded: %v", key, err)
	}
	waitScript(t, tab)
	if got := eval[string](t, tab, `location.pathname`); got != want {
		failShot(t, tab, "pressing %q led to %s, want %s", key, got, want)
	}
}

// The keys are tried on two small lessons of their own (testLessons), not
// on the built-in ones, which will change as the curriculum grows.
func testBrowserLessonKeys(t *testing.T, bt *browserTest) {
	lib := testLessons(t)
	s, err := New(Config{}, lib, bt.runner)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	kt := &browserTest{ctx: bt.ctx, url: ts.URL, runner: bt.runner, lib: lib}
	tab, _ := kt.open(t, "/lessons/one")
	waitScript(t, tab)

	eval[chromedp.Void](t, tab, spyNavigationsExpr)
	pressForPage(t, tab, "n", "/lessons/two")
	if nav := eval[[]string](t, tab, navigationsExpr); len(nav) != 1 || nav[0] != "/lessons/two" {
		t.Fatalf("the spy saw navigations %q, want [/lessons/two]: it cannot be trusted below", nav)
	}
	pressForPage(t, tab, "p", "/lessons/one")

	// In an editor n is a letter like any other.
	eval[chromedp.Void](t, tab, `sessionStorage.removeItem('racelab-test-navigations')`)
	eval[chromedp.Void](t, tab, spyNavigationsExpr)
	const id = "one-1"
	before := eval[cellView](t, tab, cellExpr(id))
	do(t, tab, "type n in the editor", chromedp.Click(editorOf(id)), chromedp.KeyEvent("n"))
	after := poll(t, tab, "the n to be typed", browserWait, cellExpr(id), func(v cellView) bool { return v.Editor != before.Editor })
	if len(after.Editor) != len(before.Editor)+1 || strings.Count(after.Editor, "n") != strings.Count(before.Editor, "n")+1 {
		t.Errorf("typing n turned the editor's %q into %q, want one more n", before.Editor, after.Editor)
	}
	nav := eval[[]string](t, tab, navigationsExpr)
	if path := eval[string](t, tab, `location.pathname`); len(nav) > 0 || path != "/lessons/one" {
		failShot(t, tab, "n typed in an editor started navigations %q (now at %s), want none", nav, path)
	}
}
