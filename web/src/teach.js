// The teaching views under a cell's output: the data races a run
// reported, where each goroutine was stuck when a run hung or deadlocked,
// and the marks both put on the source (see marks.js). Everything from the
// events enters the page as text.

import { el } from './output.js';

// userFrame returns the innermost frame of a stack in the user's files.
export function userFrame(stack) {
  return (stack || []).find((f) => f && f.user && f.line > 0) || null;
}

function who(a) {
  return a.main ? 'main goroutine' : `goroutine ${a.goroutine}`;
}

// accessWords says what an access of a race report did: "read by
// goroutine 8", "previous write by main goroutine".
export function accessWords(a, previous) {
  return `${previous ? 'previous ' : ''}${a.op || 'access'} by ${who(a)}`;
}

function where(f) {
  return f ? `${f.file}:${f.line}` : 'outside your code';
}

// raceMarks returns the marks of one race report, numbered n (1-based):
// both accesses (A and B) and each goroutine's creation site (G).
export function raceMarks(race, n) {
  const marks = [];
  const accesses = race.accesses || [];
  accesses.slice(0, 2).forEach((a, i) => {
    const f = userFrame(a.stack);
    if (!f) return;
    marks.push({
      file: f.file, line: f.line, kind: i === 0 ? 'race-a' : 'race-b', letter: i === 0 ? 'A' : 'B',
      note: `race ${n}, ${i === 0 ? 'A' : 'B'}: ${accessWords(a, i === 1)} in ${f.func}`,
    });
  });
  for (const g of race.goroutines || []) {
    const f = userFrame(g.created);
    if (!f) continue;
    const by = f.func ? ` by ${f.func}` : '';
    marks.push({
      file: f.file, line: f.line, kind: 'race-go', letter: 'G',
      note: `race ${n}: goroutine ${g.goroutine} created here${by}`,
    });
  }
  return marks;
}

// stuckMarks returns the marks of a goroutines event: each goroutine's
// innermost line in the user's code.
export function stuckMarks(goroutines) {
  const marks = [];
  for (const g of goroutines || []) {
    if (!g.top || !(g.top.line > 0)) continue;
    marks.push({
      file: g.top.file, line: g.top.line, kind: 'stuck', letter: 'S',
      note: `goroutine ${g.id}: ${stateWords(g)}`,
    });
  }
  return marks;
}

// jump makes a button that shows a line of the source.
function jump(className, text, frame, goto) {
  const b = el('button', `view-jump ${className}`, text);
  b.type = 'button';
  if (frame) {
    b.dataset.file = frame.file;
    b.dataset.line = String(frame.line);
    b.title = `Show ${frame.file}:${frame.line} in the editor`;
    b.addEventListener('click', () => goto(frame.file, frame.line));
  } else {
    b.disabled = true;
  }
  return b;
}

// raceKey names the pair of accesses of a race report, whichever came
// first: each access's operation and place (its innermost frame in the
// user's code, else its innermost frame). Reports of one pair from
// several runs, or several times in one run, share a key.
export function raceKey(race) {
  const sides = (race.accesses || []).slice(0, 2).map((a) => {
    const f = userFrame(a.stack) || (a.stack || [])[0] || {};
    return `${a.op || '?'} ${f.file || f.func || '?'}:${f.line || 0}`;
  });
  return sides.sort().join(' | ');
}

// RaceList is the "Data races (N)" list: one item per pair of accesses,
// however many runs reported it. The report as printed is in the output,
// once: an item's button shows it there (show(race, run)).
export class RaceList {
  constructor(goto, repeated, show) {
    this.goto = goto;
    this.show = show;
    this.repeated = repeated;
    this.root = el('section', 'cell-races');
    this.heading = el('h3', 'view-heading');
    this.list = el('ol', 'race-list');
    this.root.append(this.heading, this.list);
    this.groups = new Map();
    this.reports = 0;
    this.runs = 0;
  }

  get count() { return this.groups.size; }

  // add lists a race report from a run (0 when not repeated), and returns
  // whether its pair is new to the list.
  add(race, run) {
    this.reports++;
    const key = raceKey(race);
    let g = this.groups.get(key);
    const isNew = !g;
    if (isNew) {
      g = { runs: new Set(), reports: 0, item: this.item(race, run, this.groups.size + 1) };
      this.groups.set(key, g);
      this.list.append(g.item);
    }
    g.reports++;
    if (run) g.runs.add(run);
    this.runs = Math.max(this.runs, run || 0);
    this.refresh();
    return isNew;
  }

