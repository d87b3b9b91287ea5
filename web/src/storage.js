// Small wrappers around localStorage. Storage can be missing, disabled or
// full (private windows, quotas, a browser's settings), and none of that
// may break a lesson: reads then return null and writes do nothing.

// load returns the JSON value stored under key, or null.
export function load(key) {
  try {
    const text = window.localStorage.getItem(key);
    return text == null ? null : JSON.parse(text);
  } catch {
    return null;
  }
}

// save stores value under key as JSON.
export function save(key, value) {
  try {
    window.localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage is full or unavailable: the edit lives on in the editor.
  }
}

// remove forgets key.
export function remove(key) {
  try {
    window.localStorage.removeItem(key);
  } catch {
    // Nothing to forget when storage is unavailable.
  }
}
