// The goroutine timeline of a traced run (issue #16, sandbox/timeline.go):
// one lane per goroutine with its states as coloured spans, the
// synchronization edges as arrows between the lanes ("send → receive"),
// and the same edges as a list in words ("Who unblocked whom"), which is
// the keyboard's and the screen reader's way through it. Hovering or
// focusing an arrow, a span or an item marks the lines it joins in the
// editor. Everything from the event enters the page as text or as numbers
// in SVG attributes; colours are classes of app.css, so both themes apply.

import { el } from './output.js';

const svgNS = 'http://www.w3.org/2000/svg';

// The limits of the drawing. A lesson's program has a handful of
// goroutines and edges; a program with thousands must still draw quickly
// and stay readable, so beyond these the view says what it left out.
export const maxLanes = 48; // lanes drawn (the server folds goroutines past sandbox.MaxTimelineLanes already)
export const maxArrows = 300; // arrows drawn; every edge is still counted in the list
export const maxListed = 200; // items of the list, after grouping the same two places
export const maxTabStops = 40; // arrows and spans in the tab order; past it, the list is the way
export const maxNamedLanes = 8; // single lanes of one name listed one by one; with more, the list speaks of them together
export const maxLabelled = 24; // arrows labelled "send → receive"; with more, the labels would hide the arrows
export const maxBreaks = 20000; // time points of the shortened scale (the server sends at most 4000 spans and edges); past it, time is drawn to scale

// The geometry of the chart, in SVG units (the SVG is as wide as the
// panel, and scrolls sideways on a narrow screen).
const width = 860;
const labelW = 178;
const padR = 18;
const axisH = 26;
const laneH = 38;
const barH = 16;
const trackW = width - labelW - padR;

// The states of a span, in the order a legend and an aggregate's bar
// show them (sandbox.StateRunning, …).
export const states = ['running', 'runnable', 'blocked', 'syscall'];

const stateWords = {
  running: 'running',
  runnable: 'runnable (ready, waiting for a thread)',
  blocked: 'blocked',
  syscall: 'in a system call',
};

// fmtNs writes a duration for people: 850 ns, 12.5 µs, 3.2 ms, 1.25 s.
export function fmtNs(ns) {
  const n = Math.max(0, Number(ns) || 0);
  if (n < 1e3) return `${Math.round(n)} ns`;
  if (n < 1e6) return `${trim(n / 1e3)} µs`;
  if (n < 1e9) return `${trim(n / 1e6)} ms`;
  return `${trim(n / 1e9)} s`;
}

function trim(v) {
  return v >= 100 ? String(Math.round(v)) : String(Number(v.toPrecision(3)));
}

// isPos reports whether p is a position in the learner's files.
function isPos(p) {
  return Boolean(p && typeof p.file === 'string' && p.line > 0);
}

// Names are what the view calls lanes, goroutines and places.
export class Names {
  constructor(tl) {
    this.lanes = new Map();
    for (const g of tl.goroutines || []) this.lanes.set(g.id, g);
    // Single lanes that share a name are numbered in the order they were
    // created: "worker #1", "worker #2".
    const shared = new Map();
    for (const g of tl.goroutines || []) {
      if (g.count > 1) continue;
      const n = g.name || '';
      shared.set(n, (shared.get(n) || 0) + 1);
    }
    this.shared = shared;
    this.numbers = new Map();
    const seen = new Map();
    for (const g of tl.goroutines || []) {
      const n = g.name || '';
      if (g.count > 1 || !n || shared.get(n) < 2) continue;
      seen.set(n, (seen.get(n) || 0) + 1);
      this.numbers.set(g.id, seen.get(n));
    }
    const files = new Set();
    const add = (p) => { if (isPos(p)) files.add(p.file); };
    for (const g of tl.goroutines || []) {
      add(g.created);
      for (const s of g.spans || []) add(s.at);
    }
    for (const e of tl.edges || []) { add(e.from_at); add(e.to_at); }
    // With one file, "line 9" says enough; with several, "a.go:9".
    this.oneFile = files.size <= 1;
  }

