package server

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/racelab/racelab/lessons"
	"github.com/racelab/racelab/sandbox/runc"
)

// The browser tests drive Debian's Chromium through chromedp against the
// server on the real runc sandbox, with the built-in lessons: what a
// learner sees, from the key press to the container and back.

// The limits of the browser tests. Every wait is bounded by one of them.
const (
	browserWait = 30 * time.Second       // a page to load, a run to finish, a tab to open
	pollEvery   = 20 * time.Millisecond  // how often a wait looks at the page
	stopWithin  = 2 * time.Second        // Stop ends the run, and then the container goes
	streamGap   = 700 * time.Millisecond // the first line comes at least this long before the end
)

// The lesson and cells the tests use (lessons/builtin/01-first-race.md).
const (
	lessonSlug = "first-race"
	cellHello  = "first-race-1" // the tests replace its program through localStorage
	cellStream = "first-race-2" // prints, sleeps a second, prints
	cellRacy   = "first-race-3" // a racy counter, in race mode
)

const (
	editComment  = "// edited in the browser"
	endlessLoop  = "package main\n\nfunc main() {\n\tfor {\n\t}\n}\n"
	scriptOutput = `<script>document.title="pwned"</script><img src=x onerror="document.title='pwned'">`
)

// browserTest is one Chromium and one server, shared by the subtests of
// TestBrowser. The subtests run in order and each opens its own tab; the
// tabs share the browser profile, and so its localStorage.
type browserTest struct {
	ctx      context.Context // the browser's first tab; tabs are opened under it
	url      string
	runner   *runc.Runner
	lib      *lessons.Library
	streamed bool // the Stream subtest passed: the lesson was visited and a cell run
}

func TestBrowser(t *testing.T) {
	path := chromiumPath(t)
	r := realSandbox(t)
	ts, lib := newBuiltinServer(t, r)
	bt := &browserTest{ctx: startBrowser(t, path), url: ts.URL, runner: r, lib: lib}
	for _, st := range []struct {
		name string
		run  func(*testing.T, *browserTest)
	}{
		{"IndexFresh", testBrowserIndexFresh},
		{"Stream", testBrowserStream},
		{"Race", testBrowserRace},
		{"Stop", testBrowserStop},
		{"ScriptStaysText", testBrowserScriptStaysText},
		{"CSPReported", testBrowserCSPReported},
		{"IndexVisited", testBrowserIndexVisited},
	} {
		t.Run(st.name, func(t *testing.T) { st.run(t, bt) })
	}
}

// chromiumPath finds Debian's Chromium: without it the tests skip, or
// fail in CI, where the test command installs it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is not installed in CI: %v", err)
		}
		t.Skipf("chromium is not installed (apt-get install chromium): %v", err)
	}
	return path
}

// newBuiltinServer serves the built-in lessons, as racelab serve does.
func newBuiltinServer(t *testing.T, r *runc.Runner) (*httptest.Server, *lessons.Library) {
	t.Helper()
	lib, err := lessons.Load(lessons.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{}, lib, r)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts, lib
}

// startBrowser starts Chromium with the flags and a fresh profile,
// and ends it, with every process and goroutine it had, when t ends.
func startBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	dir, err := os.MkdirTemp("", "racelab-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	out := new(lockedBuffer)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(dir),
		chromedp.CombinedOutput(out),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancel()
		cancelAlloc() // waits for the browser process to exit
		if left := waitProcsGone(dir); len(left) > 0 {
			t.Errorf("Chromium processes outlived the browser: %v", left)
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("removing the browser profile: %v", err)
		}
		if g := waitGoroutinesGone("github.com/chromedp/"); g != "" {
			t.Errorf("chromedp goroutines outlived the browser:\n%s", g)
		}
		if t.Failed() {
			t.Logf("Chromium's output:\n%s", out.tail(8<<10))
		}
	})
	// chromedp ties the browser's life to the context of the first action,
	// so that action cannot carry a timeout: a timer cancels instead.
	bounded(t, cancel, "starting Chromium", func() error { return chromedp.Do(ctx) })
	if p := chromedp.FromContext(ctx).Browser.Process(); p != nil {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.Pid))
		t.Logf("Chromium: %s", strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " "))
	}
	return ctx
}

