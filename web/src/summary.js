// The outcomes of a repeated run (a summary event): what the runs counted
// (lines "label: N", summed), the spread of the number each run printed,
// and the distinct outputs, each as a bar as long as its share. Everything
// from the event goes in through textContent; a bar's size is a custom
// property set through the CSSOM, which style-src 'self' allows.

import { el } from './output.js';

const fmt = new Intl.NumberFormat('en', { maximumFractionDigits: 3 });

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

// naturalCompare orders texts with their numbers as numbers: "total = 9"
// before "total = 10".
const collator = new Intl.Collator('en', { numeric: true });
export function naturalCompare(a, b) {
  return collator.compare(a, b);
}

// sortOutcomes orders outcomes by count, most first, then by their text
// with numbers as numbers.
export function sortOutcomes(outputs) {
  return [...(outputs || [])].sort((a, b) => b.count - a.count || naturalCompare(a.output, b.output));
}

// spread returns min, median and max of numbers, or null for none.
export function spread(numbers) {
  const xs = (numbers || []).filter(Number.isFinite).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const mid = xs.length >> 1;
  const median = xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
  return { min: xs[0], median, max: xs[xs.length - 1], sorted: xs };
}

// bar is one row of a chart: a label, a bar as long as count's share of
// total, and the count.
function bar(label, full, count, total, what, extraClass = '') {
  const row = el('div', `hist-row${extraClass ? ` ${extraClass}` : ''}`);
  row.setAttribute('role', 'listitem');
  const text = el('pre', 'hist-label summary-output', label);
  if (full !== label) text.title = full;
  const track = el('div', 'hist-track');
  const fill = el('div', 'hist-bar');
  fill.style.setProperty('--share', `${total > 0 ? (100 * count) / total : 0}%`);
  track.append(fill);
  const n = el('span', 'hist-count summary-count', fmt.format(count));
  n.setAttribute('aria-label', `${fmt.format(count)} of ${fmt.format(total)} ${what}`);
  row.append(text, track, n);
  return row;
}

function chart(label) {
  const c = el('div', 'hist');
  c.setAttribute('role', 'list');
  c.setAttribute('aria-label', label);
  return c;
}

// countedView is the table of what the runs counted: each label, its sum
// over the runs and its share of all that was counted.
function countedView(counted) {
  const root = el('div', 'summary-counted');
  const total = counted.reduce((s, c) => s + (c.count || 0), 0);
  root.append(el('h4', 'view-subheading', `What the runs counted (${fmt.format(total)} in all)`));
  const c = chart('Each outcome counted and how often, over all the runs');
  for (const o of counted) {
    const share = total > 0 ? ` (${((100 * o.count) / total).toFixed(o.count * 1000 < total ? 2 : 1)}%)` : '';
    const row = bar(o.label, o.label, o.count, total, 'counted');
    row.querySelector('.hist-count').textContent = fmt.format(o.count) + share;
    c.append(row);
  }
  root.append(c);
  return root;
}

// numbersView draws the number each run printed as a dot on a line from
// the least to the greatest, with min, median and max written out, and
// the value the lesson expects marked when it says one.
function numbersView(numbers, expected) {
  const s = spread(numbers);
  const root = el('div', 'summary-numbers');
  root.append(el('h4', 'view-subheading', `The number each run printed (${numbers.length} runs)`));
  const lo = expected != null ? Math.min(s.min, expected) : s.min;
  const hi = expected != null ? Math.max(s.max, expected) : s.max;
  const at = (x) => (hi > lo ? (100 * (x - lo)) / (hi - lo) : 50);
  const strip = el('div', 'num-strip');
  strip.setAttribute('role', 'img');
  const stacks = new Map();
  for (const x of s.sorted) {
    const slot = Math.round(at(x) / 2.5);
    const y = stacks.get(slot) || 0;
    stacks.set(slot, y + 1);
    const dot = el('span', 'num-dot');
    dot.style.setProperty('--x', `${at(x)}%`);
    dot.style.setProperty('--y', String(Math.min(y, 5)));
    dot.title = fmt.format(x);
    strip.append(dot);
  }
  let label = `${numbers.length} numbers from ${fmt.format(s.min)} to ${fmt.format(s.max)}`;
  if (expected != null) {
    const mark = el('span', 'num-expected');
    mark.style.setProperty('--x', `${at(expected)}%`);
    mark.title = `the lesson expects ${fmt.format(expected)}`;
    strip.append(mark);
    label += `; the lesson expects ${fmt.format(expected)}`;
  }
  strip.setAttribute('aria-label', label);
  const facts = el('dl', 'num-facts');
  const fact = (k, v, cls) => {
    const d = el('div', cls);
    d.append(el('dt', '', k), el('dd', '', fmt.format(v)));
    facts.append(d);
  };
  fact('min', s.min, 'num-min');
  fact('median', s.median, 'num-median');
  fact('max', s.max, 'num-max');
  if (expected != null) {
    fact('the lesson expects', expected, 'num-want');
    const off = s.sorted.filter((x) => x !== expected).length;
    facts.append(el('p', 'num-off', off === 0 ? 'Every run printed it.' : `${off} of ${numbers.length} runs printed something else.`));
  }
  root.append(strip, facts);
  return root;
}

// outputsView is the bar chart of the distinct outputs.
function outputsView(s, runs) {
  const c = chart('Distinct outputs and how many runs printed each');
  for (const o of sortOutcomes(s.outputs)) {
    const full = o.output + (o.truncated ? '…' : '');
    c.append(bar(outputLabel(full), full, o.count, runs, 'runs'));
  }
  if (s.others > 0) c.append(bar('(other outputs)', '(other outputs)', s.others, runs, 'runs', 'hist-others'));
  return c;
}

function counts(map) {
  return Object.entries(map || {})
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ×${n}`)
    .join(', ');
}

// summaryView renders a summary event: what the runs counted, the spread
// of their numbers, then the distinct outputs (folded away when one of
// the first two says more), and the races, exit reasons and codes.
// expected is the number the lesson's cell expects, or null.
export function summaryView(s, expected = null) {
  const runs = s.runs || 0;
  const root = el('section', 'cell-summary');
  root.append(el('h3', 'view-heading', `Outputs of ${runs} run${runs === 1 ? '' : 's'}`));
  const counted = (s.counted || []).filter((c) => c && typeof c.label === 'string');
  const numbers = (s.numbers || []).filter(Number.isFinite);
  if (counted.length > 0) root.append(countedView(counted));
  if (numbers.length > 0) root.append(numbersView(numbers, expected));
  const outputs = outputsView(s, runs);
  if (counted.length > 0 || numbers.length > 0) {
    const d = el('details', 'summary-outputs');
    const n = (s.outputs || []).length + (s.others > 0 ? 1 : 0);
    d.append(el('summary', '', `Each distinct output (${n})`), outputs);
    root.append(d);
  } else {
    root.append(outputs);
  }
  const facts = [`races in ${s.races || 0} of ${runs} runs`];
  const reasons = counts(s.reasons);
  if (reasons) facts.push(`endings: ${reasons}`);
  const codes = counts(s.codes);
  if (codes) facts.push(`exit codes: ${codes}`);
  const p = el('p', 'summary-facts', facts.join(' · '));
  if (s.races > 0) p.classList.add('has-races');
  root.append(p);
  return root;
}
