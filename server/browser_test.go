package server

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

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

// The lesson and cells the tests use (lessons/builtin/00-first-race.md).
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
		t.Fatal("the Stream subtest did not open the lesson and run a cell, so there is no progress to see")
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