// bounded runs the first action of a chromedp context, cancelling the
// context if it takes longer than browserWait.
func bounded(t *testing.T, cancel context.CancelFunc, what string, first func() error) {
	t.Helper()
	timer := time.AfterFunc(browserWait, cancel)
	err := first()
	if !timer.Stop() {
		t.Fatalf("%s: not done within %v", what, browserWait)
	}
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// open opens path in a new tab that closes when t ends, and checks at the
// end that its console saw no uncaught exception and no CSP violation.
func (bt *browserTest) open(t *testing.T, path string) (context.Context, *consoleWatch) {
	t.Helper()
	tab, cancel := chromedp.NewContext(bt.ctx)
	t.Cleanup(cancel)
	w := &consoleWatch{}
	bounded(t, cancel, "opening a tab", func() error { return chromedp.Listen(tab, w.event) })
	t.Cleanup(func() { w.check(t) })
	do(t, tab, "open "+path,
		cdpCall(cdplog.Enable, cdp.Empty{}),
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(bt.url+path))
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

func testBrowserStream(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	cell, _ := bt.lib.Cell(cellStream)
	editor := chromedp.CSS(fmt.Sprintf(`figure[data-cell=%q] .cm-content`, cellStream))
	do(t, tab, "type into the editor",
		chromedp.Click(editor),
		chromedp.KeyEvent(kb.End, chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.KeyEvent(editComment))
	want := map[string]string{"main.go": cell.FileMap()["main.go"] + editComment}
	key := jsString("racelab:cell:" + cellStream)
	poll(t, tab, "the edit to be saved", browserWait, "localStorage.getItem("+key+") || ''", func(s string) bool {
		var got map[string]string
		return json.Unmarshal([]byte(s), &got) == nil && maps.Equal(got, want)
	})

	// The first line must show while the program sleeps: note when it
	// appears and when the status says done.
	pressed := time.Now()
	do(t, tab, "press run", chromedp.Click(button(cellStream, "run")))
	var first time.Time
	var secondWithFirst bool
	end := poll(t, tab, "the run to end", browserWait, cellExpr(cellStream), func(v cellView) bool {
		if first.IsZero() && strings.Contains(v.Stdout, "first line") {
			first, secondWithFirst = time.Now(), strings.Contains(v.Stdout, "second line")
		}
		return v.over()
	})
	done := time.Now()
	if end.State != "done" || end.Reason != "exited" || end.Code != "0" {
		failShot(t, tab, "run ended %+v, want done, exited, code 0", end)
	}
	if want := "first line\nsecond line, a second later\n"; end.Stdout != want {
		t.Errorf("stdout %q, want %q", end.Stdout, want)
	}
	t.Logf("run pressed → first line %v, first line → done %v", first.Sub(pressed), done.Sub(first))
	switch {
	case first.IsZero():
		t.Errorf("never saw the first line alone")
	case secondWithFirst:
		t.Errorf("the second line was there when the first appeared: output is not streamed")
	case done.Sub(first) < streamGap:
		t.Errorf("first line only %v before done, want ≥ %v: output is not streamed", done.Sub(first), streamGap)
	}
	bt.streamed = !t.Failed()

	ctx, cancel := context.WithTimeout(tab, browserWait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	t.Logf("lesson page screenshot: %s", saveArtifact(t, "lesson.png", png))
}

func testBrowserRace(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	v := runCell(t, tab, cellRacy, "race")
	if v.State != "failed" || v.Code != "66" || !strings.Contains(v.Stderr, "WARNING: DATA RACE") {
		failShot(t, tab, "race run ended %s (reason %q, code %q), stderr %q: want a race report and code 66",
			v.State, v.Reason, v.Code, v.Stderr)
	}
	if !strings.Contains(v.Stdout, "counter = ") {
		t.Errorf("stdout %q: want the counter printed", v.Stdout)
	}
}

func testBrowserStop(t *testing.T, bt *browserTest) {
	if left := waitNoLeftovers(bt.runner, browserWait); len(left) > 0 {
		t.Fatalf("before the run, the sandbox still holds %v", left)
	}
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellHello, endlessLoop)
	do(t, tab, "press run", chromedp.Click(button(cellHello, "run")))
	v := poll(t, tab, "the loop to run", browserWait, cellExpr(cellHello), func(v cellView) bool {
		return v.State == "running" || v.over()
	})
	if v.State != "running" || v.Stdout != "" {
		failShot(t, tab, "the loop is %s with stdout %q, want running and silent", v.State, v.Stdout)
	}
	if len(bt.runner.Leftovers()) == 0 {
		t.Fatal("no container while the loop runs: the check below would prove nothing")
	}

	pressed := time.Now()
	do(t, tab, "press stop", chromedp.Click(button(cellHello, "stop")))
	v = poll(t, tab, "the run to stop", stopWithin, cellExpr(cellHello), func(v cellView) bool {
		return v.State != "running"
	})
	stopped := time.Since(pressed)
	if v.State != "stopped" && !(v.over() && v.Reason == "canceled") {
		failShot(t, tab, "after Stop the cell is %s (reason %q), want stopped", v.State, v.Reason)
	}
	left := waitNoLeftovers(bt.runner, stopWithin)
	t.Logf("stop pressed → status %q after %v, sandbox empty after %v", v.State, stopped, time.Since(pressed))
	if len(left) > 0 {
		t.Errorf("%v after Stop, the sandbox still holds %v", stopWithin, left)
	}
}

// waitNoLeftovers waits up to limit for the sandbox to hold nothing, and
// returns what it still holds.
func waitNoLeftovers(r *runc.Runner, limit time.Duration) []string {
	deadline := time.Now().Add(limit)
	for {
		left := r.Leftovers()
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(pollEvery)
	}
}

func testBrowserScriptStaysText(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	src := "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(`" + scriptOutput + "`)\n}\n"
	bt.putProgram(t, tab, cellHello, src)
	v := runCell(t, tab, cellHello, "run")
	if v.State != "done" || v.Stdout != scriptOutput+"\n" || !strings.Contains(v.Output, scriptOutput) {
		failShot(t, tab, "run ended %s with stdout %q, want done and the markup as text", v.State, v.Stdout)
	}
	type markup struct {
		Elements int    `json:"elements"`
		Title    string `json:"title"`
	}
	m := eval[markup](t, tab, `({elements: document.querySelectorAll('.cell-output script, .cell-output img').length, title: document.title})`)
	if m.Elements != 0 || m.Title == "pwned" {
		failShot(t, tab, "program output became markup: %d script or img elements, title %q", m.Elements, m.Title)
	}
}

// The console check of open must be able to see a violation, or its
// silence proves nothing: an inline script is refused, and reported.
func testBrowserCSPReported(t *testing.T, bt *browserTest) {
	tab, w := bt.open(t, "/lessons/"+lessonSlug)
	w.expectCSP()
	title := eval[string](t, tab, `(() => {
	const s = document.createElement('script');
	s.textContent = 'document.title = "pwned"';
	document.head.append(s);
	return document.title;
})()`)
	if title == "pwned" {
		t.Errorf("an inline script ran despite the Content-Security-Policy")
	}
	deadline := time.Now().Add(browserWait)
	for len(w.violations()) == 0 {
		if time.Now().After(deadline) {
			failShot(t, tab, "no CSP violation reported for a refused inline script; the console saw %q", w.all())
		}
		time.Sleep(pollEvery)
	}
}

// lessonItem is the sample lesson's entry in the index.
type lessonItem struct {
	Item     bool   `json:"item"`
	Link     bool   `json:"link"`
	Visited  bool   `json:"visited"`
	Progress string `json:"progress"`
}

func (bt *browserTest) index(t *testing.T) lessonItem {
	t.Helper()
	tab, _ := bt.open(t, "/")
	// The script marks the page with class js before it shows progress.
	poll(t, tab, "the page script", browserWait, `document.documentElement.classList.contains('js')`, func(b bool) bool { return b })
	return eval[lessonItem](t, tab, `(() => {
	const i = document.querySelector('.lesson-item[data-lesson="`+lessonSlug+`"]');
	if (!i) return {item: false};
	const p = i.querySelector('.lesson-progress');
	return {item: true, link: i.querySelector('a[href="/lessons/`+lessonSlug+`"]') != null,
		visited: i.classList.contains('is-visited'), progress: p ? p.textContent : ''};
})()`)
}

func testBrowserIndexFresh(t *testing.T, bt *browserTest) {
	it := bt.index(t)
	if !it.Item || !it.Link {
		t.Fatalf("index: %+v, want a .lesson-item for %q linking to its page", it, lessonSlug)
	}
	if it.Visited {
		t.Errorf("index in a fresh profile: %+v, want not visited", it)
	}
}

var progressText = regexp.MustCompile(`^([1-9]\d*) of (\d+) cells run$`)

func testBrowserIndexVisited(t *testing.T, bt *browserTest) {
	if !bt.streamed {
		t.Skip("needs the Stream subtest to have opened the lesson and run a cell")
	}
	it := bt.index(t)
	m := progressText.FindStringSubmatch(it.Progress)
	if !it.Visited || m == nil {
		t.Fatalf("index after the lesson was visited and run: %+v, want is-visited and cells run", it)
	}
	if l, _ := bt.lib.Lesson(lessonSlug); m[2] != strconv.Itoa(len(l.Cells)) {
		t.Errorf("progress %q, want it out of %d cells", it.Progress, len(l.Cells))
	}
}

// consoleWatch collects a tab's console calls, uncaught exceptions and
// browser log entries.
type consoleWatch struct {
	mu      sync.Mutex
	msgs    []string
	bad     []string // uncaught exceptions and CSP violations
	wantCSP bool     // the test provokes a violation on purpose
}

// event is called by chromedp in the tab's event loop: it must be quick.
func (w *consoleWatch) event(ev any) {
	switch ev := ev.(type) {
	case *cdpruntime.EventConsoleAPICalled:
		var args []string
		for _, a := range ev.Args {
			if a.Description != "" {
				args = append(args, a.Description)
			} else {
				args = append(args, string(a.Value))
			}
		}
		w.add("console."+string(ev.Type), strings.Join(args, " "), false)
	case *cdpruntime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		w.add("exception", fmt.Sprintf("%s (%s:%d)", text, d.URL, d.LineNumber+1), true)
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		w.add("log."+string(e.Level)+"."+string(e.Source), e.Text+" "+e.URL, false)
	}
}

func (w *consoleWatch) add(kind, text string, bad bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	msg := kind + ": " + text
	w.msgs = append(w.msgs, msg)
	if bad || strings.Contains(strings.ToLower(text), "content security policy") {
		w.bad = append(w.bad, msg)
	}
}

func (w *consoleWatch) expectCSP() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.wantCSP = true
}

func (w *consoleWatch) violations() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.bad...)
}

