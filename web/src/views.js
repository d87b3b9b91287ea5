// Renderings of the structured events: the assembly listing (asm) and the
// table of outcomes of a repeated run (summary). Everything from the event
// goes in through textContent.

import { el } from './output.js';

let asmCount = 0;

// The colours of the assembly listing: each source line and its
// instructions share one of these classes (asm-c0 … asm-c7 in app.css).
export const asmColours = 8;

// What the runtime calls a listing shows do, in a line each.
const runtimeCalls = {
  chansend1: 'runtime.chansend1: send on a channel (c <- v); may block until a receiver comes',
  chanrecv1: 'runtime.chanrecv1: receive from a channel (<-c); may block until a sender comes',
  chanrecv2: 'runtime.chanrecv2: receive with ok (v, ok := <-c); may block',
  closechan: 'runtime.closechan: close a channel, waking every waiting receiver',
  selectgo: 'runtime.selectgo: a select statement: waits until one case can go on',
  makechan: 'runtime.makechan: make(chan T, n): allocate a channel',
  newobject: 'runtime.newobject: allocate a value on the heap (it escapes the function)',
  makeslice: 'runtime.makeslice: make([]T, n): allocate a slice\'s array',
  makemap: 'runtime.makemap: make(map[K]V): allocate a map',
  growslice: 'runtime.growslice: append ran out of room: allocate a bigger array and copy',
  newproc: 'runtime.newproc: the go statement: create a goroutine',
  gcWriteBarrier: 'runtime.gcWriteBarrier: tell the garbage collector about a pointer write',
  morestack: 'runtime.morestack: the goroutine\'s stack is too small: grow it and call again',
  morestack_noctxt: 'runtime.morestack_noctxt: the goroutine\'s stack is too small: grow it and call again',
  lock: 'runtime.lock: take a runtime-internal lock',
  lock2: 'runtime.lock2: take a runtime-internal lock',
  unlock: 'runtime.unlock: release a runtime-internal lock',
  unlock2: 'runtime.unlock2: release a runtime-internal lock',
  deferreturn: 'runtime.deferreturn: run the function\'s deferred calls before it returns',
  deferproc: 'runtime.deferproc: register a deferred call',
  gopanic: 'runtime.gopanic: panic(): unwind the stack, running deferred calls',
  panicIndex: 'runtime.panicIndex: an index was out of range: panic',
  racefuncenter: 'runtime.racefuncenter: race detector: a function starts',
  racefuncexit: 'runtime.racefuncexit: race detector: a function returns',
  raceread: 'runtime.raceread: race detector: record a read of memory',
  racewrite: 'runtime.racewrite: race detector: record a write of memory',
  mapaccess1: 'runtime.mapaccess1: read a map entry (m[k])',
  mapassign: 'runtime.mapassign: write a map entry (m[k] = v)',
  convT64: 'runtime.convT64: put an integer in an interface value (may allocate)',
  convTstring: 'runtime.convTstring: put a string in an interface value (may allocate)',
};

