package web_test

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/racelab/racelab/lessons"
	"github.com/racelab/racelab/sandbox"
)

// A lesson's editors come as they are needed (web/src/lazy.js): the cells
// on the first screen have theirs at once, the others show their
// highlighted code, set like the editor, with a toolbar that works, until
// they come near the view, the browser is idle, or the learner reaches for
// them. The subtests stop the idle time and the observer of the view (a
// script run before the page's) where they need a cell to stay without
// its editor.
func TestBrowserLazyEditors(t *testing.T) {
	var (
		mu   sync.Mutex
		sent []map[string]string
	)
	record := sandbox.RunnerFunc(func(_ context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
		mu.Lock()
		sent = append(sent, req.Files)
		mu.Unlock()
		emit(sandbox.Event{Kind: sandbox.KindExit, Reason: sandbox.ReasonExited})
		return nil
	})
	bt := newBrowserTest(t, site{runner: record})
	lesson, ok := bt.lib.Lesson(lessonSlug)
	if !ok || len(lesson.Cells) < 4 {
		t.Fatalf("the sample lesson %q has %d cells; these tests need four or more", lessonSlug, len(lesson.Cells))
	}
	last := lesson.Cells[len(lesson.Cells)-1]
	open := func(t *testing.T, hold string) context.Context {
		tab, _ := bt.openWith(t, "/healthz", chromedp.EmulateViewport(1280, 900))
		if hold != "" {
			do(t, tab, "hold the editors back", cdpCall(page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: hold}))
		}
		do(t, tab, "open the lesson", chromedp.Navigate(bt.url+"/lessons/"+lessonSlug))
		bt.waitLive(t, tab)
		return tab
	}

	t.Run("FirstScreen", func(t *testing.T) {
		tab := open(t, holdIdle+holdView)
		cells := eval[[]lazyCell](t, tab, lazyCellsExpr)
		var shown, static int
		for _, c := range cells {
			switch {
			case c.OnScreen && !(c.Editable && c.Editors == c.Files && c.Static == 0):
				t.Errorf("cell %s is on the first screen with %d editors of %d files (editable %v, %d static): want its editors at once", c.ID, c.Editors, c.Files, c.Editable, c.Static)
			case !c.OnScreen && !(c.Editors == 0 && c.Static == c.Files && !c.Editable):
				t.Errorf("cell %s is off the first screen with %d editors and %d highlighted files of %d: want only its highlighted code", c.ID, c.Editors, c.Static, c.Files)
			case !c.Toolbar:
				t.Errorf("cell %s has no working Run button", c.ID)
			}
			if c.OnScreen {
				shown++
			} else {
				static++
			}
		}
		if shown == 0 || static == 0 {
			failShot(t, tab, "%d cells on the first screen, %d off it: want both", shown, static)
		}
	})

	t.Run("NoShift", func(t *testing.T) {
		tab := open(t, holdIdle+holdView)
		for i, c := range lesson.Cells {
			before := eval[lazyPlace](t, tab, lazyPlaceExpr(c.ID))
			if !before.Static {
				continue
			}
			eval[bool](t, tab, fmt.Sprintf(`document.querySelector('figure[data-cell=%q] pre.cell-static').focus() || true`, c.ID))
			after := eval[lazyPlace](t, tab, lazyPlaceExpr(c.ID))
			if after.Static || !after.Focused {
				failShot(t, tab, "cell %d (%s): focusing its code left it highlighted %v, editor focused %v: want the editor, focused", i, c.ID, after.Static, after.Focused)
			}
			if math.Abs(after.Left-before.Left) > 0.5 || math.Abs(after.Top-before.Top) > 0.5 || math.Abs(after.Height-before.Height) > 0.5 {
				t.Errorf("cell %s: the editor moved the code: its first character at (%.1f, %.1f) in a pane %.1f high, was (%.1f, %.1f) in %.1f",
					c.ID, after.Left, after.Top, after.Height, before.Left, before.Top, before.Height)
			}
		}
	})

	t.Run("PressPutsTheCursor", func(t *testing.T) {
		tab := open(t, holdIdle+holdView)
		const line = 5
		at := eval[struct{ X, Y float64 }](t, tab, fmt.Sprintf(`(() => {
	const pre = document.querySelector('figure[data-cell=%q] pre.cell-static');
	pre.scrollIntoView({block: 'center'});
	const r = pre.querySelectorAll('.line')[%d].getBoundingClientRect();
	return {x: r.left + 2, y: r.top + r.height / 2};
})()`, last.ID, line-1))
		do(t, tab, "press on the code", chromedp.MouseClickXY(at.X, at.Y))
		got := eval[lazyPlace](t, tab, lazyPlaceExpr(last.ID))
		if got.Static || !got.Focused || got.Line != line {
			failShot(t, tab, "after a press on line %d of %s's code: highlighted %v, focused %v, cursor on line %d; want its editor focused on line %d", line, last.ID, got.Static, got.Focused, got.Line, line)
		}
	})

	t.Run("RunSendsTheCode", func(t *testing.T) {
		tab := open(t, holdIdle+holdView)
		if !eval[lazyPlace](t, tab, lazyPlaceExpr(last.ID)).Static {
			t.Fatalf("cell %s has its editor already", last.ID)
		}
		mu.Lock()
		sent = nil
		mu.Unlock()
		eval[bool](t, tab, fmt.Sprintf(`document.querySelector('figure[data-cell=%q] button.cell-btn[data-action=run]').click() || true`, last.ID))
		poll(t, tab, "the run to end", browserWait, cellExpr(last.ID), cellView.over)
		mu.Lock()
		got := sent
		mu.Unlock()
		if len(got) != 1 {
			t.Fatalf("the sandbox got %d requests, want 1", len(got))
		}
		want := last.FileMap()
		if fmt.Sprint(got[0]) != fmt.Sprint(want) {
			t.Errorf("the run sent %v, want the lesson's %v", got[0], want)
		}
		if got, shown := eval[map[string]string](t, tab, editorsExpr(last.ID)), shownFiles(last); fmt.Sprint(got) != fmt.Sprint(shown) {
			t.Errorf("after the run the editors hold %v, want the lesson's %v", got, shown)
		}
	})

	t.Run("NearTheView", func(t *testing.T) {
		tab := open(t, holdIdle)
		do(t, tab, "scroll to the last cell", chromedp.ScrollIntoView(chromedp.CSS(fmt.Sprintf(`figure[data-cell=%q]`, last.ID))))
		poll(t, tab, "the last cell's editor", browserWait, lazyPlaceExpr(last.ID), func(p lazyPlace) bool { return !p.Static && p.Editors > 0 })
		if n := eval[int](t, tab, `document.querySelectorAll('pre.cell-static').length`); n == 0 {
			failShot(t, tab, "every cell has its editor with the idle time held: want those far from the view without")
		}
	})

	t.Run("IdleMakesTheRest", func(t *testing.T) {
		tab := open(t, "")
		poll(t, tab, "every cell's editors", browserWait, `document.querySelectorAll('figure.cell.cell-editable').length === document.querySelectorAll('figure.cell').length && !document.querySelector('pre.cell-static')`, func(b bool) bool { return b })
		for _, c := range lesson.Cells {
			if got, want := eval[map[string]string](t, tab, editorsExpr(c.ID)), shownFiles(c); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("cell %s's editors hold %v, want the lesson's %v", c.ID, got, want)
			}
		}
	})

	t.Run("SavedEditsAtOnce", func(t *testing.T) {
		tab := open(t, holdIdle+holdView)
		const edit = "package main\n\nfunc main() {\n\tprintln(\"my edit\")\n}\n"
		bt.putProgram(t, tab, last.ID, edit)
		if p := eval[lazyPlace](t, tab, lazyPlaceExpr(last.ID)); p.Static || p.Editors == 0 {
			failShot(t, tab, "cell %s has saved edits and shows its highlighted code: want its editor with the edits at once", last.ID)
		}
	})
}

