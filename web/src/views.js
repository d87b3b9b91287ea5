// The assembly listing of an asm event, and what it explains. Everything
// from the event goes in through textContent.

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
  // arm64's atomics (ARMv8.1 LSE) and its ordered loads and stores.
  if (/^(?:LDADD|LDCLR|LDEOR|LDOR|SWP|CAS)A?L?[BHWD]?\b/.test(t)) {
    return 'an atomic read-modify-write of arm64, with acquire and release ordering: this is what sync/atomic compiles to';
  }
  if (/^(?:LDAR|STLR|LDAXR|STLXR)[BHW]?\b/.test(t)) {
    return 'a load-acquire or store-release of arm64: later accesses cannot move before it, or earlier ones after it';
  }
  const call = /^CALL\s+runtime\.([A-Za-z0-9_]+)/.exec(t);
  if (call) return runtimeCalls[call[1]] || `runtime.${call[1]}: a call into the Go runtime`;
  return '';
}

// colourOf gives a source line its colour: its number modulo the number
// of colours, so that lines up to asmColours - 1 apart never share one,
// whatever order the listing shows them in.
export function colourOf(line) {
  return ((line - 1) % asmColours + asmColours) % asmColours;
}

// asmView renders an asm event's lines grouped by function: a header per
// function, then each instruction with its source line, its offset and
// its text; an instruction that needs explaining (LOCK, XCHG, a call
// into the runtime) is followed by a row that explains it, the first time
// it appears. PCDATA/FUNCDATA lines are hidden until the reader asks.
// hover(file, line) is called when the pointer enters an instruction of
// a source line, and hover(null) when it leaves. coloured(file) says
// whether the lines of a file are coloured in an editor.
export function asmView(lines, { hover = () => {}, coloured = () => false, arch = '' } = {}) {
  const root = el('div', 'cell-asm');
  const id = `asm-noise-${++asmCount}`;
  const toggle = el('div', 'asm-toggle');
  const box = el('input');
  box.type = 'checkbox';
  box.id = id;
  const label = el('label', '', 'show PCDATA/FUNCDATA');
  label.htmlFor = id;
  toggle.append(box, label);
  if (arch) toggle.append(el('span', 'asm-arch', `GOARCH=${arch}`));
  box.addEventListener('change', () => root.classList.toggle('show-noise', box.checked));

  const listing = el('div', 'asm-listing');
  listing.tabIndex = 0;
  listing.setAttribute('aria-label', 'Assembly listing');
  const explained = new Set();
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
      if (coloured(line.file) && line.line > 0) row.classList.add(`asm-c${colourOf(line.line)}`);
      row.addEventListener('mouseenter', () => hover(line.file, line.line));
      row.addEventListener('mouseleave', () => hover(null));
    }
    const why = explain(line.text);
    if (why) row.classList.add(/^\s*CALL/.test(line.text) ? 'asm-call' : 'asm-lock');
    // Every row names its source line: the full place where it changes,
    // the line number alone, dimmed, where it goes on.
    const src = el('span', here !== where ? 'asm-src' : 'asm-src asm-same', here !== where ? here : (line.line ? String(line.line) : ''));
    row.append(src, el('span', 'asm-off', String(line.offset).padStart(5, '0')), el('span', 'asm-text', line.text));
    if (!line.noise) where = here;
    listing.append(row);
    if (why && !explained.has(why)) {
      explained.add(why);
      const note = el('div', 'asm-note', why);
      note.setAttribute('role', 'note');
      listing.append(note);
    }
  }
  if (!lines || lines.length === 0) listing.append(el('div', 'asm-empty', 'The listing is empty.'));
  root.append(toggle, listing);
  return root;
}

// showLineInListing scrolls a listing, and only it, so that the first
// instruction of a source line is in view; it returns that row, or null.
export function showLineInListing(root, file, line) {
  const listing = root.querySelector('.asm-listing');
  const row = root.querySelector(`.asm-line:not(.asm-noise)[data-file="${CSS.escape(file)}"][data-line="${line}"]`);
  if (!listing || !row) return null;
  const top = row.offsetTop - listing.offsetTop;
  if (top < listing.scrollTop || top + row.offsetHeight > listing.scrollTop + listing.clientHeight) {
    listing.scrollTop = Math.max(0, top - listing.clientHeight / 3);
  }
  return row;
}
