// Keyboard shortcuts of the whole page: on a lesson, n/p and Alt+→/Alt+←
// move between lessons; on the index, n/p move the focus down and up the
// list of lessons (Enter opens one); ? shows the help. None of them fire
// while the focus is in an editor or a form field, where those keys are
// text.

function inEditable(target) {
  if (!(target instanceof Element)) return false;
  return Boolean(target.closest('input, textarea, select, [contenteditable]:not([contenteditable="false"]), .cm-editor'));
}

function follow(id) {
  const link = document.getElementById(id);
  if (!link || !link.href) return false;
  window.location.assign(link.href);
  return true;
}

// step moves the focus to the next (or previous) lesson of the index; it
// reports false when the page has no list of lessons.
function step(by) {
  const links = [...document.querySelectorAll('.lesson-list .lesson-link')];
  if (links.length === 0) return false;
  const at = links.indexOf(document.activeElement);
  let next;
  if (at < 0) next = by > 0 ? 0 : links.length - 1;
  else next = Math.min(links.length - 1, Math.max(0, at + by));
  links[next].focus();
  links[next].scrollIntoView({ block: 'nearest' });
  return true;
}

// setupHelp wires the ? dialog and returns a function that toggles it.
function setupHelp() {
  const help = document.getElementById('help');
  if (!help || typeof help.showModal !== 'function') return () => false;
  const close = document.getElementById('help-close');
  if (close) close.addEventListener('click', () => help.close());
  // A click on the backdrop (outside the dialog's box) closes it too.
  help.addEventListener('click', (e) => { if (e.target === help) help.close(); });
  return () => {
    if (help.open) help.close();
    else help.showModal();
    return true;
  };
}

// setupKeys installs the page's shortcuts.
export function setupKeys() {
  const toggleHelp = setupHelp();
  document.addEventListener('keydown', (e) => {
    if (e.defaultPrevented || e.isComposing || e.ctrlKey || e.metaKey) return;
    if (inEditable(e.target)) return;
    let done = false;
    if (e.altKey) {
      if (e.key === 'ArrowRight') done = follow('next-lesson');
      else if (e.key === 'ArrowLeft') done = follow('prev-lesson');
    } else if (e.key === 'n') {
      done = follow('next-lesson') || step(1);
    } else if (e.key === 'p') {
      done = follow('prev-lesson') || step(-1);
    } else if (e.key === '?') {
      done = toggleHelp();
    }
    if (done) e.preventDefault();
  });
}