// Scripts run before a page's own: no idle time for lazy.js, and no
// observer of the view.
const (
	holdIdle = `window.requestIdleCallback = () => 0;`
	holdView = `delete window.IntersectionObserver;`
)

// lazyCell is how a cell of the page stands.
type lazyCell struct {
	ID       string `json:"id"`
	OnScreen bool   `json:"onScreen"`
	Editable bool   `json:"editable"` // the figure has cell-editable
	Files    int    `json:"files"`    // panes
	Editors  int    `json:"editors"`
	Static   int    `json:"static"` // highlighted files
	Toolbar  bool   `json:"toolbar"`
}

const lazyCellsExpr = `[...document.querySelectorAll('figure.cell')].map((f) => {
	const r = f.getBoundingClientRect();
	const run = f.querySelector('button.cell-btn[data-action=run]');
	return {id: f.dataset.cell, onScreen: r.bottom > 0 && r.top < innerHeight, editable: f.classList.contains('cell-editable'),
		files: f.querySelectorAll('.cell-pane').length, editors: f.querySelectorAll('.cm-editor').length,
		static: f.querySelectorAll('.cell-pane pre.cell-static').length, toolbar: !!run && !run.disabled};
})`

// lazyPlace is where a cell's first character of code is, relative to its
// pane, and how its editor stands.
type lazyPlace struct {
	Static  bool    `json:"static"`
	Editors int     `json:"editors"`
	Left    float64 `json:"left"`
	Top     float64 `json:"top"`
	Height  float64 `json:"height"`
	Focused bool    `json:"focused"`
	Line    int     `json:"line"` // the cursor's line, when focused
}

func lazyPlaceExpr(id string) string {
	return `((f) => {
	const pane = f.querySelector('.cell-pane');
	const w = document.createTreeWalker(pane, NodeFilter.SHOW_TEXT,
		(n) => /\S/.test(n.data) && !n.parentElement.closest('.cm-gutters, .cell-hint') ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_SKIP);
	const first = w.nextNode();
	const g = document.createRange(); g.setStart(first, 0); g.setEnd(first, 1);
	const b = g.getBoundingClientRect(); const p = pane.getBoundingClientRect();
	const ed = f.querySelector('.cm-editor');
	const focused = !!ed && ed.contains(document.activeElement);
	const active = focused ? ed.querySelector('.cm-activeLine') : null;
	return {static: !!pane.querySelector('pre.cell-static'), editors: f.querySelectorAll('.cm-editor').length,
		left: b.left - p.left, top: b.top - p.top, height: p.height, focused,
		line: active ? [...active.parentNode.children].indexOf(active) + 1 : 0};
})(document.querySelector('figure.cell[data-cell=' + ` + jsString(id) + ` + ']'))`
}

// shownFiles is the files of a cell the learner sees: an exercise's
// hidden ones are sent with every run but have no editor.
func shownFiles(c *lessons.Cell) map[string]string {
	files := c.FileMap()
	for _, name := range c.Hidden {
		delete(files, name)
	}
	return files
}

// editorsExpr is the text of each editor of a cell, by file name.
func editorsExpr(id string) string {
	return `Object.fromEntries([...document.querySelectorAll('figure.cell[data-cell=' + ` + jsString(id) + ` + '] .cell-pane')].map((p) =>
	[p.dataset.file, [...p.querySelectorAll('.cm-content .cm-line')].map((l) => l.textContent).join('\n')]))`
}
