package web_test

import (
	"regexp"
	"strconv"
	"testing"
)

// The index of lessons (web/src/progress.js): a lesson not yet visited,
// then visited and with a cell run, as the learner's progress shows it.
func TestBrowserIndex(t *testing.T) {
	bt := newBrowserTest(t, site{})
	for _, st := range []subtest{
		{"Fresh", testIndexFresh},
		{"Visited", testIndexVisited},
	} {
		t.Run(st.name, func(t *testing.T) { st.run(t, bt) })
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

func testIndexFresh(t *testing.T, bt *browserTest) {
	it := bt.index(t)
	if !it.Item || !it.Link {
		t.Fatalf("index: %+v, want a .lesson-item for %q linking to its page", it, lessonSlug)
	}
	if it.Visited {
		t.Errorf("index in a fresh profile: %+v, want not visited", it)
	}
}

var progressText = regexp.MustCompile(`^([1-9]\d*) of (\d+) cells run$`)

func testIndexVisited(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	if v := runCell(t, tab, cellHello, "run"); v.State != "done" {
		failShot(t, tab, "the run of %s ended %s (%s), so there is no progress to see", cellHello, v.State, v.Output)
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