  // place writes a position: "line 9", or "worker.go:9" among several files.
  place(p) {
    if (!isPos(p)) return 'outside your code';
    return this.oneFile ? `line ${p.line}` : `${p.file}:${p.line}`;
  }

  // lane writes who a goroutine id is: "main", "worker", "worker (one of
  // 300)", or "goroutine 12" for an id that has no lane.
  lane(id) {
    const g = this.lanes.get(id);
    if (!g) return `goroutine ${id}`;
    const name = this.name(g);
    return g.count > 1 ? `${name} (one of ${g.count})` : name;
  }

  // listLane is lane, except that of more than maxNamedLanes single lanes
  // that share a name it says "worker (one of 23)", for the list to group.
  listLane(id) {
    const g = this.lanes.get(id);
    const n = g && !(g.count > 1) && g.name ? this.shared.get(g.name) : 0;
    return n > maxNamedLanes ? `${g.name} (one of ${n})` : this.lane(id);
  }

  // name is a lane's own name, numbered when others share it.
  name(g) {
    if (!g.name) return `goroutine ${g.id}`;
    const k = this.numbers.get(g.id);
    return k ? `${g.name} #${k}` : g.name;
  }

  // laneTitle is a lane's label: "worker ×300" for an aggregate.
  laneTitle(g) {
    const name = this.name(g);
    return g.count > 1 ? `${name} ×${g.count}` : name;
  }

  // created writes where a lane's goroutines were created.
  created(g) {
    if (!isPos(g.created)) return g.parent ? 'created outside your code' : '';
    return `created at ${this.place(g.created)}`;
  }
}

// opWord writes an operation; the server says "?" when the stack named
// no call it knows.
function opWord(op) {
  return !op || op === '?' ? 'operation' : op;
}

// noTimeline is the prefix of the server's cut words when there is
// nothing to draw ("no timeline: the trace could not be parsed …").
export const noTimeline = 'no timeline: ';

// edgeWords says an edge in a sentence: "main's send at line 9 unblocked
// worker's receive at line 14"; listed, with the list's names (listLane).
export function edgeWords(e, names, listed = false) {
  const side = (id, op, at) => {
    const where = isPos(at) ? ` at ${names.place(at)}` : '';
    return `${listed ? names.listLane(id) : names.lane(id)}'s ${opWord(op)}${where}`;
  };
  return `${side(e.from, e.from_op, e.from_at)} unblocked ${side(e.to, e.to_op, e.to_at)}`;
}

// edgeLabel is an arrow's short label: "send → receive".
export function edgeLabel(e) {
  return `${e.from_op || '?'} \u2192 ${e.to_op || '?'}`;
}

function posKey(p) {
  return isPos(p) ? `${p.file}:${p.line}` : '-';
}

// edgeKey names an edge by its two lanes, operations and places.
function edgeKey(e) {
  return [e.from, e.to, e.from_op, e.to_op, posKey(e.from_at), posKey(e.to_at)].join('|');
}

// groupEdges groups the edges of one key (by default: the same two lanes,
// operations and places), in the order each first happened: a loop that
// hands off a thousand values is one item, "1000 times". Each group
// holds its first edge, its count and the indexes of its edges.
export function groupEdges(edges, key = edgeKey) {
  const groups = new Map();
  (edges || []).forEach((e, i) => {
    const k = key(e);
    const g = groups.get(k);
    if (g) {
      g.count++;
      g.members.add(i);
    } else {
      groups.set(k, { edge: e, count: 1, members: new Set([i]) });
    }
  });
  return [...groups.values()];
}

