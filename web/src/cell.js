// A runnable cell: the renderer's <figure class="cell"> (see the lessons
// package) turned into CodeMirror editors, a toolbar and an output panel.

import { Editors, replaceText, diagnostic, showDiagnostics } from './editor.js';
import { Output, el, ordinal } from './output.js';
import { asmView, asmColours, summaryView } from './views.js';
import { RaceList, stuckView, raceMarks, stuckMarks } from './teach.js';
import { showMarks, revealLine } from './marks.js';
import { startRun } from './protocol.js';
import { load, save, remove } from './storage.js';
import { markCellRun } from './progress.js';

// The buttons of a cell: action, label, what it does (for title and
// aria-label). Test and Bench appear only in cells with tests.
const buttons = [
  ['run', 'Run', 'Run the code'],
  ['race', 'Race', 'Run with the race detector'],
  ['asm', 'Asm', 'Show the assembly the compiler makes'],
  ['test', 'Test', 'Run the tests with the race detector'],
  ['bench', 'Bench', 'Run the benchmarks'],
  ['fmt', 'Format', 'Format the code with gofmt'],
  ['reset', 'Reset', 'Restore the original code and forget your edits'],
  ['stop', 'Stop', 'Stop the run'],
];

// The GOMAXPROCS a learner may pick for a run; '' keeps the cell's own
// (data-gomaxprocs), or Go's default when the cell sets none.
const procsChoices = ['1', '2', '4', '8'];

// Modes whose runs may be repeated (sandbox.Mode.Repeatable).
const repeatable = new Set(['run', 'race']);

function intAttr(v) {
  const n = Number.parseInt(v, 10);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

// originalFiles reads the cell's files: the JSON the renderer embedded,
// or, failing that, the text of the highlighted code.
function originalFiles(fig) {
  const script = fig.querySelector('script.cell-files');
  try {
    const files = JSON.parse(script ? script.textContent : '');
    if (files && typeof files === 'object') return files;
  } catch {
    // Fall back to the highlighted code below.
  }
  const files = {};
  for (const f of fig.querySelectorAll('.cell-file[data-file]')) {
    const code = f.querySelector('pre');
    files[f.dataset.file] = code ? code.textContent : '';
  }
  return files;
}

// sameNames reports whether a file map names exactly the given files.
function sameNames(files, names) {
  const ka = Object.keys(files).sort();
  const kb = [...names].sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i]);
}

// hiddenNames reads an exercise's data-hidden="a_test.go,b.go": files sent
// with every run but not shown in the editor.
function hiddenNames(value, original) {
  return (value || '').split(',').filter((n) => n && n in original);
}

// vetWords sums up go vet's findings for the status line: how many, and
// the first one with its place.
function vetWords(errors) {
  const e = errors[0];
  const n = errors.length;
  return `go vet found ${n} problem${n === 1 ? '' : 's'}: ${e.file || '?'}:${e.line || 0}: ${e.msg}`;
}

export class Cell {
  constructor(fig) {
    this.fig = fig;
    this.id = fig.dataset.cell || fig.id;
    this.key = `racelab:cell:${this.id}`;
    const lesson = fig.closest('[data-lesson]');
    this.lesson = lesson ? lesson.dataset.lesson : '';
    this.mode = fig.dataset.mode || 'run';
    this.gomaxprocs = intAttr(fig.dataset.gomaxprocs);
    this.repeat = intAttr(fig.dataset.repeat) || 1;
    this.tests = fig.dataset.tests === 'true';
    this.original = originalFiles(fig);
    this.exercise = fig.dataset.exercise || '';
    this.hidden = hiddenNames(fig.dataset.hidden, this.original);
    // The files of the editor, in the order the lesson shows them; an
    // exercise's hidden files are not among them.
    const domNames = [...fig.querySelectorAll('.cell-file[data-file]')].map((f) => f.dataset.file);
    this.names = domNames.filter((n) => n in this.original && !this.hidden.includes(n));
    for (const n of Object.keys(this.original)) {
      if (!this.names.includes(n) && !this.hidden.includes(n)) this.names.push(n);
    }
    this.views = new Map();
    this.handle = null;
    this.diags = new Map();
    this.marks = new Map();
    this.raceList = null;
  }

