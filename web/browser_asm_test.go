package web_test

import (
	"reflect"
	"strings"
	"testing"
)

// The assembly listing of a cell (web/src/views.js), on the real sandbox:
// each instruction in its source line's colour, LOCK explained, and the
// source line lit while one of its instructions is hovered.

// asmView is what the assembly listing shows of its colours.
type asmView struct {
	Pairs   int      `json:"pairs"`   // instructions whose colour is their source line's in the editor
	Wrong   []string `json:"wrong"`   // instructions whose source line has another colour
	Colours int      `json:"colours"` // distinct colours in the listing
	Lock    string   `json:"lock"`    // the title of the first LOCK instruction
	Hot     []int    `json:"hot"`     // editor lines highlighted while the first coloured row is hovered
	Row     int      `json:"row"`     // that row's source line
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
	const lock = [...f.querySelectorAll('.asm-text')].find((e) => /^LOCK/.test(e.textContent.trim()) || /^XADD/.test(e.textContent.trim()));
	let hot = [], row = 0;
	if (rows.length > 0) {
		rows[0].dispatchEvent(new MouseEvent('mouseenter'));
		hot = [...f.querySelectorAll('.cm-line.cm-asm-hot')].map((l) => Number(l.dataset.markLine));
		row = Number(rows[0].dataset.line);
		rows[0].dispatchEvent(new MouseEvent('mouseleave'));
	}
	return {pairs, wrong, colours: seen.size, lock: lock ? lock.title : '', hot, row};
})()`
}

// cellAsm is the lesson's assembly cell: an atomic add, which compiles to
// a LOCK-prefixed instruction (lessons/builtin/00-first-race.md).
const cellAsm = "first-race-6"

func TestBrowserAsm(t *testing.T) {
	bt := newBrowserTest(t, site{})
	tab := bt.openLesson(t)
	if v := runCell(t, tab, cellAsm, "run"); v.State != "done" {
		failShot(t, tab, "asm run ended %s: %s", v.State, v.Output)
	}
	a := eval[asmView](t, tab, asmExpr(cellAsm))
	if a.Pairs == 0 || len(a.Wrong) > 0 || a.Colours < 2 {
		failShot(t, tab, "asm colours: %d instructions match their source line, %d colours, mismatches %q", a.Pairs, a.Colours, a.Wrong)
	}
	if !strings.Contains(a.Lock, "atomically") {
		t.Errorf("the LOCK instruction's title is %q, want an explanation", a.Lock)
	}
	if !reflect.DeepEqual(a.Hot, []int{a.Row}) {
		t.Errorf("hovering an instruction of line %d highlights editor lines %v", a.Row, a.Hot)
	}
	t.Logf("%d instructions in %d colours", a.Pairs, a.Colours)
	shot(t, tab, cellAsm, "views-asm.png")
}