// timeScale maps a time in ns to a fraction of the track, 0 to 1. To
// scale, it is linear. Shortened, each gap between two consecutive moments
// where something happened (a span starts or ends, an edge) takes room as
// the logarithm of its length in µs, and at least a quarter of the mean, so that
// a hand-off a microsecond after a long sleep is not drawn on top of it:
// the order stays exact, the lengths only suggest.
export function timeScale(tl, toScale) {
  const d = Math.max(1, Number(tl.duration_ns) || 0);
  const linear = (t) => Math.min(1, Math.max(0, t / d));
  if (toScale) return linear;
  const set = new Set([0, d]);
  const put = (t) => { if (t >= 0 && t <= d) set.add(t); };
  for (const g of tl.goroutines || []) {
    for (const s of g.spans || []) { put(s.start_ns); put(s.end_ns); }
  }
  for (const e of tl.edges || []) put(e.at_ns);
  if (set.size > maxBreaks) return linear;
  const at = [...set].sort((a, b) => a - b);
  const gaps = at.slice(1).map((t, i) => Math.log1p((t - at[i]) / 1e3));
  const mean = gaps.reduce((a, b) => a + b, 0) / Math.max(1, gaps.length);
  const room = gaps.map((g) => Math.max(g, mean / 4));
  const starts = [0];
  for (const r of room) starts.push(starts[starts.length - 1] + r);
  const total = starts[starts.length - 1] || 1;
  return (t) => {
    if (!(t > 0)) return 0;
    if (t >= d) return 1;
    let lo = 0;
    let hi = at.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (at[mid] <= t) lo = mid;
      else hi = mid;
    }
    const span = at[hi] - at[lo];
    const part = span > 0 ? (t - at[lo]) / span : 0;
    return (starts[lo] + part * room[lo]) / total;
  };
}

// stateShares writes an aggregate lane's totals: "running 12% · blocked 85%".
export function stateShares(totals) {
  const entries = Object.entries(totals || {}).filter(([, v]) => v > 0);
  const sum = entries.reduce((a, [, v]) => a + v, 0);
  if (sum <= 0) return 'no time recorded';
  entries.sort(([a], [b]) => order(a) - order(b));
  return entries.map(([k, v]) => `${k} ${Math.round((100 * v) / sum)}% (${fmtNs(v)})`).join(' · ');
}

function order(state) {
  const i = states.indexOf(state);
  return i < 0 ? states.length : i;
}

// endingEdge finds the edge that ended a blocked span: the one that
// unblocked this lane while the span lasted, the last such.
export function endingEdge(edges, id, span) {
  let found = null;
  for (const e of edges || []) {
    if (e.to === id && e.at_ns >= span.start_ns && e.at_ns <= span.end_ns) found = e;
  }
  return found;
}

// marksOf gives the editor marks of an edge, or of a span and the edge
// that ended it: the unblocking line (tl-from) and the waiting one (tl-to).
export function marksOf(names, edge, span = null, lane = null) {
  const marks = [];
  if (edge) {
    if (isPos(edge.from_at)) {
      marks.push({ file: edge.from_at.file, line: edge.from_at.line, kind: 'tl-from', letter: '\u2192',
        note: `${names.lane(edge.from)}'s ${opWord(edge.from_op)}: unblocks ${names.lane(edge.to)}` });
    }
    if (isPos(edge.to_at)) {
      marks.push({ file: edge.to_at.file, line: edge.to_at.line, kind: 'tl-to', letter: '\u2190',
        note: `${names.lane(edge.to)}'s ${opWord(edge.to_op)}: unblocked by ${names.lane(edge.from)}` });
    }
  }
  if (span && isPos(span.at) && !(edge && isPos(edge.to_at) && edge.to_at.file === span.at.file && edge.to_at.line === span.at.line)) {
    marks.push({ file: span.at.file, line: span.at.line, kind: 'tl-to', letter: '\u2190',
      note: `${names.lane(lane)}: ${span.state}${span.reason ? ` (${span.reason})` : ''}` });
  }
  return marks;
}

