// The lesson's table of contents: a list of its sections (the ## headings,
// which the renderer gives ids), under the lesson's title.

import { el } from './output.js';

// showToc adds the contents of the lesson to its head, when it has at
// least two sections, and returns the nav (or null).
export function showToc(article) {
  const body = article.querySelector('.lesson-body');
  const head = article.querySelector('.lesson-head');
  if (!body || !head) return null;
  const headings = [...body.querySelectorAll(':scope > h2[id]')];
  if (headings.length < 2) return null;
  const nav = el('nav', 'lesson-toc');
  nav.setAttribute('aria-labelledby', 'lesson-toc-title');
  const title = el('h2', 'lesson-toc-title', 'On this page');
  title.id = 'lesson-toc-title';
  const list = el('ol', 'lesson-toc-list');
  for (const h of headings) {
    const a = el('a', '', h.textContent.replace(/\s*#$/, '').trim());
    a.href = `#${h.id}`;
    const li = el('li');
    li.append(a);
    list.append(li);
  }
  nav.append(title, list);
  head.after(nav);
  return nav;
}
