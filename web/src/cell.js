// A runnable cell: the renderer's <figure class="cell"> (see the lessons
// package) turned into CodeMirror editors, a toolbar and an output panel.

import { Editors, replaceText, diagnostic, showDiagnostics } from './editor.js';
import { Output, el, ordinal } from './output.js';
import { asmView, colourOf, showLineInListing } from './views.js';
import { summaryView } from './summary.js';
import { RaceList, stuckView, raceMarks, stuckMarks } from './teach.js';
import { showMarks, revealLine } from './marks.js';
import { startRun } from './protocol.js';
import { load, save, remove } from './storage.js';
import { markCellRun } from './progress.js';
import { exitWords, exitStats, runWords, summaryWords, runsProgram as runsProgramModes } from './words.js';
import { hasDump } from './dump.js';
import { showCaption } from './caption.js';
import { expectedNumber } from './expect.js';
import { sharePanel } from './share.js';
import { timelineView } from './timeline.js';

// The buttons of a cell: action, label, what it does (for title and
// aria-label). Test and Bench appear only in cells with tests.
const buttons = [
  ['run', 'Run', 'Run the code'],
  ['race', 'Race', 'Run with the race detector'],
  ['asm', 'Asm', 'Show the assembly the compiler makes'],
  ['timeline', 'Timeline', 'Run once with Go\'s execution tracer and draw who unblocked whom'],
  ['test', 'Test', 'Run the tests with the race detector'],
  ['bench', 'Bench', 'Run the benchmarks'],
  ['fmt', 'Format', 'Format the code with gofmt'],
  ['share', 'Share', 'Share this code as a link, or copy it as a file'],
  ['reset', 'Reset', 'Restore the original code and forget your edits'],
  ['stop', 'Stop', 'Stop the run'],
];

// The architectures an asm cell compiles for (sandbox.Architectures).
const arches = ['amd64', 'arm64'];

// Side by side: from this width the assembly listing goes beside the
// source instead of under the output.
const wide = typeof window !== 'undefined' && window.matchMedia ? window.matchMedia('(min-width: 1100px)') : null;

// The most of a run's standard error the status line's words look at.
const maxStderrKept = 64 << 10;

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

