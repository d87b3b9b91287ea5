// Keyboard shortcuts of the whole page: n/p and Alt+→/Alt+← move between
// lessons, ? shows the help. None of them fire while the focus is in an
// editor or a form field, where those keys are text.

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
      done = follow('next-lesson');
    } else if (e.key === 'p') {
      done = follow('prev-lesson');
    } else if (e.key === '?') {
      done = toggleHelp();
    }
    if (done) e.preventDefault();
  });
}
