package web_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/racelab/racelab/sandbox"
)

// The assembly listing of a cell (web/src/views.js, cell.js): on the
// real sandbox, each instruction in its source line's colour (nearby
// lines never share one), LOCK explained in a row of its own, the source
// line lit while one of its instructions is hovered, and from 1100 px
// the listing beside the source, scrolled to the instructions of the
// line the cursor is on. With a fake run: the architecture chosen is the
// request's goarch.
func TestBrowserAsm(t *testing.T) {
	bt := newBrowserTest(t, site{})
	for _, st := range []subtest{
		{"Listing", testAsmListing},
		{"Narrow", testAsmNarrow},
		{"Arch", testAsmArch},
		{"LessonArch", testAsmLessonArch},
	} {
		t.Run(st.name, func(t *testing.T) { st.run(t, bt) })
	}
}

// asmView is what the assembly listing shows of its colours and place.
type asmView struct {
	Pairs    int      `json:"pairs"`    // instructions whose colour is their source line's in the editor
	Wrong    []string `json:"wrong"`    // instructions whose source line has another colour
	Colours  int      `json:"colours"`  // distinct colours in the listing
	Clashes  []string `json:"clashes"`  // source lines fewer than 8 apart with one colour
	Notes    []string `json:"notes"`    // the explanation rows
	LockNote bool     `json:"lockNote"` // the row after the first LOCK instruction explains it
	Titles   int      `json:"titles"`   // instructions explained in a title instead
	Hot      []int    `json:"hot"`      // editor lines highlighted while the first coloured row is hovered
	Row      int      `json:"row"`      // that row's source line
	Beside   bool     `json:"beside"`   // the listing is right of the editor, level with it
	InOutput bool     `json:"inOutput"` // the listing is under the output
}

func asmExpr(id string) string {
	return `(() => {
	const f = document.querySelector('figure.cell[data-cell=' + ` + jsString(id) + ` + ']');
	const colour = (e) => [...e.classList].find((c) => /^(cm-)?asm-c[0-9]$/.test(c)) || '';
	const editor = {};
	for (const l of f.querySelectorAll('.cm-line[data-mark-line]')) editor[l.dataset.markLine] = colour(l).replace('cm-', '');
	let pairs = 0;
	const wrong = [];
	const seen = new Set();
	const rows = [...f.querySelectorAll('.asm-line[data-line]')].filter((r) => colour(r));
	for (const r of rows) {
		seen.add(colour(r));
		if (editor[r.dataset.line] === colour(r)) pairs++;
		else wrong.push(r.dataset.line + ' ' + colour(r) + ' vs ' + editor[r.dataset.line]);
	}
	const clashes = [];
	const lines = Object.keys(editor).map(Number).filter((n) => editor[n]);
	for (const a of lines) for (const b of lines) if (a < b && b - a < 8 && editor[a] === editor[b]) clashes.push(a + '/' + b);
	const lock = [...f.querySelectorAll('.asm-line')].find((r) => /^(LOCK|XADD|XCHG)/.test(r.querySelector('.asm-text').textContent.trim()));
	let next = lock ? lock.nextElementSibling : null;
	let hot = [], row = 0;
	if (rows.length > 0) {
		rows[0].dispatchEvent(new MouseEvent('mouseenter'));
		hot = [...f.querySelectorAll('.cm-line.cm-asm-hot')].map((l) => Number(l.dataset.markLine));
		row = Number(rows[0].dataset.line);
		rows[0].dispatchEvent(new MouseEvent('mouseleave'));
	}
	const ed = f.querySelector('.cell-editor').getBoundingClientRect(), ls = f.querySelector('.cell-asm').getBoundingClientRect();
	return {pairs, wrong, colours: seen.size, clashes,
		notes: [...f.querySelectorAll('.asm-note')].map((n) => n.textContent),
		lockNote: !!next && next.classList.contains('asm-note') && /atomically/.test(next.textContent),
		titles: [...f.querySelectorAll('.asm-text[title]')].length, hot, row,
		beside: ls.left >= ed.right - 1 && Math.abs(ls.top - ed.top) < 2,
		inOutput: !!f.querySelector('.cell-output .cell-asm')};
})()`
}

