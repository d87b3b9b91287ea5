package server

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"
)

// The helpers the browser tests use on a page: open it in a tab, run
// steps and scripts in it with bounded waits, and read what a cell shows.

// open opens path in a new tab that closes when t ends, and checks at the
// end that its console saw no uncaught exception and no CSP violation.
func (bt *browserTest) open(t *testing.T, path string) (context.Context, *consoleWatch) {
	t.Helper()
	return bt.openWith(t, path, chromedp.EmulateViewport(1280, 900))
}

// openWith is open with the steps that set the tab up (a viewport, an
// emulated media feature, scripts off) before the page loads.
func (bt *browserTest) openWith(t *testing.T, path string, setup ...chromedp.Action[chromedp.Void]) (context.Context, *consoleWatch) {
	t.Helper()
	tab, cancel := chromedp.NewContext(bt.ctx)
	t.Cleanup(cancel)
	w := &consoleWatch{}
	bounded(t, cancel, "opening a tab", func() error { return chromedp.Listen(tab, w.event) })
	t.Cleanup(func() { w.check(t) })
	steps := append([]chromedp.Action[chromedp.Void]{cdpCall(cdplog.Enable, cdp.Empty{})}, setup...)
	do(t, tab, "open "+path, append(steps, chromedp.Navigate(bt.url+path))...)
	return tab, w
}

// openLesson opens the sample lesson and waits for all its cells to be live.
func (bt *browserTest) openLesson(t *testing.T) context.Context {
	t.Helper()
	tab, _ := bt.open(t, "/lessons/"+lessonSlug)
	bt.waitLive(t, tab)
	return tab
}

func (bt *browserTest) waitLive(t *testing.T, tab context.Context) {
	t.Helper()
	l, ok := bt.lib.Lesson(lessonSlug)
	if !ok {
		t.Fatalf("no lesson %q among the built-ins", lessonSlug)
	}
	type cells struct {
		Total int `json:"total"`
		Live  int `json:"live"`
	}
	poll(t, tab, "every cell to be live", browserWait,
		`({total: document.querySelectorAll('figure.cell').length, live: document.querySelectorAll('figure.cell.cell-live').length})`,
		func(c cells) bool { return c.Total == len(l.Cells) && c.Live == c.Total })
}

// do runs steps in tab, failing with a screenshot when they fail or time out.
func do(t *testing.T, tab context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, browserWait)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		failShot(t, tab, "%s: %v", what, err)
	}
}

func cdpCall[P, R any](cmd cdp.Command[P, R], params P) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		_, err := cdp.Call(ctx, tgt, cmd, params)
		return err
	})
}

// eval evaluates expr in tab and decodes its value into a T.
func eval[T any](t *testing.T, tab context.Context, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, browserWait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		failShot(t, tab, "evaluating %s: %v", expr, err)
	}
	return v
}

// poll evaluates expr every pollEvery until ok accepts its value, and fails
// with a screenshot when that takes longer than limit.
func poll[T any](t *testing.T, tab context.Context, what string, limit time.Duration, expr string, ok func(T) bool) T {
	t.Helper()
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		v := eval[T](t, tab, expr)
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			failShot(t, tab, "waited %v for %s; last saw %+v", limit, what, v)
		}
		<-tick.C
	}
}

// failShot saves a screenshot of tab among the artifacts and fails t.
func failShot(t *testing.T, tab context.Context, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	ctx, cancel := context.WithTimeout(tab, 10*time.Second)
	defer cancel()
	name := strings.NewReplacer("/", "-", " ", "_").Replace(t.Name()) + "-failure.png"
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err != nil {
		msg += fmt.Sprintf(" (no screenshot: %v)", err)
	} else {
		msg += "; screenshot " + saveArtifact(t, name, png)
	}
	t.Fatal(msg)
}

// saveArtifact writes a file to $RACELAB_ARTIFACTS, or else to
// server/testdata/artifacts, and returns its path.
func saveArtifact(t *testing.T, name string, data []byte) string {
	t.Helper()
	dir := os.Getenv("RACELAB_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "artifacts")
	}
	path, err := filepath.Abs(filepath.Join(dir, name))
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err == nil {
		err = os.WriteFile(path, data, 0o644)
	}
	if err != nil {
		t.Errorf("saving artifact %s: %v", name, err)
	}
	return path
}

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
}

// over reports whether the cell's run has ended, one way or another.
func (v cellView) over() bool {
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
		output: text('.cell-output'), editor: lines.join('\n')};
})()`
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func button(id, action string) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`figure[data-cell=%q] button.cell-btn[data-action=%q]`, id, action))
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
