// The caption under a cell: what the lesson says the cell shows, in
// words for learners. The lessons package writes one line for authors
// (regular expressions and all); this keeps it in the caption's title and
// data-lesson-text, and shows each claim as a line of words.

import { el } from './output.js';
import { parseCaption, claimWords } from './expect.js';

// showCaption rewrites the figure's figcaption.cell-expect, if any, and
// returns its claims.
export function showCaption(fig, mode) {
  const cap = fig.querySelector('figcaption.cell-expect');
  if (!cap) return [];
  const raw = cap.textContent;
  const claims = parseCaption(raw);
  if (claims.length === 0) return claims;
  cap.dataset.lessonText = raw;
  cap.title = `As the lesson states it: ${raw}`;
  cap.textContent = '';
  cap.append(el('span', 'expect-lead', 'What the lesson says you will see:'));
  const list = el('ul', 'expect-list');
  const legends = new Set();
  for (const c of claims) {
    const w = claimWords(c, mode);
    const li = el('li', 'expect-claim', w.text);
    li.dataset.kind = c.kind;
    if (w.pattern) li.append(' ', el('code', 'expect-pattern', w.pattern));
    if (w.legend) legends.add(w.legend);
    list.append(li);
  }
  cap.append(list);
  if (legends.size > 0) cap.append(el('span', 'expect-legend', `(${[...legends].join('; ')})`));
  return claims;
}
