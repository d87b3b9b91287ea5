package web_test

import (
	"context"
	"encoding/json"
	"flag"
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
// steps and scripts in it with bounded waits, and save screenshots among
// the artifacts.

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

// waitLive waits until every cell of the sample lesson is live in tab.
func (bt *browserTest) waitLive(t *testing.T, tab context.Context) {
	t.Helper()
	bt.waitLiveIn(t, tab, lessonSlug)
}

// waitLiveIn waits until every cell of the lesson slug (open in tab) is
// live.
func (bt *browserTest) waitLiveIn(t *testing.T, tab context.Context, slug string) {
	t.Helper()
	l, ok := bt.lib.Lesson(slug)
	if !ok {
		t.Fatalf("no lesson %q among the built-ins", slug)
	}
	type cells struct {
		Total int `json:"total"`
		Live  int `json:"live"`
	}
	poll(t, tab, "every cell to be live", browserWait,
		`({total: document.querySelectorAll('figure.cell').length, live: document.querySelectorAll('figure.cell.cell-live').length})`,
		func(c cells) bool { return c.Total == len(l.Cells) && c.Live == c.Total })
}

// waitEditors waits until every cell of the page in tab has its editors
// (they come as they are needed: web/src/lazy.js).
func waitEditors(t *testing.T, tab context.Context) {
	t.Helper()
	poll(t, tab, "every cell's editors", browserWait,
		`[...document.querySelectorAll('figure.cell')].every((f) => f.classList.contains('cell-editable'))`,
		func(b bool) bool { return b })
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
// web/testdata/artifacts, and returns its path.
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

// screenshot saves the whole page among the artifacts.
func screenshot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, browserWait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	t.Logf("screenshot: %s", saveArtifact(t, name, png))
}

// shot saves a screenshot of one cell among the artifacts.
func shot(t *testing.T, tab context.Context, id, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, browserWait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(fmt.Sprintf(`figure[data-cell=%q]`, id))))
	if err != nil {
		t.Fatalf("screenshot of %s: %v", id, err)
	}
	t.Logf("%s: %s", name, saveArtifact(t, name, png))
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// screens makes the tests that take the README's pictures write them to
// testdata/screens (go test ./web -run 'TestBrowserRace|TestBrowserRepeat'
// -args -screens); without it the pictures go among the artifacts.
var screens = flag.Bool("screens", false, "write the README's screenshots to web/testdata/screens")

// docShot saves a screenshot of one cell, at three quarters of its size
// to keep the file small, for the README.
func docShot(t *testing.T, tab context.Context, id, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, browserWait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.ScreenshotScale(chromedp.CSS(fmt.Sprintf(`figure[data-cell=%q]`, id)), 0.75))
	if err != nil {
		t.Fatalf("screenshot of %s: %v", id, err)
	}
	if !*screens {
		t.Logf("%s: %s", name, saveArtifact(t, "screens-"+name, png))
		return
	}
	path := filepath.Join("testdata", "screens", name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d bytes", path, len(png))
}
