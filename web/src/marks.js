// Line marks of the teaching views in a CodeMirror editor: the lines of a
// data race's two accesses, where its goroutines were created, and where
// stuck goroutines wait. Each mark is a line decoration (a class on the
// .cm-line, coloured in app.css) and a gutter marker with a letter, so
// that the mark does not rely on colour alone, and a title saying what
// happened there. The marks go away on the next edit or run.

import { StateField, StateEffect, RangeSet } from '@codemirror/state';
import { EditorView, Decoration, GutterMarker, gutter } from '@codemirror/view';

// A mark: a 1-based line, a kind (race-a, race-b, race-go, stuck), the
// letter shown in the gutter and the words of its title.
//   { line: 12, kind: 'race-a', letter: 'A', note: 'read by goroutine 8 in main.main.func1' }

const setMarks = StateEffect.define();

class MarkGutter extends GutterMarker {
  constructor(kind, letter, note) {
    super();
    this.kind = kind;
    this.letter = letter;
    this.note = note;
  }

  eq(other) {
    return other.kind === this.kind && other.letter === this.letter && other.note === this.note;
  }

  toDOM() {
    const span = document.createElement('span');
    span.className = `cm-mark-letter cm-mark-${this.kind}`;
    span.textContent = this.letter;
    span.title = this.note;
    span.setAttribute('aria-label', this.note);
    return span;
  }
}

// build turns marks into line decorations and gutter markers. Several
// marks on one line join: each adds its class, and the gutter shows their
// letters and all their notes.
function build(doc, marks) {
  const byLine = new Map();
  for (const m of marks) {
    if (!(m.line >= 1 && m.line <= doc.lines)) continue;
    const list = byLine.get(m.line) || [];
    list.push(m);
    byLine.set(m.line, list);
  }
  const lines = [];
  const gutters = [];
  for (const n of [...byLine.keys()].sort((a, b) => a - b)) {
    const list = byLine.get(n);
    const from = doc.line(n).from;
    const kinds = [...new Set(list.map((m) => m.kind))];
    lines.push(Decoration.line({
      class: kinds.map((k) => `cm-${k}`).join(' '),
      attributes: { 'data-mark-line': String(n) },
    }).range(from));
    // Marks without a letter (the assembly's colours) only colour the line.
    const lettered = list.filter((m) => m.letter);
    if (lettered.length === 0) continue;
    const letters = [...new Set(lettered.map((m) => m.letter))].join('');
    const notes = [...new Set(lettered.map((m) => m.note))].join('\n');
    gutters.push(new MarkGutter(lettered[0].kind, letters, notes).range(from));
  }
  return { lines: Decoration.set(lines), gutters: RangeSet.of(gutters) };
}

const empty = { lines: Decoration.none, gutters: RangeSet.empty };

const markField = StateField.define({
  create: () => empty,
  update(value, tr) {
    for (const e of tr.effects) {
      if (e.is(setMarks)) return build(tr.state.doc, e.value);
    }
    // The lines an edit moves no longer hold what the run saw.
    return tr.docChanged ? empty : value;
  },
  provide: (f) => EditorView.decorations.from(f, (v) => v.lines),
});

// markExtension is what an editor needs to show marks.
export const markExtension = [
  markField,
  gutter({
    class: 'cm-mark-gutter',
    markers: (view) => view.state.field(markField).gutters,
  }),
];

// showMarks replaces the marks of view.
export function showMarks(view, marks) {
  view.dispatch({ effects: setMarks.of(marks) });
}

// revealLine scrolls the editor to a 1-based line and puts the cursor there.
export function revealLine(view, line) {
  const doc = view.state.doc;
  const at = doc.line(Math.min(Math.max(line, 1), doc.lines)).from;
  view.dispatch({ selection: { anchor: at }, effects: EditorView.scrollIntoView(at, { y: 'center' }) });
  view.focus();
}