  // mount replaces the highlighted code with editors and adds the toolbar
  // and the output panel.
  mount() {
    if (this.names.length === 0) return;
    const saved = load(this.key);
    const restored = saved && typeof saved === 'object' && sameNames(saved, this.names)
      && this.names.every((n) => typeof saved[n] === 'string');
    const editors = new Editors();
    const box = el('div', 'cell-editor');
    const tabs = this.names.length > 1 ? this.makeTabs(box) : null;
    for (const name of this.names) {
      const pane = el('div', 'cell-pane');
      pane.id = this.paneId(name);
      pane.dataset.file = name;
      if (tabs) {
        pane.setAttribute('role', 'tabpanel');
        pane.setAttribute('aria-labelledby', `${pane.id}-tab`);
        pane.hidden = name !== this.names[0];
      }
      box.append(pane);
      const view = editors.create({
        parent: pane,
        doc: restored ? saved[name] : this.original[name],
        label: `Go source ${name}`,
        onRun: () => this.start(this.mode),
        onChange: () => this.save(),
      });
      this.views.set(name, view);
      this.watchHover(name, view);
    }
    this.output = new Output(this.fig.id || `cell-${this.id}`);
    const bar = this.makeToolbar();
    const code = this.fig.querySelector('.cell-code');
    if (code) code.replaceWith(box);
    else this.fig.prepend(box);
    box.after(bar, this.output.root);
    this.fig.classList.add('cell-live');
    this.fig.classList.toggle('cell-edited', Boolean(restored) && !this.unchanged());
    this.setRunning(false);
  }

  paneId(name) {
    return `${this.fig.id || `cell-${this.id}`}-file-${name}`;
  }

