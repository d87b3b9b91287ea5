package web_test

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/racelab/racelab/sandbox"
)

// The keys of the whole page (web/src/keys.js): n and p move between
// lessons, but not in an editor, where they are letters.

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

// The keys are tried on two small lessons of their own (testdata/lessons),
// not on the built-in ones, which will change as the curriculum grows.
func TestBrowserLessonKeys(t *testing.T) {
	bt := newBrowserTest(t, site{lessons: os.DirFS("testdata/lessons")})
	tab, _ := bt.open(t, "/lessons/one")
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

// The keyboard on a lesson and on the index (web/src/keys.js, toc.js,
// cell.js): Tab from the top reaches the first editor, where Tab indents
// and the hint says how to leave (Esc, then Tab); a run started from a
// button puts the focus on Stop and gives it back after; the lesson's
// table of contents; n and p on the index.
func TestBrowserKeyboard(t *testing.T) {
	fake := &fakeRun{script: func(sandbox.Request) []any {
		return []any{map[string]any{"kind": "build", "ms": 1}, 1500 * time.Millisecond,
			map[string]any{"kind": "stdout", "data": "hello\n"}, map[string]any{"kind": "exit", "code": 0, "reason": "exited", "ms": 1500}}
	}}
	bt := newBrowserTest(t, fake.site())
	for _, st := range []subtest{
		{"TabIntoEditorAndOut", testKeyboardTab},
		{"FocusDuringRun", testKeyboardFocusDuringRun},
		{"Contents", testKeyboardContents},
		{"IndexKeys", testKeyboardIndex},
	} {
		t.Run(st.name, func(t *testing.T) { st.run(t, bt) })
	}
}

// focusView says where the focus is.
type focusView struct {
	InEditor string `json:"inEditor"` // data-cell of the editor that has it, if any
	Action   string `json:"action"`   // data-action of the button that has it, if any
	Cell     string `json:"cell"`     // data-cell around it
	Tag      string `json:"tag"`
	Hint     string `json:"hint"` // the display of the focused editor's hint
	Text     string `json:"text"`
}

const focusExpr = `(() => {
	const a = document.activeElement || document.body;
	const ed = a.closest('.cm-editor');
	const fig = a.closest('figure.cell');
	const pane = a.closest('.cell-pane');
	const hint = pane ? pane.querySelector('.cell-hint') : null;
	return {inEditor: ed && fig ? fig.dataset.cell : '', action: a.dataset.action || '', cell: fig ? fig.dataset.cell : '',
		tag: a.tagName.toLowerCase(), hint: hint ? getComputedStyle(hint).display + ' ' + hint.textContent : '',
		text: (a.textContent || '').slice(0, 40)};
})()`

func testKeyboardTab(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	eval[chromedp.Void](t, tab, `document.activeElement && document.activeElement.blur(), window.scrollTo(0, 0)`)
	var f focusView
	for i := 0; i < 80 && f.InEditor == ""; i++ {
		do(t, tab, "press Tab", chromedp.KeyEvent(kb.Tab))
		f = eval[focusView](t, tab, focusExpr)
	}
	if f.InEditor != cellHello {
		failShot(t, tab, "80 Tabs from the top never reached the first editor; the focus is on %+v", f)
	}
	if f.Hint != "block Esc then Tab to leave the editor" {
		failShot(t, tab, "with the focus in the editor its hint is %q, want it shown", f.Hint)
	}
	if d := eval[string](t, tab, `document.querySelector('figure.cell[data-cell="`+cellHello+`"] .cm-content').getAttribute('aria-describedby') || ''`); d == "" ||
		eval[string](t, tab, `document.getElementById(`+jsString(d)+`).textContent`) != "Esc then Tab to leave the editor" {
		t.Errorf("the editor is described by %q, want the hint", d)
	}
	before := eval[cellView](t, tab, cellExpr(cellHello)).Editor
	do(t, tab, "press Tab in the editor", chromedp.KeyEvent(kb.Tab))
	f = eval[focusView](t, tab, focusExpr)
	after := eval[cellView](t, tab, cellExpr(cellHello)).Editor
	if f.InEditor != cellHello || strings.Count(after, "\t") != strings.Count(before, "\t")+1 {
		failShot(t, tab, "Tab in the editor left the focus on %+v and the text %q: want a tab inserted and the focus kept", f, after)
	}
	do(t, tab, "press Esc, then Tab", chromedp.KeyEvent(kb.Escape), chromedp.KeyEvent(kb.Tab))
	f = eval[focusView](t, tab, focusExpr)
	if f.InEditor != "" || f.Cell != cellHello || f.Action != "run" {
		failShot(t, tab, "Esc then Tab moved the focus to %+v, want the cell's Run button", f)
	}
	if h := eval[string](t, tab, `getComputedStyle(document.querySelector('figure.cell[data-cell="`+cellHello+`"] .cell-hint')).display`); h != "none" {
		t.Errorf("the hint is %q once the editor lost the focus, want none", h)
	}
	do(t, tab, "reset the cell", chromedp.Click(button(cellHello, "reset")))
}

func testKeyboardFocusDuringRun(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	eval[chromedp.Void](t, tab, `document.querySelector('figure.cell[data-cell="`+cellHello+`"] button[data-action="run"]').focus()`)
	do(t, tab, "press Enter on Run", chromedp.KeyEvent(kb.Enter))
	f := poll(t, tab, "the focus on Stop", browserWait, focusExpr, func(f focusView) bool { return f.Action == "stop" })
	if v := eval[cellView](t, tab, cellExpr(cellHello)); v.over() {
		t.Fatalf("the run was over (%s) when the focus was seen on Stop: the test proves nothing", v.State)
	}
	t.Logf("during the run the focus is on %+v", f)
	poll(t, tab, "the run to end", browserWait, cellExpr(cellHello), cellView.over)
	if f = eval[focusView](t, tab, focusExpr); f.Action != "run" || f.Cell != cellHello {
		failShot(t, tab, "after the run the focus is on %+v, want the Run button again", f)
	}
}

// tocView is the lesson's table of contents.
type tocView struct {
	Links []string `json:"links"` // href of each entry
	Texts []string `json:"texts"`
	Ids   []string `json:"ids"` // the ids of the lesson's ## headings
}

func testKeyboardContents(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	v := eval[tocView](t, tab, `({links: [...document.querySelectorAll('nav.lesson-toc a')].map((a) => a.getAttribute('href')),
		texts: [...document.querySelectorAll('nav.lesson-toc a')].map((a) => a.textContent),
		ids: [...document.querySelectorAll('.lesson-body > h2[id]')].map((h) => '#' + h.id)})`)
	if len(v.Links) < 2 || !reflect.DeepEqual(v.Links, v.Ids) || v.Texts[0] != "Run a program" {
		failShot(t, tab, "contents %+v, want a link to each section", v)
	}
	do(t, tab, "follow the last entry", chromedp.Click(chromedp.CSS(`nav.lesson-toc li:last-child a`)))
	if h := eval[string](t, tab, `location.hash`); h != v.Links[len(v.Links)-1] {
		t.Errorf("after the last entry the page is at %q, want %q", h, v.Links[len(v.Links)-1])
	}
}

func testKeyboardIndex(t *testing.T, bt *browserTest) {
	tab, _ := bt.open(t, "/")
	waitScript(t, tab)
	links := eval[[]string](t, tab, `[...document.querySelectorAll('.lesson-list .lesson-link')].map((a) => a.getAttribute('href'))`)
	if len(links) < 2 {
		t.Fatalf("the index lists %q, want at least two lessons", links)
	}
	focused := func() string {
		return eval[string](t, tab, `document.activeElement ? document.activeElement.getAttribute('href') || '' : ''`)
	}
	for i, step := range []struct{ key, want string }{{"n", links[0]}, {"n", links[1]}, {"p", links[0]}} {
		do(t, tab, "press "+step.key, chromedp.KeyEvent(step.key))
		if got := focused(); got != step.want {
			failShot(t, tab, "key %d (%s) on the index focused %q, want %q", i+1, step.key, got, step.want)
		}
	}
	if got := eval[string](t, tab, `location.pathname`); got != "/" {
		t.Errorf("n and p on the index went to %s, want them to stay on it", got)
	}
}