// hintId numbers the "Esc then Tab" hints of the page's editors.
let hintCount = 0;

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
    // A lesson cell with trace=true traces every run of its own mode.
    this.trace = fig.dataset.trace === 'true';
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
    // The editors of the files, made when first needed (makeEditors); till
    // then docs holds their text.
    this.views = new Map();
    this.panes = new Map();
    this.docs = null;
    this.handle = null;
    this.diags = new Map();
    this.marks = new Map();
    this.raceList = null;
    this.claims = [];
  }

  get baseId() {
    return this.fig.id || `cell-${this.id}`;
  }

  // build makes the cell's toolbar, share panel, output panel and the
  // panes its editors go in, not yet in the page. A cell whose saved
  // edits come back gets its editors here too: its highlighted code is
  // the lesson's, not the learner's. The other cells keep showing their
  // highlighted code until makeEditors (see lazy.js): an editor costs
  // tens of milliseconds to make, and a lesson has up to twenty.
  build() {
    if (this.names.length === 0) return;
    const saved = load(this.key);
    const restored = saved && typeof saved === 'object' && sameNames(saved, this.names)
      && this.names.every((n) => typeof saved[n] === 'string');
    this.docs = new Map(this.names.map((n) => [n, restored ? saved[n] : this.original[n]]));
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
      const hint = el('div', 'cell-hint', 'Esc then Tab to leave the editor');
      hint.id = `editor-hint-${++hintCount}`;
      pane.append(hint);
      box.append(pane);
      this.panes.set(name, pane);
    }
    this.output = new Output(this.baseId);
    const bar = this.makeToolbar();
    this.body = el('div', 'cell-body');
    this.side = el('div', 'cell-side');
    this.side.hidden = true;
    this.body.append(box, this.side);
    this.bar = bar;
    this.restored = Boolean(restored);
    if (this.restored) this.makeEditors();
  }

  // attach puts what build made into the page, in place of the
  // highlighted code; a cell without editors yet keeps the code of each
  // file in its pane, to read, select and copy, until they come.
  attach() {
    if (!this.body) return;
    const { bar } = this;
    const code = this.fig.querySelector('.cell-code');
    if (!this.editorsMade()) this.keepStatic(code);
    this.putEditors();
    if (code) code.replaceWith(this.body);
    else this.fig.prepend(this.body);
    this.share = sharePanel(el, this.id, () => this.edited(), () => this.names);
    this.body.after(bar, this.share.root, this.output.root);
    this.claims = showCaption(this.fig, this.mode);
    if (wide) wide.addEventListener('change', () => this.placeAsm());
    this.fig.classList.add('cell-live');
    this.fig.classList.toggle('cell-editable', this.editorsMade());
    this.fig.classList.toggle('cell-edited', this.restored && !this.unchanged());
    this.setRunning(false);
  }

  // keepStatic moves the highlighted code of each file into its pane. A
  // focus or a press on it makes the editors at once and puts the cursor
  // there. A file without highlighted code (the page's JSON has more
  // files than its markup) gets its editor now.
  keepStatic(code) {
    for (const name of this.names) {
      const file = code ? [...code.querySelectorAll('.cell-file[data-file]')].find((f) => f.dataset.file === name) : null;
      const pre = file ? file.querySelector('pre') : null;
      if (!pre) {
        this.makeEditors();
        return;
      }
      const doc = this.docs.get(name);
      pre.classList.add('cell-static');
      pre.style.setProperty('--digits', String(doc.split('\n').length).length);
      if (doc.endsWith('\n')) pre.dataset.trailing = '';
      pre.tabIndex = 0;
      pre.setAttribute('aria-label', `Go source ${name}`);
      pre.addEventListener('focus', () => this.edit(name));
      pre.addEventListener('mousedown', (e) => {
        e.preventDefault();
        this.edit(name, { x: e.clientX, y: e.clientY });
      });
      this.panes.get(name).prepend(pre);
    }
  }

  // editorsMade reports whether the cell's editors exist (they may not
  // be in the page yet: see putEditors).
  editorsMade() {
    return this.views.size > 0;
  }

  // makeEditors makes the cell's editors, not yet in the page: a page
  // makes those of several cells before it puts any in (see lazy.js), as
  // an editor reads the page's selection when it is made, which makes the
  // browser lay the page out again if it changed since the last read.
  makeEditors() {
    if (this.editorsMade() || !this.docs) return;
    const editors = new Editors();
    for (const name of this.names) {
      const hint = this.panes.get(name).querySelector('.cell-hint');
      const view = editors.create({
        doc: this.docs.get(name),
        label: `Go source ${name}`,
        describedBy: hint.id,
        onRun: () => this.start(this.mode),
        onChange: () => this.save(),
        onCursor: (line) => this.showInstructions(name, line),
      });
      this.views.set(name, view);
      this.watchHover(name, view);
    }
  }

  // putEditors puts made editors in their panes, in place of the
  // highlighted code.
  putEditors() {
    for (const [name, view] of this.views) {
      if (view.dom.isConnected) continue;
      const pane = this.panes.get(name);
      const pre = pane.querySelector('pre.cell-static');
      if (pre) pre.replaceWith(view.dom);
      else pane.prepend(view.dom);
    }
    if (this.editorsMade() && this.fig.classList.contains('cell-live')) this.fig.classList.add('cell-editable');
  }

  // ensureEditors makes the editors now and puts them in: before a run
  // (its marks and diagnostics go on them) and whenever the learner
  // reaches for the code.
  ensureEditors() {
    this.makeEditors();
    this.putEditors();
  }

  // edit makes the editors for the learner who reached for the code of a
  // file: the focus goes to its editor, at the point pressed if any.
  edit(name, at = null) {
    this.ensureEditors();
    const view = this.views.get(name);
    if (!view) return;
    view.focus();
    const pos = at ? view.posAtCoords(at) : null;
    if (pos != null) view.dispatch({ selection: { anchor: pos } });
  }

  paneId(name) {
    return `${this.baseId}-file-${name}`;
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
      this.panes.get(n).hidden = !on;
      const view = this.views.get(n);
      if (on && view) view.requestMeasure();
    }
  }

  makeToolbar() {
    const bar = el('div', 'cell-toolbar');
    bar.setAttribute('role', 'toolbar');
    bar.setAttribute('aria-label', 'Cell actions');
    this.buttons = new Map();
    for (const [action, label, what] of buttons) {
      if ((action === 'test' || action === 'bench') && !this.tests) continue;
      if (action === 'timeline' && this.mode !== 'run') continue;
      if (action === 'share') {
        if (this.mode === 'asm') bar.append(this.makeArch());
        bar.append(this.makeProcs());
      }
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
      b.addEventListener('click', () => this.act(action, b));
      this.buttons.set(action, b);
      bar.append(b);
    }
    return bar;
  }

  // makeSelect makes a labelled select of the toolbar.
  makeSelect(name, label, title, options) {
    const box = el('label', `cell-${name}`);
    const id = `${this.baseId}-${name}`;
    box.htmlFor = id;
    box.append(el('span', `cell-${name}-label`, label));
    const select = el('select', `cell-${name}-select`);
    select.id = id;
    select.title = title;
    for (const [value, text] of options) {
      const o = el('option', '', text);
      o.value = value;
      select.append(o);
    }
    box.append(select);
    return [box, select];
  }

  // makeProcs makes the labelled GOMAXPROCS selector of the toolbar.
  makeProcs() {
    const def = this.gomaxprocs > 0 ? `${this.gomaxprocs} (lesson)` : 'default';
    const [box, select] = this.makeSelect('procs', 'GOMAXPROCS', 'How many threads run Go code at once (GOMAXPROCS) in the next run',
      [['', def], ...procsChoices.map((n) => [n, n])]);
    this.procs = select;
    return box;
  }

  // makeArch makes the architecture selector of an asm cell, set to the
  // lesson's goarch= when the cell names one.
  makeArch() {
    const [box, select] = this.makeSelect('arch', 'GOARCH', 'The processor the assembly is for',
      arches.map((a) => [a, a]));
    if (arches.includes(this.fig.dataset.goarch)) select.value = this.fig.dataset.goarch;
    this.arch = select;
    return box;
  }

  // chosenProcs is the GOMAXPROCS of the next run: the selector's, else
  // the cell's; 0 asks for Go's default.
  chosenProcs() {
    return intAttr(this.procs ? this.procs.value : '') || this.gomaxprocs;
  }

  // act does what a button says; b is the button pressed.
  act(action, b) {
    switch (action) {
      case 'run': return this.start(this.mode, b);
      case 'timeline': return this.start('run', b, true);
      case 'reset': return this.reset();
      case 'stop': return this.stop();
      case 'share': return this.share.open();
      default: return this.start(action, b);
    }
  }

  // edited returns the text of the editors: the files the learner sees.
  edited() {
    if (!this.editorsMade()) return Object.fromEntries(this.docs || []);
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
    // The timeline's lines may have moved: it marks nothing any more.
    this.marks.clear();
    this.pinned = null;
    this.transientFiles = null;
    if (this.tlRoot) this.tlRoot.classList.add('tl-stale');
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

  // loadShared puts the files of a shared link into the editors (an edit
  // like any other: saved, and undone by Ctrl+Z), and says so.
  loadShared(files) {
    this.ensureEditors();
    const names = this.names.filter((n) => typeof files[n] === 'string');
    for (const n of names) replaceText(this.views.get(n), files[n]);
    const other = Object.keys(files).filter((n) => !this.names.includes(n));
    let msg = 'This cell shows code from a shared link. Reset brings back the lesson\'s code.';
    if (names.length === 0) msg = 'The shared link holds no file of this cell, so the lesson\'s code is shown.';
    else if (other.length > 0) msg += ` The link also held ${other.join(', ')}, which this cell does not have.`;
    this.output.setStatus('shared', msg);
    return names.length;
  }

  setRunning(on) {
    for (const [action, b] of this.buttons) {
      if (action === 'reset' || action === 'share') continue;
      b.disabled = action === 'stop' ? !on : on;
    }
    this.fig.classList.toggle('cell-running', on);
    this.fig.setAttribute('aria-busy', String(on));
  }

  stop() {
    if (this.handle) this.handle.stop();
  }

  // start runs the cell's current files in the given mode. When a button
  // started it, the focus goes to Stop while it runs, and back after. A
  // traced run (the Timeline button, or any run of a cell with
  // data-trace) is one execution with the tracer on.
  start(mode, pressed = null, traced = false) {
    if (this.handle) return;
    this.ensureEditors();
    const trace = mode === 'run' && (traced || this.trace);
    const request = {
      files: this.files(),
      mode,
      gomaxprocs: this.chosenProcs(),
      repeat: repeatable.has(mode) && !trace ? this.repeat : 1,
    };
    if (trace) request.trace = true;
    if (this.lesson) request.cell = `${this.lesson}/${this.id}`;
    if (mode === 'asm' && this.arch) request.goarch = this.arch.value;
    this.run = { mode, runNo: 0, races: 0, runRaces: 0, cause: '', stderr: '', limitMs: 0, arch: request.goarch || '' };
    this.errors = [];
    for (const view of this.views.values()) showDiagnostics(view, []);
    this.diags.clear();
    this.clearErrorTabs();
    this.clearMarks();
    this.output.clear();
    this.output.setStatus('connecting', 'connecting…');
    this.setRunning(true);
    this.pressed = pressed;
    if (pressed) this.buttons.get('stop').focus();
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
    this.output.stopClock();
    if (how === 'stopped') this.output.setStatus('stopped', 'Stopped.');
    if (how === 'lost') this.output.setStatus('lost', 'The connection to the server was lost; the run\'s end is unknown.');
    // fmt sends its parse errors without any stderr: list them too.
    if (this.errors.length > 0 && !this.output.hadStderr) {
      for (const e of this.errors) {
        this.output.append('stderr', `${e.file || '?'}:${e.line || 0}:${e.col || 0}: ${e.msg}\n`);
      }
    }
    const stop = this.buttons.get('stop');
    const lost = document.activeElement === stop || document.activeElement === document.body || !document.activeElement;
    if (this.pressed && lost) this.pressed.focus();
    this.pressed = null;
  }

  event(ev, request) {
    const out = this.output;
    const r = this.run;
    switch (ev.kind) {
      case 'queued':
        // Position 0: held behind the learner's own other run (msg says so).
        out.setStatus('waiting', ev.position > 0 ? `waiting: ${ordinal(ev.position)} in line`
          : (ev.msg || 'waiting for your other run to finish…'));
        break;
      case 'build': {
        r.limitMs = ev.timeout_ms > 0 ? ev.timeout_ms : 0;
        const built = ev.cached ? 'built earlier · 0 ms' : `built in ${ev.ms || 0} ms`;
        const runs = runsProgramModes.has(request.mode);
        out.setStatus('running', runs ? `${built}, running…` : `${built}…`);
        if (runs) out.startClock(r.limitMs);
        break;
      }
      case 'stdout':
      case 'stderr':
        this.enterRun(ev, request);
        if (out.status.dataset.state !== 'running') out.setStatus('running', 'running…');
        if (ev.kind === 'stderr' && r.stderr.length < maxStderrKept) r.stderr += ev.data || '';
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
        this.enterRun(ev, request);
        if (ev.race) this.race(ev, request);
        break;
      case 'goroutines':
        this.enterRun(ev, request);
        this.stuck(ev, request);
        break;
      case 'timeline':
        if (ev.timeline && typeof ev.timeline === 'object') this.timeline(ev.timeline);
        break;
      case 'verdict':
        if (ev.verdict && typeof ev.verdict === 'object') out.showVerdict(ev.verdict);
        break;
      case 'exit':
        this.exit(ev, request);
        break;
      case 'summary':
        if (ev.summary) this.summary(ev.summary);
        break;
      case 'error':
        out.setStatus('error', ev.msg || 'The run could not start.');
        break;
      default:
        // Kinds this page does not know yet are skipped.
    }
  }

  // enterRun starts the fold of a repeated request's next run when an
  // event of it first arrives.
  enterRun(ev, request) {
    const r = this.run;
    if (request.repeat <= 1 || !ev.run || ev.run === r.runNo) return;
    r.runNo = ev.run;
    r.runRaces = 0;
    r.cause = '';
    r.stderr = '';
    this.fold = this.output.beginRun(ev.run, request.repeat);
    this.output.setStatus('running', `Run ${ev.run} of ${request.repeat}…`);
    this.output.startClock(r.limitMs);
  }

  // exit says how a run ended: in words that know the mode and what the
  // run reported, its figures apart.
  exit(ev, request) {
    const out = this.output;
    const r = this.run;
    const repeated = request.repeat > 1 && ev.run;
    if (repeated) this.enterRun(ev, request);
    const ctx = {
      mode: request.mode,
      races: repeated ? r.runRaces : r.races,
      cause: r.cause,
      stderr: r.stderr,
      errors: this.errors.length,
      hiddenErrors: this.errors.some((e) => this.hidden.includes(e.file)),
    };
    const words = request.mode === 'vet' && this.errors.length > 0 ? vetWords(this.errors) : exitWords(ev, ctx);
    const failed = ev.reason !== 'exited' || ev.code !== 0;
    if (repeated) {
      if (this.fold) this.fold.querySelector('.run-end').textContent = ` · ${runWords(ev, r.runRaces)}`;
      out.setStatus(ev.run < request.repeat ? 'running' : (failed ? 'failed' : 'done'), `Run ${ev.run} of ${request.repeat}: ${words}`, exitStats(ev, request.mode));
      out.setExit(ev);
      if (this.raceList) this.raceList.setRuns(ev.run);
      return;
    }
    out.setStatus(failed ? 'failed' : 'done', words, exitStats(ev, request.mode));
    out.setExit(ev);
    if (r.cause === 'timeout' || r.cause === 'deadlock' || hasDump(r.stderr)) out.foldDump();
    out.reveal();
  }

  // summary shows the outcomes of a repeated run first, above the races
  // and the folded output of each run.
  summary(s) {
    const out = this.output;
    out.show(summaryView(s, expectedNumber(this.claims)), true);
    if (this.raceList) this.raceList.setRuns(s.runs || 0);
    out.runsHead.textContent = `The output of each run (${s.runs || 0})`;
    out.setStatus('done', summaryWords(s));
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
    const seen = new Set();
    const marks = [];
    for (const l of lines) {
      const key = `${l.file}:${l.line}`;
      if (l.noise || !l.file || !this.views.has(l.file) || !(l.line > 0) || seen.has(key)) continue;
      seen.add(key);
      marks.push({ file: l.file, line: l.line, kind: `asm-c${colourOf(l.line)}`, letter: '', note: '' });
    }
    this.asmRoot = asmView(lines, {
      coloured: (file) => this.views.has(file),
      hover: (file, line) => this.hoverSource(file, line),
      arch: this.run.arch,
    });
    this.asmRoot.addEventListener('click', (e) => {
      const row = e.target.closest('.asm-line[data-line]');
      if (row && this.views.has(row.dataset.file)) this.goto(row.dataset.file, Number(row.dataset.line));
    });
    this.placeAsm();
    this.addMarks(marks);
  }

  // placeAsm puts the listing beside the source on a wide screen, and
  // under the output otherwise; beside, it is as tall as the editor.
  placeAsm() {
    const beside = Boolean(this.asmRoot && wide && wide.matches);
    this.fig.classList.toggle('has-side', beside);
    this.side.hidden = !beside;
    if (!this.asmRoot) return;
    if (beside) {
      this.side.append(this.asmRoot);
      const h = this.body.querySelector('.cell-editor').offsetHeight;
      this.fig.style.setProperty('--editor-h', `${Math.max(h, 160)}px`);
    } else {
      this.output.show(this.asmRoot);
    }
  }

  // showInstructions lights the instructions of a source line and scrolls
  // the listing to them: as the cursor moves or the pointer hovers.
  showInstructions(name, line) {
    if (!this.asmRoot) return;
    for (const row of this.asmRoot.querySelectorAll('.asm-line.asm-hot')) row.classList.remove('asm-hot');
    if (line == null) return;
    for (const row of this.asmRoot.querySelectorAll('.asm-line[data-line]')) {
      if (row.dataset.file === name && row.dataset.line === String(line)) row.classList.add('asm-hot');
    }
    showLineInListing(this.asmRoot, name, line);
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
    view.contentDOM.addEventListener('mousemove', (e) => {
      if (!this.asmRoot) return;
      const pos = view.posAtCoords({ x: e.clientX, y: e.clientY });
      this.showInstructions(name, pos == null ? null : view.state.doc.lineAt(pos).number);
    });
    view.contentDOM.addEventListener('mouseleave', () => this.showInstructions(name, null));
  }

  // race lists a race event under the output, grouped with the reports of
  // the same pair of accesses, and marks the lines of a new pair. The
  // first report of a single run is scrolled into view in the output.
  race(ev, request) {
    if (!this.raceList) {
      this.raceList = new RaceList((file, line) => this.goto(file, line), request.repeat > 1,
        (race, run) => this.output.showReport(race.raw || '', run));
      this.output.show(this.raceList.root);
    }
    this.run.races++;
    this.run.runRaces++;
    if (this.raceList.add(ev.race, ev.run || 0)) this.addMarks(raceMarks(ev.race, this.raceList.count));
    if (request.repeat <= 1 && this.run.races === 1) this.output.reveal();
  }

  // timeline draws the goroutines of a traced run and who unblocked whom;
  // an arrow, span or item under the pointer or with the focus marks its
  // lines, and a click keeps them marked.
  timeline(tl) {
    if (this.tlRoot) this.tlRoot.remove();
    const t0 = performance.now();
    this.tlRoot = timelineView(tl, {
      mark: (marks) => this.showTransient(marks),
      pin: (marks) => { this.pinned = marks; this.showTransient([]); },
      goto: (file, line) => this.goto(file, line),
    });
    this.output.show(this.tlRoot);
    // How long drawing took (the browser tests report it).
    this.tlRoot.dataset.drawMs = String(Math.round(performance.now() - t0));
  }

  // showTransient shows marks on top of the run's own marks: those of what
  // is hovered or focused, or else the pinned ones.
  showTransient(marks) {
    if (!this.tlRoot || this.tlRoot.classList.contains('tl-stale')) return;
    const shown = marks.length > 0 ? marks : this.pinned || [];
    const files = new Set([...shown.map((m) => m.file), ...(this.transientFiles || [])]);
    for (const name of files) {
      const view = this.views.get(name);
      if (!view) continue;
      showMarks(view, [...(this.marks.get(name) || []), ...shown.filter((m) => m.file === name)]);
    }
    this.transientFiles = new Set(shown.map((m) => m.file));
  }

  // stuck lists where the goroutines of a dump were; of a repeated run,
  // only the first dump is listed (the runs' folds hold the others).
  stuck(ev, request) {
    this.run.cause = ev.cause || '';
    if (request.repeat > 1 && this.stuckShown) return;
    this.stuckShown = true;
    this.output.show(stuckView(ev, (file, line) => this.goto(file, line)));
    this.addMarks(stuckMarks(ev.goroutines));
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
    this.stuckShown = false;
    this.fold = null;
    if (this.asmRoot) this.asmRoot.remove();
    this.asmRoot = null;
    this.placeAsm();
    this.hot = null;
    this.tlRoot = null;
    this.pinned = null;
    this.transientFiles = null;
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
