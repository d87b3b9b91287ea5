// racelab's browser entry point: bundled by build.mjs into static/app.js,
// loaded with defer on every page, so the document is parsed when it runs.

import { Cell } from './cell.js';
import { setupKeys } from './keys.js';
import { setupLiveReload } from './live.js';
import { markVisited, showProgress } from './progress.js';
import { adoptEditorStyles } from './styles.js';

function main() {
  // Hints for keys that only work with JavaScript show only with it.
  document.documentElement.classList.add('js');
  adoptEditorStyles();
  setupKeys();
  setupLiveReload();
  const lesson = document.querySelector('article[data-lesson]');
  if (lesson) markVisited(lesson.dataset.lesson);
  showProgress(document);
  for (const fig of document.querySelectorAll('figure.cell[data-cell]')) {
    try {
      new Cell(fig).mount();
    } catch (err) {
      // One broken cell must not take the others down; its highlighted
      // code stays readable.
      console.error(`racelab: cell ${fig.dataset.cell}:`, err);
    }
  }
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', main);
else main();
