// Renderings of the structured events: the assembly listing (asm) and the
// table of outcomes of a repeated run (summary). Everything from the event
// goes in through textContent.

import { el } from './output.js';

let asmCount = 0;

// asmView renders an asm event's lines grouped by function: a header per
// function, then each instruction with its offset and, where it changes,
// the source line it came from. PCDATA/FUNCDATA lines are hidden until
// the reader asks for them.
export function asmView(lines) {
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
    if (line.func !== fn) {
      fn = line.func;
      where = '';
      listing.append(el('div', 'asm-func', fn));
    }
    const row = el('div', line.noise ? 'asm-line asm-noise' : 'asm-line');
    const here = line.file ? `${line.file}:${line.line}` : '';
    if (line.file) {
      row.dataset.file = line.file;
      row.dataset.line = String(line.line);
    }
    row.append(
      el('span', 'asm-src', here !== where ? here : ''),
      el('span', 'asm-off', String(line.offset).padStart(5, '0')),
      el('span', 'asm-text', line.text),
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

// summaryView renders a summary event: each distinct output and how many
// runs printed it, then the races, exit codes and reasons.
export function summaryView(s) {
  const root = el('div', 'cell-summary');
  const table = el('table', 'summary-table');
  table.append(el('caption', '', `Outputs of ${s.runs} run${s.runs === 1 ? '' : 's'}`));
  const head = el('thead');
  const hr = el('tr');
  for (const h of ['Output', 'Runs']) {
    const th = el('th', '', h);
    th.scope = 'col';
    hr.append(th);
  }
  head.append(hr);
  const body = el('tbody');
  for (const o of s.outputs || []) {
    const tr = el('tr');
    const td = el('td', 'summary-output');
    td.append(el('pre', '', o.output === '' ? '(no output)' : o.output));
    tr.append(td, el('td', 'summary-count', String(o.count)));
    body.append(tr);
  }
  table.append(head, body);
  const facts = [`data race in ${s.races || 0} of ${s.runs} runs`];
  const codes = counts(s.codes);
  if (codes) facts.push(`exit codes: ${codes}`);
  const reasons = counts(s.reasons);
  if (reasons) facts.push(`endings: ${reasons}`);
  root.append(table, el('p', 'summary-facts', facts.join(' · ')));
  return root;
}