// explain returns a one-line explanation of an instruction, or ''.
export function explain(text) {
  const t = (text || '').trim();
  // XCHG with memory is atomic without the prefix; XCHGL AX, AX is a no-op.
  if (/^LOCK\b/.test(t) || /^XCHG[BWLQ]?\s+\w+,\s*[^\s,]*\(/.test(t)) {
    return 'LOCK: the CPU does this read-modify-write atomically, and it orders memory like a fence: this is what sync/atomic compiles to';
  }
  const call = /^CALL\s+runtime\.([A-Za-z0-9_]+)/.exec(t);
  if (call) return runtimeCalls[call[1]] || `runtime.${call[1]}: a call into the Go runtime`;
  return '';
}

// asmView renders an asm event's lines grouped by function: a header per
// function, then each instruction with its offset and, where it changes,
// the source line it came from. PCDATA/FUNCDATA lines are hidden until
// the reader asks for them.
// hover(file, line) is called when the pointer enters an instruction of
// a source line, and hover(null) when it leaves. colourOf(file, line)
// gives the line's colour number.
export function asmView(lines, { hover = () => {}, colourOf = () => -1 } = {}) {
  const root = el('div', 'cell-asm');
  const id = `asm-noise-${++asmCount}`;
  const toggle = el('div', 'asm-toggle');
  const box = el('input');
  box.type = 'checkbox';
  box.id = id;
  const label = el('label', '', 'show PCDATA/FUNCDATA');
  label.htmlFor = id;
  toggle.append(box, label);
  box.addEventListener('change', () => root.classList.toggle('show-noise', box.checked));

  const listing = el('div', 'asm-listing');
  listing.tabIndex = 0;
  listing.setAttribute('aria-label', 'Assembly listing');
  let fn = null;
  let where = '';
  for (const line of lines || []) {
    // A function's name comes on its first line only.
    if (line.func && line.func !== fn) {
      fn = line.func;
      where = '';
      listing.append(el('div', 'asm-func', fn));
    }
    const row = el('div', line.noise ? 'asm-line asm-noise' : 'asm-line');
    const here = line.file ? `${line.file}:${line.line}` : '';
    if (line.file) {
      row.dataset.file = line.file;
      row.dataset.line = String(line.line);
      const c = colourOf(line.file, line.line);
      if (c >= 0) row.classList.add(`asm-c${c}`);
      row.addEventListener('mouseenter', () => hover(line.file, line.line));
      row.addEventListener('mouseleave', () => hover(null));
    }
    const text = el('span', 'asm-text', line.text);
    const why = explain(line.text);
    if (why) {
      text.title = why;
      row.classList.add(/^\s*CALL/.test(line.text) ? 'asm-call' : 'asm-lock');
    }
    row.append(
      el('span', 'asm-src', here !== where ? here : ''),
      el('span', 'asm-off', String(line.offset).padStart(5, '0')),
      text,
    );
    if (!line.noise) where = here;
    listing.append(row);
  }
  if (!lines || lines.length === 0) listing.append(el('div', 'asm-empty', 'The listing is empty.'));
  root.append(toggle, listing);
  return root;
}

function counts(map) {
  return Object.entries(map || {})
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ×${n}`)
    .join(', ');
}

// The most of an output a bar's label shows; the whole is in its title.
const labelLines = 3;
const labelChars = 160;

// outputLabel shortens an output to a few lines for a bar's label.
export function outputLabel(text) {
  if (text === '') return '(no output)';
  let lines = text.split('\n');
  let cut = lines.length > labelLines;
  lines = lines.slice(0, labelLines);
  let s = lines.join('\n');
  if (s.length > labelChars) {
    s = s.slice(0, labelChars);
    cut = true;
  }
  return cut ? `${s}…` : s;
}

// bar is one row of the histogram: the output, a bar as long as its share
// of the runs, and the count. The width is a custom property set through
// the CSSOM, which the page's style-src 'self' allows (it is not a style
// attribute in markup); app.css turns it into the bar's width.
function bar(label, full, count, runs, extraClass) {
  const row = el('div', `hist-row${extraClass ? ` ${extraClass}` : ''}`);
  row.setAttribute('role', 'listitem');
  const text = el('pre', 'hist-label summary-output', label);
  if (full !== label) text.title = full;
  const track = el('div', 'hist-track');
  const fill = el('div', 'hist-bar');
  fill.style.setProperty('--share', `${runs > 0 ? (100 * count) / runs : 0}%`);
  track.append(fill);
  const n = el('span', 'hist-count summary-count', String(count));
  n.setAttribute('aria-label', `${count} of ${runs} runs`);
  row.append(text, track, n);
  return row;
}

// summaryView renders a summary event as a bar chart: each distinct output
// and how many runs printed it, then the races, exit reasons and codes.
export function summaryView(s) {
  const runs = s.runs || 0;
  const root = el('div', 'cell-summary');
  root.append(el('h3', 'view-heading', `Outputs of ${runs} run${runs === 1 ? '' : 's'}`));
  const chart = el('div', 'hist');
  chart.setAttribute('role', 'list');
  chart.setAttribute('aria-label', 'Distinct outputs and how many runs printed each');
  for (const o of s.outputs || []) {
    const full = o.output + (o.truncated ? '…' : '');
    chart.append(bar(outputLabel(full), full, o.count, runs));
  }
  if (s.others > 0) chart.append(bar('(other outputs)', '(other outputs)', s.others, runs, 'hist-others'));
  const facts = [`races in ${s.races || 0} of ${runs} runs`];
  const reasons = counts(s.reasons);
  if (reasons) facts.push(`endings: ${reasons}`);
  const codes = counts(s.codes);
  if (codes) facts.push(`exit codes: ${codes}`);
  const p = el('p', 'summary-facts', facts.join(' · '));
  if (s.races > 0) p.classList.add('has-races');
  root.append(chart, p);
  return root;
}