  makeTabs(box) {
    const list = el('div', 'cell-tabs');
    list.setAttribute('role', 'tablist');
    list.setAttribute('aria-label', 'Files');
    this.tabs = new Map();
    for (const name of this.names) {
      const tab = el('button', 'cell-tab', name);
      tab.type = 'button';
      tab.setAttribute('role', 'tab');
      tab.dataset.file = name;
      tab.id = `${this.paneId(name)}-tab`;
      tab.setAttribute('aria-controls', this.paneId(name));
      tab.addEventListener('click', () => this.select(name));
      this.tabs.set(name, tab);
      list.append(tab);
    }
    list.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
      const i = this.names.indexOf(this.current);
      const n = this.names.length;
      const next = this.names[(i + (e.key === 'ArrowRight' ? 1 : n - 1)) % n];
      this.select(next);
      this.tabs.get(next).focus();
      e.preventDefault();
    });
    box.append(list);
    this.current = this.names[0];
    queueMicrotask(() => this.select(this.current));
    return list;
  }

  // select shows the editor of one file.
  select(name) {
    if (!this.tabs) return;
    this.current = name;
    for (const [n, tab] of this.tabs) {
      const on = n === name;
      tab.setAttribute('aria-selected', String(on));
      tab.tabIndex = on ? 0 : -1;
      const view = this.views.get(n);
      view.dom.parentElement.hidden = !on;
      if (on) view.requestMeasure();
    }
  }

  makeToolbar() {
    const bar = el('div', 'cell-toolbar');
    bar.setAttribute('role', 'toolbar');
    bar.setAttribute('aria-label', 'Cell actions');
    this.buttons = new Map();
    for (const [action, label, what] of buttons) {
      if ((action === 'test' || action === 'bench') && !this.tests) continue;
      if (action === 'reset') bar.append(this.makeProcs());
      const b = el('button', `cell-btn cell-btn-${action}`, label);
      b.type = 'button';
      b.dataset.action = action;
      let title = what;
      if (action === 'run') {
        title = `${what} (${this.mode} mode, Ctrl+Enter)`;
        b.setAttribute('aria-keyshortcuts', 'Control+Enter Meta+Enter');
      }
      b.title = title;
      b.setAttribute('aria-label', title);
      b.addEventListener('click', () => this.act(action));
      this.buttons.set(action, b);
      bar.append(b);
    }
    return bar;
  }

  // makeProcs makes the labelled GOMAXPROCS selector of the toolbar.
  makeProcs() {
    const box = el('label', 'cell-procs');
    const id = `${this.fig.id || `cell-${this.id}`}-procs`;
    box.htmlFor = id;
    box.append(el('span', 'cell-procs-label', 'GOMAXPROCS'));
    const select = el('select', 'cell-procs-select');
    select.id = id;
    select.title = 'How many threads run Go code at once (GOMAXPROCS) in the next run';
    const def = el('option', '', this.gomaxprocs > 0 ? `${this.gomaxprocs} (lesson)` : 'default');
    def.value = '';
    select.append(def);
    for (const n of procsChoices) {
      const o = el('option', '', n);
      o.value = n;
      select.append(o);
    }
    this.procs = select;
    box.append(select);
    return box;
  }

  // chosenProcs is the GOMAXPROCS of the next run: the selector's, else
  // the cell's; 0 asks for Go's default.
  chosenProcs() {
    return intAttr(this.procs ? this.procs.value : '') || this.gomaxprocs;
  }

  act(action) {
    switch (action) {
      case 'run': return this.start(this.mode);
      case 'reset': return this.reset();
      case 'stop': return this.stop();
      default: return this.start(action);
    }
  }

  // edited returns the text of the editors: the files the learner sees.
  edited() {
    const files = {};
    for (const [name, view] of this.views) files[name] = view.state.doc.toString();
    return files;
  }

  // files returns what a run sends: the editors' text and, always as the
  // lesson has them, an exercise's hidden files.
  files() {
    const files = this.edited();
    for (const name of this.hidden) files[name] = this.original[name];
    return files;
  }

  unchanged() {
    const files = this.edited();
    return this.names.every((n) => files[n] === this.original[n]);
  }

  // save keeps the edits, or forgets them once they equal the original.
  // Only the shown files are kept: the hidden ones come from the page.
  save() {
    // The edit cleared the editor's marks (marks.js); forget them here too.
    this.marks.clear();
    const same = this.unchanged();
    if (same) remove(this.key);
    else save(this.key, this.edited());
    this.fig.classList.toggle('cell-edited', !same);
  }

  // reset brings back the lesson's files. The hidden files of an exercise
  // need nothing: every run takes them from the lesson, never from an edit.
  reset() {
    for (const [name, view] of this.views) {
      replaceText(view, this.original[name]);
      showDiagnostics(view, []);
    }
    this.clearErrorTabs();
    remove(this.key);
    this.fig.classList.remove('cell-edited');
  }

  setRunning(on) {
    for (const [action, b] of this.buttons) {
      if (action === 'reset') continue;
      b.disabled = action === 'stop' ? !on : on;
    }
    this.fig.classList.toggle('cell-running', on);
    this.fig.setAttribute('aria-busy', String(on));
  }

  stop() {
    if (this.handle) this.handle.stop();
  }

  // start runs the cell's current files in the given mode.
  start(mode) {
    if (this.handle) return;
    const request = {
      files: this.files(),
      mode,
      gomaxprocs: this.chosenProcs(),
      repeat: repeatable.has(mode) ? this.repeat : 1,
    };
    this.runNo = 0;
    this.errors = [];
    for (const view of this.views.values()) showDiagnostics(view, []);
    this.diags.clear();
    this.clearErrorTabs();
    this.clearMarks();
    this.output.clear();
    this.output.setStatus('connecting', 'connecting…');
    this.setRunning(true);
    if (mode !== 'fmt') markCellRun(this.lesson, this.id);
    this.handle = startRun(request, {
      onOpen: () => this.output.setStatus('waiting', 'starting…'),
      onEvent: (ev) => this.event(ev, request),
      onEnd: (how) => this.end(how),
    });
  }

  end(how) {
    this.handle = null;
    this.setRunning(false);
    if (how === 'stopped') this.output.setStatus('stopped', 'Stopped.');
    if (how === 'lost') this.output.setStatus('lost', 'connection lost');
    // fmt sends its parse errors without any stderr: list them too.
    if (this.errors.length > 0 && !this.output.hadStderr) {
      for (const e of this.errors) {
        this.output.append('stderr', `${e.file || '?'}:${e.line || 0}:${e.col || 0}: ${e.msg}\n`);
      }
    }
  }

  event(ev, request) {
    const out = this.output;
    switch (ev.kind) {
      case 'queued':
        // Position 0: held behind the learner's own other run (msg says so).
        out.setStatus('waiting', ev.position > 0 ? `waiting: ${ordinal(ev.position)} in line`
          : (ev.msg || 'waiting for your other run to finish…'));
        break;
      case 'build':
        out.setStatus('running', ev.cached ? 'built earlier · 0 ms, running…' : `built in ${ev.ms || 0} ms, running…`);
        break;
      case 'stdout':
      case 'stderr':
        this.separate(ev, request);
        if (out.status.dataset.state !== 'running') out.setStatus('running', 'running…');
        out.append(ev.kind, ev.data || '');
        break;
      case 'compile_error':
        this.compileError(ev);
        break;
      case 'fmt':
        for (const [name, text] of Object.entries(ev.files || {})) {
          const view = this.views.get(name);
          if (view && typeof text === 'string') replaceText(view, text);
        }
        break;
      case 'asm':
        this.asm(ev.lines || []);
        break;
      case 'race':
        if (ev.race) this.race(ev);
        break;
      case 'goroutines':
        out.show(stuckView(ev, (file, line) => this.goto(file, line)));
        this.addMarks(stuckMarks(ev.goroutines));
        break;
      case 'exit':
        if (request.repeat > 1 && ev.run) {
          out.exitStatus(ev, `Run ${ev.run} of ${request.repeat}: `);
          if (ev.run < request.repeat) out.status.dataset.state = 'running';
        } else if (request.mode === 'vet' && this.errors.length > 0) {
          out.exitStatus({ ...ev, msg: vetWords(this.errors) });
        } else {
          out.exitStatus(ev);
        }
        break;
      case 'summary':
        if (ev.summary) {
          out.show(summaryView(ev.summary));
          const s = ev.summary;
          out.setStatus('done', `${s.runs} run${s.runs === 1 ? '' : 's'} finished; ${(s.outputs || []).length} different output${(s.outputs || []).length === 1 ? '' : 's'}.`);
        }
        break;
      case 'error':
        out.setStatus('error', ev.msg || 'The run could not start.');
        break;
      default:
        // Kinds this page does not know yet are skipped.
    }
  }

  // separate starts a "run N" line when a repeated run's next execution
  // begins printing.
  separate(ev, request) {
    if (request.repeat <= 1 || !ev.run || ev.run === this.runNo) return;
    this.runNo = ev.run;
    this.output.line('run', `── run ${ev.run} ──`);
  }

  compileError(ev) {
    this.errors.push(ev);
    // An error in a hidden file has no editor to mark; it shows in the
    // output as the compiler printed it.
    if (this.hidden.includes(ev.file)) return;
    const name = this.views.has(ev.file) ? ev.file : this.names[0];
    const view = this.views.get(name);
    const list = this.diags.get(name) || [];
    list.push(diagnostic(view.state.doc, ev));
    this.diags.set(name, list);
    showDiagnostics(view, list);
    if (this.tabs) {
      this.tabs.get(name).classList.add('has-errors');
      if (list.length === 1 && name !== this.current && this.diags.size === 1) this.select(name);
    }
  }

  // asm shows the listing and gives each source line and its
  // instructions one colour; hovering either side highlights the other.
  asm(lines) {
    const colours = new Map();
    const marks = [];
    for (const l of lines) {
      const key = `${l.file}:${l.line}`;
      if (l.noise || !l.file || !this.views.has(l.file) || colours.has(key)) continue;
      colours.set(key, colours.size % asmColours);
      marks.push({ file: l.file, line: l.line, kind: `asm-c${colours.get(key)}`, letter: '', note: '' });
    }
    this.asmRoot = asmView(lines, {
      colourOf: (file, line) => colours.get(`${file}:${line}`) ?? -1,
      hover: (file, line) => this.hoverSource(file, line),
    });
    this.output.show(this.asmRoot);
    this.addMarks(marks);
  }

  // hoverSource highlights a source line while an instruction of it is
  // under the pointer (file null: none).
  hoverSource(file, line) {
    for (const [name, view] of this.views) {
      const marks = this.marks.get(name) || [];
      const hot = name === file ? [{ file, line, kind: 'asm-hot', letter: '', note: '' }] : [];
      if (hot.length > 0 || this.hot === name) showMarks(view, [...marks, ...hot]);
    }
    this.hot = file;
  }

  // watchHover highlights the instructions of the source line under the
  // pointer, while a listing is shown.
  watchHover(name, view) {
    const mark = (line) => {
      if (!this.asmRoot) return;
      for (const row of this.asmRoot.querySelectorAll('.asm-line.asm-hot')) row.classList.remove('asm-hot');
      if (line == null) return;
      for (const row of this.asmRoot.querySelectorAll('.asm-line[data-line]')) {
        if (row.dataset.file === name && row.dataset.line === String(line)) row.classList.add('asm-hot');
      }
    };
    view.contentDOM.addEventListener('mousemove', (e) => {
      if (!this.asmRoot) return;
      const pos = view.posAtCoords({ x: e.clientX, y: e.clientY });
      mark(pos == null ? null : view.state.doc.lineAt(pos).number);
    });
    view.contentDOM.addEventListener('mouseleave', () => mark(null));
  }

  // race lists a race event under the output and marks its lines.
  race(ev) {
    if (!this.raceList) {
      this.raceList = new RaceList((file, line) => this.goto(file, line));
      this.output.show(this.raceList.root);
    }
    this.raceList.add(ev.race, ev.run || 0);
    this.addMarks(raceMarks(ev.race, this.raceList.count));
  }

  // addMarks adds marks ({file, line, kind, letter, note}) to the editors
  // of their files; a file the cell does not show gets none.
  addMarks(marks) {
    const touched = new Set();
    for (const m of marks) {
      if (!this.views.has(m.file)) continue;
      const list = this.marks.get(m.file) || [];
      list.push(m);
      this.marks.set(m.file, list);
      touched.add(m.file);
    }
    for (const name of touched) showMarks(this.views.get(name), this.marks.get(name));
  }

  clearMarks() {
    this.raceList = null;
    this.asmRoot = null;
    this.hot = null;
    for (const [name, view] of this.views) {
      if (this.marks.has(name)) showMarks(view, []);
    }
    this.marks.clear();
  }

  // goto shows a line of a file in its editor.
  goto(file, line) {
    const view = this.views.get(file);
    if (!view) return;
    this.select(file);
    revealLine(view, line);
  }

  clearErrorTabs() {
    if (!this.tabs) return;
    for (const tab of this.tabs.values()) tab.classList.remove('has-errors');
  }
}
