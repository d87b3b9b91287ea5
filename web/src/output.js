// The output panel of a cell: a status line (the only live region), the
// program's stdout and stderr as they arrive, and the views of the asm
// and summary events. Program output is data: it only ever enters the
// page as text nodes, never as markup.

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

const reasonWords = {
  exited: 'The program exited.',
  'build-failed': 'The build failed, so nothing ran.',
  timeout: 'The program ran out of time and was stopped.',
  memory: 'The program used too much memory and was stopped.',
  'output-limit': 'The program printed too much and was stopped.',
  killed: 'The program was killed by a signal.',
  canceled: 'The run was stopped before it finished.',
};

// exitStats is the "37 ms wall · 12 ms CPU · 4.2 MiB peak memory" of an exit.
export function exitStats(ev) {
  const parts = [`${ev.ms || 0} ms wall`];
  if (ev.cpu_ms != null) parts.push(`${ev.cpu_ms} ms CPU`);
  if (ev.peak_bytes > 0) parts.push(`${(ev.peak_bytes / (1 << 20)).toFixed(1)} MiB peak memory`);
  return parts.join(' · ');
}

export class Output {
  constructor(cellId) {
    this.root = el('div', 'cell-output');
    this.root.id = `${cellId}-output`;
    this.status = el('div', 'cell-status');
    this.status.setAttribute('role', 'status');
    this.status.setAttribute('aria-live', 'polite');
    this.status.dataset.state = 'idle';
    this.stream = el('pre', 'cell-stream');
    this.stream.tabIndex = 0;
    this.stream.setAttribute('aria-label', 'Program output');
    this.stream.hidden = true;
    this.extra = el('div', 'cell-extra');
    this.root.append(this.status, this.stream, this.extra);
    this.clear();
  }

  // clear empties the panel for a new run.
  clear() {
    this.stream.textContent = '';
    this.stream.hidden = true;
    this.extra.textContent = '';
    this.shown = 0;
    this.truncated = false;
    this.lastKind = '';
    this.lastText = null;
    this.hadStderr = false;
  }

  // setStatus shows a state ('idle', 'connecting', 'waiting', 'running',
  // 'done', 'failed', 'stopped', 'lost', 'error') and its words.
  setStatus(state, message, stats = '') {
    this.status.dataset.state = state;
    delete this.status.dataset.reason;
    delete this.status.dataset.code;
    this.status.textContent = '';
    if (message) this.status.append(el('span', 'status-msg', message));
    if (stats) this.status.append(el('span', 'status-stats', stats));
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
    this.stream.hidden = false;
    if (kind === this.lastKind && this.lastText) {
      this.lastText.appendData(text);
    } else {
      const span = el('span', `out-${kind}`);
      this.lastText = document.createTextNode(text);
      span.append(this.lastText);
      this.stream.append(span);
      this.lastKind = kind;
    }
    if (this.truncated) {
      this.lastKind = '';
      this.stream.append(el('span', 'out-note', '\n[the page shows only the first MiB of output]\n'));
    }
    if (follow) this.stream.scrollTop = this.stream.scrollHeight;
  }

  // line adds a line of the panel's own (a run separator, a note), on a
  // line of its own.
  line(kind, text) {
    const needsBreak = this.lastText && !this.lastText.data.endsWith('\n');
    this.append(kind, (needsBreak ? '\n' : '') + text + '\n');
    this.lastKind = '';
  }

  // exitStatus shows how a run ended.
  exitStatus(ev, prefix = '') {
    const failed = ev.reason !== 'exited' || ev.code !== 0;
    const words = ev.msg || reasonWords[ev.reason] || `The run ended (${ev.reason || 'unknown reason'}).`;
    this.setStatus(failed ? 'failed' : 'done', prefix + words, exitStats(ev));
    this.status.dataset.reason = ev.reason || '';
    this.status.dataset.code = String(ev.code ?? '');
  }

  // show puts a rendered view (asm, summary) under the output.
  show(node) {
    this.extra.append(node);
  }
}