// cellAsm is the lesson's assembly cell: an atomic add, which compiles to
// a LOCK-prefixed instruction (lessons/builtin/00-first-race.md).
const cellAsm = "first-race-6"

// listingScroll is where a listing is scrolled, and which rows are lit.
type listingScroll struct {
	Top     float64 `json:"top"`
	Visible bool    `json:"visible"` // the first lit row is inside the listing's box
	Hot     int     `json:"hot"`
}

func listingScrollExpr(id string, line int) string {
	return fmt.Sprintf(`(() => {
	const f = document.querySelector('figure.cell[data-cell=' + %s + ']');
	const l = f.querySelector('.asm-listing');
	const hot = [...f.querySelectorAll('.asm-line.asm-hot')].filter((r) => r.dataset.line === '%d');
	const b = l.getBoundingClientRect(), r = hot.length ? hot[0].getBoundingClientRect() : null;
	return {top: l.scrollTop, visible: !!r && r.top >= b.top && r.bottom <= b.bottom, hot: hot.length};
})()`, jsString(id), line)
}

func testAsmListing(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	if v := runCell(t, tab, cellAsm, "run"); v.State != "done" {
		failShot(t, tab, "asm run ended %s: %s", v.State, v.Output)
	}
	a := eval[asmView](t, tab, asmExpr(cellAsm))
	t.Logf("%d instructions in %d colours, notes %q", a.Pairs, a.Colours, a.Notes)
	if a.Pairs == 0 || len(a.Wrong) > 0 || a.Colours < 2 || len(a.Clashes) > 0 {
		failShot(t, tab, "asm colours: %d instructions match their source line, %d colours, mismatches %q, nearby lines alike %q", a.Pairs, a.Colours, a.Wrong, a.Clashes)
	}
	if !a.LockNote || a.Titles != 0 {
		t.Errorf("LOCK explained in a row after it: %v (notes %q); explanations in titles: %d", a.LockNote, a.Notes, a.Titles)
	}
	if !reflect.DeepEqual(a.Hot, []int{a.Row}) {
		t.Errorf("hovering an instruction of line %d highlights editor lines %v", a.Row, a.Hot)
	}
	if !a.Beside || a.InOutput {
		failShot(t, tab, "at 1280 px the listing is beside the source: %v, under the output: %v", a.Beside, a.InOutput)
	}
	shot(t, tab, cellAsm, "views-asm.png")

	// The cursor on the source line of the last coloured instruction
	// scrolls the listing to it.
	line := eval[int](t, tab, `(() => {
	const rows = [...document.querySelectorAll('figure.cell[data-cell="`+cellAsm+`"] .asm-line[data-line]:not(.asm-noise)')];
	return Number(rows[rows.length - 1].dataset.line);
})()`)
	eval[chromedp.Void](t, tab, `document.querySelector('figure.cell[data-cell="`+cellAsm+`"] .asm-listing').scrollTop = 0`)
	do(t, tab, "put the cursor on the line", chromedp.Click(editorOf(cellAsm)), chromedp.KeyEvent(kb.Home, chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	for range line - 1 {
		do(t, tab, "move down", chromedp.KeyEvent(kb.ArrowDown))
	}
	s := eval[listingScroll](t, tab, listingScrollExpr(cellAsm, line))
	if s.Hot == 0 || !s.Visible {
		failShot(t, tab, "with the cursor on line %d the listing is at %v with %d rows lit, visible %v", line, s.Top, s.Hot, s.Visible)
	}
}

// Below 1100 px the listing stays under the output.
func testAsmNarrow(t *testing.T, bt *browserTest) {
	tab, _ := bt.openWith(t, "/lessons/"+lessonSlug, chromedp.EmulateViewport(900, 900))
	bt.waitLive(t, tab)
	if v := runCell(t, tab, cellAsm, "run"); v.State != "done" {
		failShot(t, tab, "asm run ended %s: %s", v.State, v.Output)
	}
	if a := eval[asmView](t, tab, asmExpr(cellAsm)); a.Beside || !a.InOutput {
		failShot(t, tab, "at 900 px the listing is beside the source: %v, under the output: %v", a.Beside, a.InOutput)
	}
}

func testAsmArch(t *testing.T, bt *browserTest) {
	fake := &fakeRun{script: func(req sandbox.Request) []any {
		text := "LOCK XADDQ AX, (CX)"
		if req.GOARCH == "arm64" {
			text = "LDADDALD R1, (R0), R2"
		}
		return []any{map[string]any{"kind": "build", "ms": 5},
			map[string]any{"kind": "asm", "lines": []any{
				map[string]any{"func": "main.main", "offset": 0, "file": "main.go", "line": 10, "text": "TEXT main.main(SB)"},
				map[string]any{"offset": 4, "file": "main.go", "line": 11, "text": text}}},
			map[string]any{"kind": "exit", "code": 0, "reason": "exited"}}
	}}
	ft := bt.serve(t, fake.site())
	tab := ft.openLesson(t)
	opts := eval[[]string](t, tab, `[...document.querySelectorAll('figure.cell[data-cell="`+cellAsm+`"] select.cell-arch-select option')].map((o) => o.value)`)
	if !reflect.DeepEqual(opts, []string{"amd64", "arm64"}) {
		failShot(t, tab, "the asm cell offers architectures %q, want amd64 and arm64", opts)
	}
	if n := eval[int](t, tab, `document.querySelectorAll('select.cell-arch-select').length`); n != 1 {
		t.Errorf("%d architecture selectors on the page, want one: only the asm cell has one", n)
	}
	eval[chromedp.Void](t, tab, `(() => {
	const s = document.querySelector('figure.cell[data-cell="`+cellAsm+`"] select.cell-arch-select');
	s.value = 'arm64';
	s.dispatchEvent(new Event('change', {bubbles: true}));
})()`)
	runCell(t, tab, cellAsm, "run")
	note := eval[string](t, tab, `(document.querySelector('figure.cell[data-cell="`+cellAsm+`"] .asm-note') || {}).textContent || ''`)
	arch := eval[string](t, tab, `(document.querySelector('figure.cell[data-cell="`+cellAsm+`"] .asm-arch') || {}).textContent || ''`)
	if !strings.Contains(note, "arm64") || arch != "GOARCH=arm64" {
		failShot(t, tab, "arm64 listing: note %q, label %q", note, arch)
	}
	runCell(t, tab, cellHello, "run")
	reqs := fake.requests()
	if len(reqs) != 2 || reqs[0].GOARCH != "arm64" || reqs[0].Mode != sandbox.ModeAsm || reqs[1].GOARCH != "" {
		t.Errorf("requests %+v, want the asm run with goarch arm64 and the other run without", reqs)
	}
}

// A cell with goarch=arm64 (the litmus lesson's second asm cell) starts
// its selector at arm64 and asks for arm64; the cell before it, with no
// goarch, starts at amd64.
func testAsmLessonArch(t *testing.T, bt *browserTest) {
	const amd, arm = "litmus-4", "litmus-5"
	fake := &fakeRun{script: func(req sandbox.Request) []any {
		return []any{map[string]any{"kind": "build", "ms": 5},
			map[string]any{"kind": "asm", "lines": []any{
				map[string]any{"func": "main.publish", "offset": 0, "file": "main.go", "line": 10, "text": "STLR R0, (R1)"}}},
			map[string]any{"kind": "exit", "code": 0, "reason": "exited"}}
	}}
	ft := bt.serve(t, fake.site())
	tab, _ := ft.open(t, "/lessons/litmus")
	ft.waitLiveIn(t, tab, "litmus")
	chosen := func(id string) string {
		return eval[string](t, tab, `(document.querySelector('figure.cell[data-cell="`+id+`"] select.cell-arch-select') || {}).value || ''`)
	}
	if a, b := chosen(amd), chosen(arm); a != "amd64" || b != "arm64" {
		failShot(t, tab, "the selectors start at %q and %q, want amd64 (no goarch) and arm64 (goarch=arm64)", a, b)
	}
	runCell(t, tab, arm, "run")
	if reqs := fake.requests(); len(reqs) != 1 || reqs[0].GOARCH != "arm64" || reqs[0].Mode != sandbox.ModeAsm {
		t.Errorf("requests %+v, want one asm run with goarch arm64", reqs)
	}
}