func (w *consoleWatch) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.msgs...)
}

// check logs what the console saw and fails t on an exception or a CSP
// violation that the test did not provoke.
func (w *consoleWatch) check(t *testing.T) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range w.msgs {
		t.Logf("browser %s", m)
	}
	if !w.wantCSP && len(w.bad) > 0 {
		t.Errorf("the page had uncaught exceptions or CSP violations:\n%s", strings.Join(w.bad, "\n"))
	}
}

// lockedBuffer collects Chromium's output, which chromedp copies from
// another goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	return len(p), nil
}

// tail returns the last n bytes of the output, without the lines about
// D-Bus, which a headless Chromium in a container prints by the dozen.
func (l *lockedBuffer) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var keep []string
	for _, line := range strings.SplitAfter(string(l.b), "\n") {
		if !strings.Contains(line, "dbus") {
			keep = append(keep, line)
		}
	}
	s := strings.Join(keep, "")
	return s[max(0, len(s)-n):]
}

// waitProcsGone waits a few seconds for every process using the profile
// dir to exit, kills the ones that do not (all are this test's Chromium),
// and returns what they were.
func waitProcsGone(dir string) []string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		procs := procsUsing(dir)
		if len(procs) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			var left []string
			for pid, cmd := range procs {
				if p, err := os.FindProcess(pid); err == nil {
					p.Kill()
				}
				left = append(left, fmt.Sprintf("%d %.80s", pid, cmd))
			}
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// procsUsing returns the processes whose command line names dir.
func procsUsing(dir string) map[int]string {
	procs := map[int]string{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), dir) {
			procs[pid] = strings.ReplaceAll(string(b), "\x00", " ")
		}
	}
	return procs
}

// waitGoroutinesGone waits a few seconds for the goroutines whose stacks
// mention pkg to end, and returns the stacks of those left.
func waitGoroutinesGone(pkg string) string {
	deadline := time.Now().Add(5 * time.Second)
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		var left []string
		for _, g := range strings.Split(string(buf[:n]), "\n\n") {
			if strings.Contains(g, pkg) {
				left = append(left, g)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return strings.Join(left, "\n\n")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
