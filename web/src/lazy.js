// Editors as they are needed. Making a cell's editor costs tens of
// milliseconds of the page's main thread (CodeMirror parses the code and
// builds its view), and a lesson has up to twenty cells: made all at
// once, they held a lesson's first screen back by a third of a second or
// more on a slow machine. So a page makes the editors of the cells on
// its first screen at once, those of a cell coming near the view as it
// comes, and the rest one at a time while the browser is idle. Until its
// editors come, a cell shows its highlighted code and its toolbar works
// (a run, a share link or a press on the code makes them at once: see
// Cell.ensureEditors).

// The distance from the view, in viewports, at which a cell's editors are
// made before it scrolls in.
export const nearView = 1;

// The longest an idle browser is waited for before the next cell's
// editors are made anyway (ms).
export const idleWait = 2000;

// makeAll makes the editors of several cells before it puts any in the
// page (see Cell.makeEditors), each cell on its own: one that fails keeps
// its highlighted code and does not take the others down. It returns the
// cells that failed.
function makeAll(cells, broken) {
  const todo = cells.filter((c) => c && !c.editorsMade());
  const made = [];
  const failed = [];
  const fail = (c, err) => {
    failed.push(c);
    broken(c, err);
  };
  for (const c of todo) {
    try {
      c.makeEditors();
      made.push(c);
    } catch (err) {
      fail(c, err);
    }
  }
  for (const c of made) {
    try {
      c.putEditors();
    } catch (err) {
      fail(c, err);
    }
  }
  return failed;
}

// onScreen reports whether an element shows in the window's view now.
function onScreen(elem, win) {
  const r = elem.getBoundingClientRect();
  return r.bottom > 0 && r.top < win.innerHeight;
}

// makeEditorsLazily makes the editors of cells (in the page's order) as
// described above; broken(cell, err) is told of a cell whose editors
// could not be made. It returns a promise that settles when every cell
// has its editors, for tests.
export function makeEditorsLazily(cells, broken, win = window) {
  // A cell that failed is not tried again: it keeps its highlighted code.
  const failed = new Set(makeAll(cells.filter((c) => !c.editorsMade() && onScreen(c.fig, win)), broken));
  const done = (c) => c.editorsMade() || failed.has(c);
  let rest = cells.filter((c) => !done(c));
  if (rest.length === 0) return Promise.resolve();
  const make = (list) => {
    for (const c of makeAll(list, broken)) failed.add(c);
  };
  return new Promise((resolve) => {
    let observer = null;
    const byFig = new Map(rest.map((c) => [c.fig, c]));
    // settle forgets the cells that are done (made here, or by the cell
    // itself when the learner reached for it) and ends when none is left.
    const settle = () => {
      for (const c of rest) {
        if (done(c) && observer) observer.unobserve(c.fig);
      }
      rest = rest.filter((c) => !done(c));
      if (rest.length > 0) return false;
      if (observer) observer.disconnect();
      resolve();
      return true;
    };
    if (typeof win.IntersectionObserver === 'function') {
      observer = new win.IntersectionObserver((entries) => {
        make(entries.filter((e) => e.isIntersecting).map((e) => byFig.get(e.target)));
        settle();
      }, { rootMargin: `${nearView * 100}% 0px` });
      for (const c of rest) observer.observe(c.fig);
    }
    const idle = typeof win.requestIdleCallback === 'function'
      ? (fn) => win.requestIdleCallback(fn, { timeout: idleWait })
      : (fn) => win.setTimeout(fn, 50);
    const next = () => {
      if (settle()) return;
      make([rest[0]]);
      if (!settle()) idle(next);
    };
    idle(next);
  });
}
