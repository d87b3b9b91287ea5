// Live reload while an author edits the lessons (racelab serve --lessons
// DIR): the server marks its pages with <meta name="racelab-live"> and
// announces each change of its pages as a "reload" event on /api/reload.
// The page then reloads itself; a learner's edits are in localStorage
// already and come back with it.

// setupLiveReload listens for changes when the page is marked live, and
// returns the EventSource (or null), for tests.
export function setupLiveReload(doc = document, win = window) {
  const meta = doc.querySelector('meta[name="racelab-live"]');
  if (!meta || meta.content !== '1' || typeof win.EventSource !== 'function') return null;
  const source = new win.EventSource('/api/reload');
  source.addEventListener('reload', () => {
    source.close();
    win.location.reload();
  });
  // EventSource reconnects by itself when the server restarts, sending the
  // last version it saw; the server answers with a reload if it changed.
  return source;
}
