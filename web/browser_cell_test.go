package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
)

// What a learner sees of a cell, read from the page: its editor, status
// and output, and the marks and lists of the teaching views; and the ways
// the tests act on a cell: press its buttons, put a program into it.

// cellView is what a learner sees of one cell.
type cellView struct {
	Found  bool   `json:"found"`
	Edited bool   `json:"edited"` // the figure has cell-edited
	State  string `json:"state"`  // data-state of .cell-status
	Reason string `json:"reason"` // data-reason, after an exit
	Code   string `json:"code"`   // data-code, after an exit
	Stdout string `json:"stdout"` // the text of the span.out-stdout
	Stderr string `json:"stderr"` // the text of the span.out-stderr
	Output string `json:"output"` // the whole text of .cell-output
	Editor string `json:"editor"` // the text of the editor, line by line
	Busy   bool   `json:"busy"`   // the figure is aria-busy: its request has not ended
}

// over reports whether the cell's run has ended, one way or another, and
// its request with it: the status says done at the last run's exit, but a
// repeated run's summary, and a cell's verdict, come after that.
func (v cellView) over() bool {
	if v.Busy {
		return false
	}
	switch v.State {
	case "done", "failed", "stopped", "lost", "error":
		return true
	}
	return false
}

func cellExpr(id string) string {
	return `(() => {
	const f = document.querySelector('figure.cell[data-cell=' + ` + jsString(id) + ` + ']');
	if (!f) return {found: false};
	const st = f.querySelector('.cell-status') || document.createElement('div');
	const text = (sel) => [...f.querySelectorAll(sel)].map((e) => e.textContent).join('');
	const lines = [...f.querySelectorAll('.cm-content .cm-line')].map((e) => e.textContent);
	return {found: true, edited: f.classList.contains('cell-edited'),
		state: st.dataset.state || '', reason: st.dataset.reason || '', code: st.dataset.code || '',
		stdout: text('.cell-output span.out-stdout'), stderr: text('.cell-output span.out-stderr'),
		output: text('.cell-output'), editor: lines.join('\n'), busy: f.getAttribute('aria-busy') === 'true'};
})()`
}

// runCell presses a button of the cell and waits for the run to end.
func runCell(t *testing.T, tab context.Context, id, action string) cellView {
	t.Helper()
	do(t, tab, "press "+action, chromedp.Click(button(id, action)))
	return poll(t, tab, action+" of "+id+" to end", browserWait, cellExpr(id), cellView.over)
}

// putProgram stores src as the learner's edit of a cell and reloads the
// page, which then shows it in the cell's editor.
func (bt *browserTest) putProgram(t *testing.T, tab context.Context, id, src string) {
	t.Helper()
	files, _ := json.Marshal(map[string]string{"main.go": src})
	eval[chromedp.Void](t, tab, fmt.Sprintf("localStorage.setItem(%s, %s)", jsString("racelab:cell:"+id), jsString(string(files))))
	do(t, tab, "reload", chromedp.Reload())
	bt.waitLive(t, tab)
	if v := eval[cellView](t, tab, cellExpr(id)); !v.Edited || v.Editor != src {
		t.Fatalf("after reload the editor of %s holds %q (edited %v), want %q", id, v.Editor, v.Edited, src)
	}
}

func button(id, action string) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`figure[data-cell=%q] button.cell-btn[data-action=%q]`, id, action))
}

func editorOf(id string) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`figure[data-cell=%q] .cm-content`, id))
}

// storedExpr is the learner's saved files of a cell, as JSON, or null.
func storedExpr(id string) string {
	return "localStorage.getItem(" + jsString("racelab:cell:"+id) + ")"
}

// statusText returns the words of a cell's status line.
func statusText(t *testing.T, tab context.Context, id string) string {
	t.Helper()
	return eval[string](t, tab, `(document.querySelector('figure.cell[data-cell=' + `+jsString(id)+` + '] .cell-status') || {}).textContent || ''`)
}

// cellStatus is a cell's status line.
type cellStatus struct {
	State string `json:"state"`
	Text  string `json:"text"`
}

func statusExpr(id string) string {
	return `(() => {
	const s = document.querySelector('figure.cell[data-cell=' + ` + jsString(id) + ` + '] .cell-status');
	return s ? {state: s.dataset.state || '', text: s.textContent} : {state: '', text: ''};
})()`
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
}

type raceItem struct {
	Accesses []string `json:"accesses"`
	Show     string   `json:"show"` // the label of the button that shows the report as printed
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
			show: (li.querySelector('.race-show') || {}).textContent || ''})),
		stuck: s ? s.textContent : '',
		items: [...f.querySelectorAll('.stuck-item')].map((e) => e.textContent)};
})()`
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

// showReport clicks the show button of race item n (from 1) of cell id
// and reports whether a line of the output holding "WARNING: DATA RACE"
// is then in view in its stream.
func showReport(t *testing.T, tab context.Context, id string, n int) bool {
	t.Helper()
	do(t, tab, "show the report as printed", chromedp.Click(chromedp.CSS(fmt.Sprintf(`figure[data-cell=%q] .race-item:nth-child(%d) .race-show`, id, n))))
	return eval[bool](t, tab, `(() => {
	const f = document.querySelector('figure.cell[data-cell=' + `+jsString(id)+` + ']');
	for (const s of f.querySelectorAll('.cell-stream')) {
		const r = s.getBoundingClientRect();
		if (r.height === 0) continue;
		const w = document.createTreeWalker(s, NodeFilter.SHOW_TEXT);
		for (let n = w.nextNode(); n; n = w.nextNode()) {
			for (let i = n.data.indexOf('WARNING: DATA RACE'); i >= 0; i = n.data.indexOf('WARNING: DATA RACE', i + 1)) {
				const g = document.createRange(); g.setStart(n, i); g.setEnd(n, i + 1);
				const b = g.getBoundingClientRect();
				if (b.top >= r.top - 1 && b.bottom <= r.bottom + 1) return true;
			}
		}
	}
	return false;
})()`)
}
