// The output panel of a cell: a status line, the verdict, the program's
// stdout and stderr as they arrive (for a repeated run, one fold per
// run), and the views of the structured events. Program output is data:
// it only ever enters the page as text nodes, never as markup.

import { foldDump, dumpStart } from './dump.js';
import { clock } from './words.js';

// Browsers slow to a crawl with many megabytes in one element; the sandbox
// has its own output limit, and beyond this much the panel says so instead.
const maxShown = 1 << 20;

// el makes an element with a class and optional text.
export function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text != null) e.textContent = text;
  return e;
}

// ordinal writes 1st, 2nd, 3rd, 4th, 11th, 21st, …
export function ordinal(n) {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return n + ({ 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] || 'th');
}

// live makes an element that screen readers read out when its text
// changes, on its own: the status's words and its figures are two.
function live(tag, className, role) {
  const e = el(tag, className);
  if (role) e.setAttribute('role', role);
  e.setAttribute('aria-live', 'polite');
  e.setAttribute('aria-atomic', 'true');
  return e;
}

export class Output {
  constructor(cellId) {
    this.root = el('div', 'cell-output');
    this.root.id = `${cellId}-output`;
    this.status = el('div', 'cell-status');
    this.status.dataset.state = 'idle';
    this.msg = live('span', 'status-msg', 'status');
    this.stats = live('span', 'status-stats');
    // The clock ticks every second: a timer, read only when asked.
    this.clockEl = el('span', 'status-clock');
    this.clockEl.setAttribute('role', 'timer');
    this.clockEl.setAttribute('aria-live', 'off');
    this.status.append(this.msg, this.stats, this.clockEl);
    this.verdict = live('div', 'cell-verdict');
    this.verdict.hidden = true;
    this.tools = el('div', 'stream-tools');
    this.tools.hidden = true;
    this.single = this.makeStream();
    this.extra = el('div', 'cell-extra');
    this.runs = el('details', 'cell-runs');
    this.runsHead = el('summary', 'cell-runs-head');
    this.runs.append(this.runsHead);
    this.root.append(this.status, this.verdict, this.tools, this.single, this.extra, this.runs);
    this.clear();
  }

  makeStream() {
    const s = el('pre', 'cell-stream');
    s.tabIndex = 0;
    s.setAttribute('aria-label', 'Program output');
    s.hidden = true;
    return s;
  }

  // clear empties the panel for a new run.
  clear() {
    this.stopClock();
    this.single.textContent = '';
    this.single.hidden = true;
    this.stream = this.single;
    this.extra.textContent = '';
    this.verdict.textContent = '';
    this.verdict.hidden = true;
    delete this.verdict.dataset.ok;
    this.tools.textContent = '';
    this.tools.hidden = true;
    this.root.classList.remove('show-dump');
    this.runs.hidden = true;
    this.runs.open = false;
    for (const d of this.runs.querySelectorAll('.run-fold')) d.remove();
    this.shown = 0;
    this.truncated = false;
    this.lastKind = '';
    this.lastText = null;
    this.hadStderr = false;
    this.revealed = false;
  }

  // setStatus shows a state ('idle', 'connecting', 'waiting', 'running',
  // 'done', 'failed', 'stopped', 'lost', 'error'), its words and, apart,
  // its figures.
  setStatus(state, message, stats = '') {
    this.status.dataset.state = state;
    delete this.status.dataset.reason;
    delete this.status.dataset.code;
    if (this.msg.textContent !== (message || '')) this.msg.textContent = message || '';
    if (this.stats.textContent !== stats) this.stats.textContent = stats;
    if (state !== 'running' && state !== 'waiting') this.stopClock();
  }