  // setRuns says how many runs have finished (the summary's count at the
  // end), the denominator of "seen in K of N runs".
  setRuns(n) {
    this.runs = Math.max(this.runs, n);
    this.refresh();
  }

  refresh() {
    const n = this.groups.size;
    let heading = `Data races (${n})`;
    if (this.repeated) heading += `: ${this.reports} report${this.reports === 1 ? '' : 's'} in ${this.runs} run${this.runs === 1 ? '' : 's'}`;
    this.heading.textContent = heading;
    for (const g of this.groups.values()) {
      let seen = '';
      if (this.repeated) seen = `seen in ${g.runs.size} of ${this.runs} run${this.runs === 1 ? '' : 's'}`;
      else if (g.reports > 1) seen = `reported ${g.reports} times`;
      g.item.querySelector('.race-seen').textContent = seen;
      g.item.dataset.runs = String(g.runs.size);
    }
  }

  item(race, run, n) {
    const item = el('li', 'race-item');
    const title = el('div', 'race-title', `Race ${n}`);
    title.append(' ', el('span', 'race-seen'));
    item.append(title);
    const accesses = el('ul', 'race-accesses');
    (race.accesses || []).slice(0, 2).forEach((a, i) => {
      const f = userFrame(a.stack);
      const letter = i === 0 ? 'A' : 'B';
      const fn = f && f.func ? ` in ${f.func}` : '';
      const li = el('li', `race-access race-access-${letter.toLowerCase()}`);
      li.append(el('span', `race-letter cm-mark-race-${letter.toLowerCase()}`, letter),
        jump('race-jump', `${accessWords(a, i === 1)} at ${where(f)}${fn}`, f, this.goto));
      accesses.append(li);
    });
    for (const g of race.goroutines || []) {
      const f = userFrame(g.created);
      if (!f) continue;
      const li = el('li', 'race-access race-access-go');
      li.append(el('span', 'race-letter cm-mark-race-go', 'G'),
        jump('race-jump', `goroutine ${g.goroutine} (${g.state || '?'}) created at ${where(f)}`, f, this.goto));
      accesses.append(li);
    }
    const from = run ? ` of run ${run}` : '';
    const show = el('button', 'race-show', `Show the report as printed${from}`);
    show.type = 'button';
    show.addEventListener('click', () => this.show(race, run));
    item.append(accesses, show);
    return item;
  }
}

// stateWords is what goroutine g was doing: its state and, when the
// runtime says, for how long.
function stateWords(g) {
  return `${g.state || '?'}${g.wait ? `, ${g.wait}` : ''}`;
}

// stuckWords says where goroutine g of a goroutines event was. A
// goroutine running on another thread that did not stop while the
// runtime printed its dump has no stack to show (elsewhere): the words
// say so rather than "outside your code".
export function stuckWords(g) {
  const state = stateWords(g);
  if (g.elsewhere) {
    return `goroutine ${g.id}: ${state} on another thread; the runtime could not stop it in time to read where`;
  }
  const f = g.top || null;
  const fn = f && f.func ? ` in ${f.func}` : '';
  return `goroutine ${g.id}: ${state} at ${where(f)}${fn}`;
}

// stuckView lists the goroutines of a goroutines event.
export function stuckView(ev, goto) {
  const root = el('section', 'cell-stuck');
  root.dataset.cause = ev.cause || '';
  const cause = ev.cause === 'deadlock' ? 'deadlock' : ev.cause || 'timeout';
  const heading = ev.cause === 'exit'
    ? 'Goroutines still running when main returned'
    : `Where each goroutine was stuck (${cause})`;
  root.append(el('h3', 'view-heading', heading));
  const list = el('ul', 'stuck-list');
  for (const g of ev.goroutines || []) {
    const li = el('li', 'stuck-item');
    li.dataset.goroutine = String(g.id);
    const f = g.top || null;
    li.append(el('span', 'stuck-letter cm-mark-stuck', 'S'),
      jump('stuck-jump', stuckWords(g), f, goto));
    list.append(li);
  }
  if (!ev.goroutines || ev.goroutines.length === 0) {
    list.append(el('li', 'stuck-item', 'No goroutine was stuck in your code.'));
  }
  root.append(list);
  return root;
}
