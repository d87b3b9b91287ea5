package web_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
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