function svg(tag, attrs = {}, className = '') {
  const e = document.createElementNS(svgNS, tag);
  if (className) e.setAttribute('class', className);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

function svgText(x, y, text, className, attrs = {}) {
  const t = svg('text', { x, y, ...attrs }, className);
  t.textContent = text;
  return t;
}

function titled(node, words) {
  const t = svg('title');
  t.textContent = words;
  node.append(t);
  return node;
}

// spanWords describes a span for its tooltip and its label.
function spanWords(names, g, s, edge) {
  const reason = s.state === 'blocked' && s.reason ? ` on ${s.reason}` : '';
  const at = isPos(s.at) ? ` at ${names.place(s.at)}` : '';
  let words = `${names.lane(g.id)}: ${stateWords[s.state] || s.state}${reason}${at}, from ${fmtNs(s.start_ns)} to ${fmtNs(s.end_ns)}`;
  if (edge) words += `; unblocked by ${names.lane(edge.from)}'s ${opWord(edge.from_op)}${isPos(edge.from_at) ? ` at ${names.place(edge.from_at)}` : ''}`;
  return words;
}

// timelineView draws a timeline event. hooks:
//   mark(marks)  show these marks on the editors while hovered or focused
//                (called with [] when it ends: the pinned ones come back)
//   pin(marks)   keep these marks (a click)
//   goto(file, line) show a line in the editor
export function timelineView(tl, hooks = {}) {
  const mark = hooks.mark || (() => {});
  const pin = hooks.pin || (() => {});
  const goto = hooks.goto || (() => {});
  const names = new Names(tl);
  const lanes = tl.goroutines || [];
  const edges = tl.edges || [];
  const root = el('section', 'cell-timeline');
  if (lanes.length === 0 && edges.length === 0) {
    // Nothing to draw: the server says why, or the trace held nothing of
    // the learner's.
    const cut = typeof tl.cut === 'string' ? tl.cut : '';
    const why = cut.startsWith(noTimeline) ? cut.slice(noTimeline.length) : cut;
    root.append(el('h3', 'view-heading', 'No timeline'));
    const note = el('p', 'tl-cut tl-none', why ? `The run has no timeline: ${why}` : 'The trace holds no goroutine of yours.');
    note.setAttribute('role', 'note');
    root.append(note);
    return root;
  }
  const single = lanes.filter((g) => !(g.count > 1)).length;
  const folded = lanes.filter((g) => g.count > 1).reduce((a, g) => a + g.count, 0);
  const heading = el('h3', 'view-heading',
    `Timeline: ${single + folded} goroutine${single + folded === 1 ? '' : 's'}, ${edges.length} hand-off${edges.length === 1 ? '' : 's'}, ${fmtNs(tl.duration_ns)}`);
  heading.id = `tl-${++viewCount}`;
  root.setAttribute('aria-labelledby', heading.id);
  root.append(heading);
  if (tl.cut) {
    const cut = el('p', 'tl-cut', tl.cut);
    cut.setAttribute('role', 'note');
    root.append(cut);
  }

  // The controls and the legend.
  const tools = el('div', 'tl-tools');
  const box = el('input');
  box.type = 'checkbox';
  box.id = `${heading.id}-scale`;
  const label = el('label', 'tl-scale', 'Draw time to scale');
  label.htmlFor = box.id;
  const scaleNote = el('span', 'tl-scale-note');
  const legend = el('ul', 'tl-legend');
  legend.setAttribute('aria-label', 'Colours of the states');
  for (const s of states) {
    const li = el('li', `tl-key tl-key-${s}`);
    li.append(el('span', `tl-swatch tl-${s}`), document.createTextNode(s));
    legend.append(li);
  }
  const arrowKey = el('li', 'tl-key tl-key-edge');
  arrowKey.append(el('span', 'tl-swatch tl-swatch-edge'), document.createTextNode('unblocked'));
  legend.append(arrowKey);
  const scaleBox = el('span', 'tl-scale-box');
  scaleBox.append(box, label);
  tools.append(scaleBox, scaleNote, legend);
  root.append(tools);

  const stale = el('p', 'tl-stale-note', 'The code was edited after this run: its lines may have moved, so the timeline marks none. Run it again.');
  stale.setAttribute('role', 'note');
  const chart = el('div', 'tl-chart');
  root.append(stale, chart);
  const draw = () => {
    const toScale = box.checked;
    scaleNote.textContent = toScale ? 'Time runs left to right, to scale.'
      : 'Time runs left to right; long gaps are shortened, the order is exact.';
    chart.replaceChildren(drawChart(tl, names, timeScale(tl, toScale), { mark, pin }));
  };
  box.addEventListener('change', draw);
  draw();
  if (lanes.length > maxLanes) {
    root.append(el('p', 'tl-more', `${lanes.length - maxLanes} more lanes are not drawn; their hand-offs are in the list.`));
  }

  // The aggregate lanes in words.
  const aggs = lanes.filter((g) => g.count > 1);
  if (aggs.length > 0) {
    root.append(el('h4', 'view-subheading', 'Goroutines drawn together'));
    const list = el('ul', 'tl-folded');
    for (const g of aggs) {
      list.append(el('li', 'tl-folded-item', `${names.laneTitle(g)}, ${names.created(g) || 'main'}: ${stateShares(g.states)}`));
    }
    root.append(list);
  }

  // Who unblocked whom, in words: each item focusable, marking its lines.
  const sub = el('h4', 'view-subheading tl-edges-heading', 'Who unblocked whom');
  sub.id = `${heading.id}-edges`;
  root.append(sub);
  // Grouped by their words: the same two places, and lanes of one name
  // together when there are many of them.
  const groups = groupEdges(edges, (e) => edgeWords(e, names, true));
  const list = el('ol', 'tl-edges');
  list.setAttribute('aria-labelledby', sub.id);
  for (const g of groups.slice(0, maxListed)) {
    const e = g.edge;
    const li = el('li', 'tl-edge-item');
    const times = g.count > 1 ? ` (${g.count} times)` : '';
    const b = el('button', 'tl-edge-btn view-jump', `${edgeWords(e, names, true)}${times}`);
    b.type = 'button';
    b.dataset.count = String(g.count);
    setLines(b, e);
    const marks = marksOf(names, e);
    // The item lights its arrows too.
    const light = (on) => {
      for (const a of chart.querySelectorAll('.tl-edge')) {
        if (g.members.has(Number(a.dataset.edge))) a.classList.toggle('tl-hot', on);
      }
    };
    hover(b, () => { mark(marks); light(true); }, () => { mark([]); light(false); });
    b.addEventListener('click', () => {
      pin(marks);
      if (isPos(e.from_at)) goto(e.from_at.file, e.from_at.line);
    });
    li.append(el('span', 'tl-edge-op', edgeLabel(e)), b);
    list.append(li);
  }
  if (groups.length === 0) {
    list.append(el('li', 'tl-edge-none', 'No goroutine of yours unblocked another in this run.'));
  }
  root.append(list);
  if (groups.length > maxListed) {
    const rest = groups.slice(maxListed).reduce((a, g) => a + g.count, 0);
    root.append(el('p', 'tl-more', `…and ${rest} more hand-offs at ${groups.length - maxListed} other pairs of places, not listed.`));
  }
  return root;
}

let viewCount = 0;

function setLines(node, e) {
  node.dataset.from = String(e.from);
  node.dataset.to = String(e.to);
  if (isPos(e.from_at)) node.dataset.fromLine = String(e.from_at.line);
  if (isPos(e.to_at)) node.dataset.toLine = String(e.to_at.line);
}

// hover calls on while the pointer is over node or it has the focus, and
// off when neither is the case any more.
function hover(node, on, off) {
  let over = false;
  let focused = false;
  const update = () => (over || focused ? on() : off());
  node.addEventListener('mouseenter', () => { over = true; update(); });
  node.addEventListener('mouseleave', () => { over = false; update(); });
  node.addEventListener('focus', () => { focused = true; update(); });
  node.addEventListener('blur', () => { focused = false; update(); });
}

// drawChart draws the lanes, their spans and the arrows as one SVG.
function drawChart(tl, names, scale, { mark, pin }) {
  const lanes = (tl.goroutines || []).slice(0, maxLanes);
  const edges = tl.edges || [];
  const height = axisH + lanes.length * laneH + 8;
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, preserveAspectRatio: 'xMinYMin meet' }, 'tl-svg');
  root.setAttribute('role', 'group');
  root.setAttribute('aria-label', `Timeline chart of ${lanes.length} lane${lanes.length === 1 ? '' : 's'}; the list below says the same in words`);
  const x = (t) => labelW + scale(t) * trackW;
  const row = new Map();
  lanes.forEach((g, i) => row.set(g.id, i));
  const mid = (i) => axisH + i * laneH + laneH / 2;
  // One set of listeners for the whole chart: what is under the pointer,
  // else what has the focus, marks its lines (a chart may hold thousands
  // of spans).
  const marking = new Map();
  let over = null;
  let focused = null;
  const update = () => {
    const n = over || focused;
    mark(n ? marking.get(n) : []);
  };
  const markable = (e) => {
    const n = e.target && e.target.closest ? e.target.closest('.tl-marking') : null;
    return n && marking.has(n) ? n : null;
  };
  root.addEventListener('mouseover', (e) => {
    const n = markable(e);
    if (n !== over) { over = n; update(); }
  });
  root.addEventListener('mouseleave', () => { over = null; update(); });
  root.addEventListener('focusin', (e) => { focused = markable(e); update(); });
  root.addEventListener('focusout', () => { focused = null; update(); });
  root.addEventListener('click', (e) => {
    const n = markable(e);
    if (n) pin(marking.get(n));
  });
  const marks = (node, list) => {
    node.classList.add('tl-marking');
    marking.set(node, list);
  };
  let stops = 0;
  const focusable = (node, words) => {
    node.setAttribute('role', 'img');
    node.setAttribute('aria-label', words);
    node.setAttribute('tabindex', stops < maxTabStops ? '0' : '-1');
    stops++;
  };

  // The axis.
  const axis = svg('g', {}, 'tl-axis');
  axis.append(svg('line', { x1: labelW, y1: axisH - 6, x2: labelW + trackW, y2: axisH - 6 }, 'tl-axis-line'));
  axis.append(svgText(labelW, axisH - 11, '0', 'tl-axis-text'));
  axis.append(svgText(labelW + trackW, axisH - 11, fmtNs(tl.duration_ns), 'tl-axis-text', { 'text-anchor': 'end' }));
  root.append(axis);

  // The edges first drawn, the arrows on top of the lanes.
  const arrows = svg('g', {}, 'tl-arrows');
  const laneGroup = svg('g', {}, 'tl-lanes');
  root.append(laneGroup, arrows);

  lanes.forEach((g, i) => {
    const y = mid(i);
    const lane = svg('g', {}, g.count > 1 ? 'tl-lane tl-lane-agg' : 'tl-lane');
    lane.dataset.goroutine = String(g.id);
    if (i % 2 === 1) lane.append(svg('rect', { x: 0, y: y - laneH / 2, width, height: laneH }, 'tl-stripe'));
    lane.append(svgText(6, y - 2, names.laneTitle(g), 'tl-name'));
    const created = names.created(g);
    if (created) lane.append(svgText(6, y + 12, created, 'tl-created'));
    lane.append(svg('line', { x1: labelW, y1: y, x2: labelW + trackW, y2: y }, 'tl-track'));
    if (g.count > 1) {
      drawAggregate(lane, g, y, names);
    } else {
      for (const s of g.spans || []) {
        const x1 = x(s.start_ns);
        const w = Math.max(1.5, x(s.end_ns) - x1);
        const state = states.includes(s.state) ? s.state : 'other';
        const h = state === 'blocked' ? barH / 3 : state === 'runnable' ? barH * 0.6 : barH;
        const r = svg('rect', { x: x1, y: y - h / 2, width: w, height: h }, `tl-span tl-${state}`);
        r.dataset.state = s.state || '';
        if (s.reason) r.dataset.reason = s.reason;
        if (isPos(s.at)) r.dataset.line = String(s.at.line);
        const edge = s.state === 'blocked' ? endingEdge(edges, g.id, s) : null;
        const words = spanWords(names, g, s, edge);
        titled(r, words);
        const spanMarks = marksOf(names, edge, s, g.id);
        if (spanMarks.length > 0) {
          focusable(r, words);
          marks(r, spanMarks);
        }
        lane.append(r);
        if (state === 'blocked' && s.reason && w > 8 * s.reason.length) {
          lane.append(svgText(x1 + w / 2, y - barH / 2 - 1, s.reason, 'tl-reason', { 'text-anchor': 'middle' }));
        }
      }
    }
    laneGroup.append(lane);
  });

  // The arrows: down or up from the unblocking lane to the unblocked one,
  // at the moment of the hand-off; arrows at one moment are set apart,
  // and a label is drawn only where it does not cover another.
  const placed = [];
  const labelled = edges.filter((e) => row.has(e.from) && row.has(e.to) && e.from !== e.to).length <= maxLabelled;
  let lastX = -Infinity;
  let drawn = 0;
  for (const [i, e] of edges.entries()) {
    if (drawn >= maxArrows) break;
    const a = row.get(e.from);
    const b = row.get(e.to);
    if (a == null || b == null || a === b) continue;
    drawn++;
    let ax = x(e.at_ns);
    if (ax - lastX < 5) ax = Math.min(labelW + trackW, lastX + 5);
    lastX = ax;
    const down = b > a;
    const y1 = mid(a) + (down ? barH / 2 : -barH / 2);
    const y2 = mid(b) + (down ? -barH / 2 : barH / 2);
    const group = svg('g', {}, 'tl-edge');
    setLines(group, e);
    group.dataset.edge = String(i);
    const words = edgeWords(e, names);
    group.append(svg('line', { x1: ax, y1, x2: ax, y2 }, 'tl-edge-hit'));
    group.append(svg('line', { x1: ax, y1, x2: ax, y2: y2 + (down ? -5 : 5) }, 'tl-edge-line'));
    const tip = down ? `M${ax - 4},${y2 - 7} L${ax},${y2} L${ax + 4},${y2 - 7} Z` : `M${ax - 4},${y2 + 7} L${ax},${y2} L${ax + 4},${y2 + 7} Z`;
    group.append(svg('path', { d: tip }, 'tl-edge-head'));
    const text = edgeLabel(e);
    const ly = (y1 + y2) / 2 + 4;
    const lw = text.length * 6.2;
    // Right of the arrow, else left of it, else (it would cover another
    // label) none: the arrow's title and the list still say it.
    const sides = [{ right: true, x1: ax + 3, x2: ax + 5 + lw }, { right: false, x1: ax - 5 - lw, x2: ax - 3 }];
    const free = labelled && sides.find((b) => b.x2 <= width && b.x1 >= labelW
      && !placed.some((p) => p.x1 < b.x2 && b.x1 < p.x2 && p.y1 < ly + 3 && ly - 11 < p.y2));
    if (free) {
      placed.push({ x1: free.x1, x2: free.x2, y1: ly - 11, y2: ly + 3 });
      group.append(svgText(free.right ? ax + 4 : ax - 4, ly, text, 'tl-edge-label', free.right ? {} : { 'text-anchor': 'end' }));
    }
    titled(group, words);
    focusable(group, words);
    marks(group, marksOf(names, e));
    arrows.append(group);
  }
  return root;
}

// drawAggregate draws an aggregate lane: one bar across the track, split
// by the share of time its goroutines spent in each state.
function drawAggregate(lane, g, y, names) {
  const entries = Object.entries(g.states || {}).filter(([, v]) => v > 0)
    .sort(([a], [b]) => order(a) - order(b));
  const sum = entries.reduce((a, [, v]) => a + v, 0);
  const words = `${names.laneTitle(g)}: ${stateShares(g.states)}`;
  const bar = svg('g', {}, 'tl-agg');
  bar.setAttribute('role', 'img');
  bar.setAttribute('aria-label', words);
  let at = labelW;
  for (const [state, v] of entries) {
    const w = sum > 0 ? (v / sum) * trackW : 0;
    const part = svg('rect', { x: at, y: y - barH / 2, width: Math.max(0, w), height: barH },
      `tl-agg-part tl-${states.includes(state) ? state : 'other'}`);
    part.dataset.state = state;
    titled(part, `${names.laneTitle(g)}: ${state} ${Math.round((100 * v) / sum)}% of their time (${fmtNs(v)} in all)`);
    bar.append(part);
    at += w;
  }
  titled(bar, words);
  lane.append(bar);
}
