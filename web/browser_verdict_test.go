package web_test

import (
	"strings"
	"testing"

	"github.com/racelab/racelab/lessons"
	"github.com/racelab/racelab/sandbox"
)

// What the lesson says, and whether the run showed it (web/src/caption.js,
// expect.js, output.js): each cell's expectations in words under it, the
// request naming its cell, and the verdict after the run. The verdicts
// are fake (the server computes them); the captions are the built-in
// lessons', as the lessons package renders them.
func TestBrowserVerdict(t *testing.T) {
	bt := newBrowserTest(t, site{})
	for _, st := range []subtest{
		{"CaptionInWords", testVerdictCaption},
		{"Verdict", testVerdictShown},
	} {
		t.Run(st.name, func(t *testing.T) { st.run(t, bt) })
	}
}

// captionView is a cell's caption.
type captionView struct {
	Claims []string `json:"claims"`
	Code   []string `json:"code"` // patterns shown as they are
	Title  string   `json:"title"`
	Text   string   `json:"text"`
}

func captionExpr(id string) string {
	return `(() => {
	const c = document.querySelector('figure.cell[data-cell=' + ` + jsString(id) + ` + '] figcaption.cell-expect');
	if (!c) return {claims: [], code: [], title: '', text: ''};
	return {claims: [...c.querySelectorAll('.expect-claim')].map((e) => e.textContent),
		code: [...c.querySelectorAll('code')].map((e) => e.textContent), title: c.title, text: c.textContent};
})()`
}

// A deadlock's cell claims "stderr~=goroutine 1 \[chan receive\]": the
// learner reads the words, the author still finds the pattern.
func testVerdictCaption(t *testing.T, bt *browserTest) {
	c := findCell(t, bt.lib, "a cell that expects goroutine 1 [chan receive] on stderr", func(c *lessons.Cell) bool {
		for _, e := range c.Expect {
			if e.Kind == "stderr" && strings.Contains(e.Value, `\[chan receive\]`) {
				return true
			}
		}
		return false
	})
	tab := bt.openCell(t, c)
	v := eval[captionView](t, tab, captionExpr(c.ID))
	t.Logf("%s: %+v", c.ID, v)
	want := []string{
		"it deadlocks: every goroutine blocks, and the Go runtime stops the program",
		"it exits with status 2 (what a panic, a deadlock or another fatal error of the Go runtime exits with)",
		"its standard error shows “goroutine 1 [chan receive]”",
	}
	for _, w := range want {
		if !strings.Contains(strings.Join(v.Claims, "\n"), w) {
			failShot(t, tab, "caption claims %q, want %q among them", v.Claims, w)
		}
	}
	if strings.Contains(v.Text, `\[`) || !strings.Contains(v.Title, `goroutine 1 \[chan receive\]`) {
		t.Errorf("caption text %q, title %q: want words in the text and the pattern in the title", v.Text, v.Title)
	}
	// A pattern with no plain words is shown as it is, as code.
	c = findCell(t, bt.lib, "a cell whose output pattern repeats a group", func(c *lessons.Cell) bool {
		for _, e := range c.Expect {
			if e.Kind == "output-match" && strings.Contains(e.Value, "){") {
				return true
			}
		}
		return false
	})
	tab = bt.openCell(t, c)
	v = eval[captionView](t, tab, captionExpr(c.ID))
	if len(v.Code) != 1 || !strings.Contains(strings.Join(v.Claims, "\n"), "it prints text matching the pattern") {
		failShot(t, tab, "caption of %s: %+v, want the pattern as code", c.ID, v)
	}
	shot(t, tab, c.ID, "views-caption.png")
}

// verdictView is the verdict line of a cell.
type verdictView struct {
	Shown  bool     `json:"shown"`
	OK     string   `json:"ok"`
	Mark   string   `json:"mark"`
	Missed []string `json:"missed"`
	Text   string   `json:"text"`
	Live   string   `json:"live"`
}

func verdictExpr(id string) string {
	return `(() => {
	const v = document.querySelector('figure.cell[data-cell=' + ` + jsString(id) + ` + '] .cell-verdict');
	if (!v) return {shown: false};
	const m = v.querySelector('.verdict-mark');
	return {shown: !v.hidden && v.getBoundingClientRect().height > 0, ok: v.dataset.ok || '', mark: m ? m.textContent : '',
		missed: [...v.querySelectorAll('.verdict-missed li')].map((e) => e.textContent), text: v.textContent,
		live: v.getAttribute('aria-live') || ''};
})()`
}

func testVerdictShown(t *testing.T, bt *browserTest) {
	const missed = "expected a data race, none was reported: press Race again, the detector sees only races that happen"
	fake := &fakeRun{script: func(req sandbox.Request) []any {
		ev := map[string]any{"ok": true, "claims": []string{"a data race is reported", "exit status 66"}}
		if strings.Contains(req.Files["main.go"], "sync.Mutex") {
			ev = map[string]any{"ok": false, "claims": []string{"a data race is reported"}, "missed": []string{missed}}
		}
		return []any{map[string]any{"kind": "build", "ms": 2}, map[string]any{"kind": "stdout", "data": "counter = 2000\n"},
			map[string]any{"kind": "verdict", "verdict": ev},
			map[string]any{"kind": "exit", "code": 66, "reason": "exited"}}
	}}
	ft := bt.serve(t, fake.site())
	tab := ft.openLesson(t)
	runCell(t, tab, cellRacy, "race")
	v := eval[verdictView](t, tab, verdictExpr(cellRacy))
	if !v.Shown || v.OK != "true" || v.Mark != "✓ As the lesson says" || !strings.Contains(v.Text, "a data race is reported; exit status 66") || v.Live != "polite" {
		failShot(t, tab, "verdict %+v, want ✓ As the lesson says with the claims, in a live region", v)
	}
	reqs := fake.requests()
	if len(reqs) != 1 || reqs[0].Cell != lessonSlug+"/"+cellRacy || reqs[0].Mode != sandbox.ModeRace {
		t.Errorf("requests %+v, want one race run naming cell %s/%s", reqs, lessonSlug, cellRacy)
	}
	shot(t, tab, cellRacy, "views-verdict-ok.png")

	// A program fixed with a mutex does not race: the fake says the run
	// differs from the claim.
	fixed := "package main\n\nimport (\n\t\"fmt\"\n\t\"sync\"\n)\n\nfunc main() {\n\tvar mu sync.Mutex\n\tmu.Lock()\n\tfmt.Println(\"counter = 2000\")\n\tmu.Unlock()\n}\n"
	ft.putProgram(t, tab, cellRacy, fixed)
	runCell(t, tab, cellRacy, "race")
	v = eval[verdictView](t, tab, verdictExpr(cellRacy))
	if !v.Shown || v.OK != "false" || v.Mark != "✗ Differs from the lesson" || len(v.Missed) != 1 || v.Missed[0] != missed {
		failShot(t, tab, "verdict %+v, want ✗ Differs from the lesson and what was missed", v)
	}
	shot(t, tab, cellRacy, "views-verdict-differs.png")
}
