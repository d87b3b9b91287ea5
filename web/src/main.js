// racelab's browser entry point: bundled by build.mjs into static/app.js,
// loaded with defer on every page, so the document is parsed when it runs.

import { Cell } from './cell.js';
import { setupKeys } from './keys.js';
import { makeEditorsLazily } from './lazy.js';
import { setupLiveReload } from './live.js';
import { markVisited, showProgress } from './progress.js';
import { adoptEditorStyles } from './styles.js';
import { showToc } from './toc.js';
import { parseShare, decodeFiles } from './share.js';

// openShared puts the code of a share link (#share=<cell>.<payload>) into
// its cell and brings the cell into view.
async function openShared(cells) {
  const share = parseShare(window.location.hash);
  if (!share) return;
  const cell = cells.get(share.cell);
  if (!cell) return;
  try {
    cell.loadShared(await decodeFiles(share.kind, share.data));
  } catch {
    cell.output.setStatus('error', 'The shared link is damaged: its code could not be read. The lesson\'s code is shown.');
  }
  cell.fig.scrollIntoView({ block: 'start' });
}

function main() {
  // Hints for keys that only work with JavaScript show only with it.
  document.documentElement.classList.add('js');
  adoptEditorStyles();
  setupKeys();
  setupLiveReload();
  const lesson = document.querySelector('article[data-lesson]');
  if (lesson) {
    markVisited(lesson.dataset.lesson);
    showToc(lesson);
  }
  showProgress(document);
  // Every cell is built before any is attached, and the editors come as
  // they are needed (see lazy.js). One broken cell must not take the
  // others down; its highlighted code stays readable.
  const broken = (fig, err) => console.error(`racelab: cell ${fig.dataset.cell}:`, err);
  const built = [];
  for (const fig of document.querySelectorAll('figure.cell[data-cell]')) {
    try {
      const cell = new Cell(fig);
      cell.build();
      built.push(cell);
    } catch (err) {
      broken(fig, err);
    }
  }
  const cells = new Map();
  const attached = [];
  for (const cell of built) {
    try {
      cell.attach();
      if (!cell.output) continue;
      attached.push(cell);
      cells.set(cell.id, cell);
    } catch (err) {
      broken(cell.fig, err);
    }
  }
  makeEditorsLazily(attached, (cell, err) => broken(cell.fig, err));
  openShared(cells);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', main);
else main();