  // startClock shows how long the run has been going, once it has gone
  // on for a while, and how long it has left when its limit is known.
  startClock(limitMs = 0) {
    this.stopClock();
    const start = Date.now();
    const tick = () => {
      const ms = Date.now() - start;
      if (ms < 1000) return;
      this.clockEl.textContent = limitMs > 0
        ? `${clock((limitMs - ms) / 1000)} left of ${clock(limitMs / 1000)}`
        : `running for ${clock(ms / 1000)}`;
    };
    this.timer = setInterval(tick, 250);
  }

  stopClock() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.clockEl) this.clockEl.textContent = '';
  }

  // setExit marks the status with an exit's reason and code, for tests
  // and styles.
  setExit(ev) {
    this.status.dataset.reason = ev.reason || '';
    this.status.dataset.code = String(ev.code ?? '');
  }

  // showVerdict says whether the run showed what the lesson claims.
  showVerdict(v) {
    this.verdict.textContent = '';
    this.verdict.dataset.ok = String(Boolean(v.ok));
    const claims = (v.claims || []).filter((c) => typeof c === 'string');
    const missed = (v.missed || []).filter((c) => typeof c === 'string');
    if (v.ok) {
      this.verdict.append(el('strong', 'verdict-mark', '✓ As the lesson says'));
      if (claims.length > 0) this.verdict.append(el('span', 'verdict-claims', `: ${claims.join('; ')}.`));
    } else {
      this.verdict.append(el('strong', 'verdict-mark', '✗ Differs from the lesson'));
      const list = el('ul', 'verdict-missed');
      for (const m of missed.length > 0 ? missed : claims) list.append(el('li', '', m));
      this.verdict.append(list);
    }
    this.verdict.hidden = false;
  }

  // beginRun starts the fold of one run of a repeated request: its output
  // goes there from now on.
  beginRun(n, of) {
    const d = el('details', 'run-fold');
    d.dataset.run = String(n);
    const head = el('summary', 'run-head', `Run ${n}`);
    head.append(el('span', 'run-end'));
    d.append(head, this.makeStream());
    this.runs.append(d);
    this.runs.hidden = false;
    this.runsHead.textContent = `The output of each run (${n} of ${of})`;
    this.stream = d.querySelector('.cell-stream');
    this.lastKind = '';
    this.lastText = null;
    return d;
  }

  // append adds program output of kind 'stdout' or 'stderr' (or 'note',
  // 'run' for the panel's own lines) as text.
  append(kind, text) {
    if (!text) return;
    if (kind === 'stderr') this.hadStderr = true;
    if (this.truncated) return;
    if (this.shown + text.length > maxShown) {
      text = text.slice(0, Math.max(0, maxShown - this.shown));
      this.truncated = true;
    }
    this.shown += text.length;
    // Follow the output only if the reader is at the bottom right now: a
    // scroll made by a script (find in page, assistive tools) may not have
    // fired its scroll event yet, so no remembered flag is trusted.
    const s = this.stream;
    const follow = s.hidden || s.scrollHeight - s.scrollTop - s.clientHeight < 8;
    s.hidden = false;
    if (kind === this.lastKind && this.lastText) {
      this.lastText.appendData(text);
    } else {
      const span = el('span', `out-${kind}`);
      this.lastText = document.createTextNode(text);
      span.append(this.lastText);
      s.append(span);
      this.lastKind = kind;
    }
    if (this.truncated) {
      this.lastKind = '';
      s.append(el('span', 'out-note', '\n[the page shows only the first MiB of output]\n'));
    }
    if (follow) s.scrollTop = s.scrollHeight;
  }

  // line adds a line of the panel's own (a note), on a line of its own.
  line(kind, text) {
    const needsBreak = this.lastText && !this.lastText.data.endsWith('\n');
    this.append(kind, (needsBreak ? '\n' : '') + text + '\n');
    this.lastKind = '';
  }

  // atBottom reports whether the stream shows its end (or all of it).
  atBottom() {
    const s = this.stream;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 8;
  }

  // reveal scrolls the stream to the start of what the learner should
  // read first (a race report, a panic, a dump), if the stream is
  // following its tail or was put there by reveal before. The stream then
  // stays there: output that follows does not scroll it away.
  reveal() {
    const s = this.stream;
    if (s.hidden || s.scrollHeight <= s.clientHeight || !(this.revealed || this.atBottom())) return false;
    const at = dumpStart(s.textContent);
    if (at < 0 || !scrollToOffset(s, at)) return false;
    this.revealed = true;
    return true;
  }

  // showReport brings a race report into view where the output printed
  // it: in the stream, or in run's fold of a repeated run (opened). raw
  // is the report as the race event carries it; its first access line
  // ("Write at 0x… by goroutine 7:") finds it.
  showReport(raw, run) {
    let s = this.stream;
    if (run) {
      const fold = this.runs.querySelector(`details.run-fold[data-run="${run}"]`);
      if (!fold) return false;
      this.runs.open = true;
      fold.open = true;
      s = fold.querySelector('.cell-stream');
    }
    const text = s.textContent;
    const access = raw.split('\n').find((l) => / at 0x[0-9a-f]+ by /.test(l));
    let at = access ? text.indexOf(access) : -1;
    if (at >= 0) at = Math.max(0, text.lastIndexOf('WARNING: DATA RACE', at));
    else at = text.indexOf('WARNING: DATA RACE');
    if (at < 0) return false;
    s.scrollIntoView({ block: 'nearest' });
    return scrollToOffset(s, at);
  }

  // foldDump hides the registers and runtime-internal frames of the
  // stream's goroutine dumps, behind "Show the full dump".
  foldDump() {
    let hidden = 0;
    for (const span of this.stream.querySelectorAll('span.out-stderr')) {
      const segments = foldDump(span.textContent);
      if (!segments.some((sg) => sg.hidden)) continue;
      span.textContent = '';
      for (const sg of segments) {
        if (!sg.hidden) {
          span.append(sg.text);
          continue;
        }
        const n = (sg.text.match(/\n/g) || []).length;
        hidden += n;
        const mark = el('span', 'out-elided');
        const what = /^(?:rip|pc|lr)\s+0x/m.test(sg.text) ? 'registers and runtime frames' : 'runtime frames';
        mark.dataset.lines = `⋯ ${n} line${n === 1 ? '' : 's'} of ${what}\n`;
        span.append(mark, el('span', 'out-internal', sg.text));
      }
    }
    this.lastKind = '';
    this.lastText = null;
    if (hidden === 0) return;
    const b = el('button', 'dump-toggle', 'Show the full dump');
    b.type = 'button';
    b.setAttribute('aria-pressed', 'false');
    b.addEventListener('click', () => {
      const on = this.root.classList.toggle('show-dump');
      b.setAttribute('aria-pressed', String(on));
      b.textContent = on ? 'Hide the runtime internals' : 'Show the full dump';
    });
    this.tools.append(el('span', 'stream-note', `${hidden} lines of the dump (registers, the runtime's own frames) are hidden.`), b);
    this.tools.hidden = false;
  }

  // show puts a rendered view under the output; first puts it before
  // the others (the summary of a repeated run).
  show(node, first = false) {
    if (first) this.extra.prepend(node);
    else this.extra.append(node);
  }
}

// scrollToOffset scrolls the stream s so that the character at offset at
// of its text is at its top. It reports whether s holds that offset.
function scrollToOffset(s, at) {
  const walker = document.createTreeWalker(s, NodeFilter.SHOW_TEXT);
  let pos = 0;
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (pos + n.data.length > at) {
      const r = document.createRange();
      r.setStart(n, at - pos);
      r.setEnd(n, Math.min(n.data.length, at - pos + 1));
      s.scrollTop = r.getBoundingClientRect().top - s.getBoundingClientRect().top + s.scrollTop - 4;
      return true;
    }
    pos += n.data.length;
  }
  return false;
}
