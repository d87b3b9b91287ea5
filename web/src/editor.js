// The CodeMirror 6 setup of a cell's editor: Go highlighting through CSS
// classes (tok-*, coloured in app.css so that the light and dark themes
// follow prefers-color-scheme), lint diagnostics for compile errors, tabs
// for indentation, and Ctrl/Cmd+Enter to run.

import { minimalSetup } from 'codemirror';
import { EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter } from '@codemirror/view';
import { EditorState, Compartment, Prec } from '@codemirror/state';
import { indentWithTab } from '@codemirror/commands';
import { bracketMatching, indentOnInput, indentUnit, syntaxHighlighting } from '@codemirror/language';
import { closeBrackets, closeBracketsKeymap } from '@codemirror/autocomplete';
import { go } from '@codemirror/lang-go';
import { lintGutter, setDiagnostics } from '@codemirror/lint';
import { classHighlighter } from '@lezer/highlight';
import { markExtension } from './marks.js';

const dark = typeof window !== 'undefined' && window.matchMedia
  ? window.matchMedia('(prefers-color-scheme: dark)')
  : null;

// isDark reports whether the page shows its dark theme: the learner's
// choice (static/theme.js sets data-theme on the root), else the system's.
export function isDark(doc = typeof document !== 'undefined' ? document : null) {
  const chosen = doc ? doc.documentElement.dataset.theme : '';
  if (chosen === 'dark' || chosen === 'light') return chosen === 'dark';
  return Boolean(dark && dark.matches);
}

// The editor's colours are CSS custom properties from app.css, so one
// theme serves light and dark; only CodeMirror's own base theme (lint
// tooltips, selection) needs to be told which one is showing.
const theme = EditorView.theme({
  '&': {
    color: 'var(--code-fg)',
    backgroundColor: 'var(--code-bg)',
    fontSize: 'var(--code-size)',
  },
  '.cm-content': {
    fontFamily: 'var(--mono)',
    padding: '0.6rem 0',
    caretColor: 'var(--accent)',
  },
  '.cm-scroller': { fontFamily: 'var(--mono)', lineHeight: '1.5' },
  '.cm-gutters': {
    backgroundColor: 'var(--code-bg)',
    color: 'var(--muted)',
    borderRight: '1px solid var(--border)',
  },
  '.cm-activeLine': { backgroundColor: 'var(--code-active)' },
  '.cm-activeLineGutter': { backgroundColor: 'var(--code-active)' },
  // Only the editor being typed in marks its cursor's line.
  '&:not(.cm-focused) .cm-activeLine, &:not(.cm-focused) .cm-activeLineGutter': {
    backgroundColor: 'transparent',
  },
  '&.cm-focused .cm-cursor': { borderLeftColor: 'var(--accent)' },
  '&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection': {
    backgroundColor: 'var(--code-selection)',
  },
  '&.cm-focused': { outline: '2px solid var(--focus)', outlineOffset: '-2px' },
  '.cm-tooltip': {
    backgroundColor: 'var(--bg)',
    color: 'var(--fg)',
    border: '1px solid var(--border)',
  },
});

// darkMode follows the theme while the page is open: the system's
// setting, and the learner's choice (theme.js fires racelab-theme).
function darkMode(compartment, views) {
  const follow = () => {
    for (const view of views) {
      view.dispatch({ effects: compartment.reconfigure(EditorView.darkTheme.of(isDark())) });
    }
  };
  if (dark) dark.addEventListener('change', follow);
  if (typeof document !== 'undefined') document.addEventListener('racelab-theme', follow);
}

// Editors creates the views of one cell; a single Compartment per cell
// keeps all its views on the current colour scheme.
export class Editors {
  constructor() {
    this.scheme = new Compartment();
    this.views = [];
    darkMode(this.scheme, this.views);
  }

  // create makes an editor for one file. onRun is called on
  // Ctrl/Cmd+Enter; onChange after every edit; onCursor(line) when the
  // cursor moves to another line. describedBy names the element that
  // says how to leave the editor.
  create({ parent, doc, label, describedBy, onRun, onChange, onCursor = () => {} }) {
    const attrs = { 'aria-label': label };
    if (describedBy) attrs['aria-describedby'] = describedBy;
    const state = EditorState.create({
      doc,
      extensions: [
        Prec.highest(keymap.of([{ key: 'Mod-Enter', run: () => { onRun(); return true; } }])),
        lineNumbers(),
        highlightActiveLineGutter(),
        minimalSetup,
        syntaxHighlighting(classHighlighter),
        indentOnInput(),
        bracketMatching(),
        closeBrackets(),
        highlightActiveLine(),
        keymap.of([...closeBracketsKeymap, indentWithTab]),
        indentUnit.of('\t'),
        EditorState.tabSize.of(4),
        go(),
        lintGutter(),
        markExtension,
        theme,
        this.scheme.of(EditorView.darkTheme.of(isDark())),
        EditorView.contentAttributes.of(attrs),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) onChange();
          if (u.selectionSet && u.view.hasFocus) onCursor(u.state.doc.lineAt(u.state.selection.main.head).number);
        }),
      ],
    });
    const view = new EditorView({ state, parent });
    this.views.push(view);
    return view;
  }
}

// replaceText sets the whole text of view, keeping the cursor in range.
export function replaceText(view, text) {
  const old = view.state.doc.toString();
  if (old === text) return;
  const head = Math.min(view.state.selection.main.head, text.length);
  view.dispatch({ changes: { from: 0, to: old.length, insert: text }, selection: { anchor: head } });
}

// diagnostic turns a compile_error event into a lint diagnostic of doc:
// line and col are 1-based; col 0 or a line past the end mark what exists.
export function diagnostic(doc, ev) {
  const lineNo = Math.min(Math.max(ev.line || 1, 1), doc.lines);
  const line = doc.line(lineNo);
  let from = line.from;
  if (ev.col > 0) from = Math.min(line.from + ev.col - 1, line.to);
  let to = line.to;
  if (ev.col > 0) {
    // Underline the word at the column, or one character.
    const m = /^\w+/.exec(line.text.slice(from - line.from));
    to = m ? from + m[0].length : Math.min(from + 1, line.to);
  }
  if (to <= from && line.length > 0) {
    from = line.from;
    to = line.to;
  }
  return { from, to, severity: 'error', source: 'go', message: ev.msg || 'error' };
}

// showDiagnostics replaces the diagnostics of view.
export function showDiagnostics(view, list) {
  view.dispatch(setDiagnostics(view.state, list));
}
