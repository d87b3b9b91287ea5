// Sharing a cell's code without storing anything on the server: the
// files go into the link's fragment (#share=<cell>.<payload>), which the
// browser never sends. The payload is the files as JSON, compressed with
// the browser's own CompressionStream('deflate-raw') and written in
// base64url ('z' first); a browser without it writes the JSON plainly
// ('p' first). Opening the lesson with such a link puts the code into
// that cell's editor.

// The longest payload a link may carry: links far longer than this break
// in chat programs and mail, and the code is better copied as a file.
export const maxPayload = 6000;

const shareRE = /^#share=([a-z0-9_-]+)\.([zp])([A-Za-z0-9_-]*)$/;

export function toBase64url(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromBase64url(s) {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

async function through(bytes, stream) {
  const out = new Response(new Blob([bytes]).stream().pipeThrough(stream));
  return new Uint8Array(await out.arrayBuffer());
}

// encodeFiles returns the payload of a link for files.
export async function encodeFiles(files) {
  const json = new TextEncoder().encode(JSON.stringify(files));
  if (typeof CompressionStream !== 'function') return `p${toBase64url(json)}`;
  return `z${toBase64url(await through(json, new CompressionStream('deflate-raw')))}`;
}

// decodeFiles reads a payload back into files ({name: text}), or throws.
export async function decodeFiles(kind, data) {
  let bytes = fromBase64url(data);
  if (kind === 'z') bytes = await through(bytes, new DecompressionStream('deflate-raw'));
  const files = JSON.parse(new TextDecoder().decode(bytes));
  if (!files || typeof files !== 'object' || Array.isArray(files)) throw new Error('not a set of files');
  for (const v of Object.values(files)) if (typeof v !== 'string') throw new Error('not a set of files');
  return files;
}

// parseShare reads a location's fragment: {cell, kind, data}, or null.
export function parseShare(hash) {
  const m = shareRE.exec(hash || '');
  return m ? { cell: m[1], kind: m[2], data: m[3] } : null;
}

// shareLink returns the link that opens loc's page with files in cell,
// or throws a learner-readable error when it would be too long.
export async function shareLink(loc, cell, files) {
  const payload = await encodeFiles(files);
  if (payload.length > maxPayload) {
    const e = new Error(`This code is too long to share as a link: it takes ${payload.length.toLocaleString('en')} characters, and a link holds at most ${maxPayload.toLocaleString('en')}. Use “Copy as a file” instead.`);
    e.tooLong = true;
    throw e;
  }
  return `${loc.origin}${loc.pathname}#share=${cell}.${payload}`;
}

// asOneFile writes files as one text: a single file as it is, several in
// the txtar form the Go Playground (and racelab's lessons) read.
export function asOneFile(files, names) {
  if (names.length === 1) return files[names[0]];
  return names.map((n) => `-- ${n} --\n${files[n].endsWith('\n') ? files[n] : `${files[n]}\n`}`).join('');
}

// copyText puts text on the clipboard, and reports whether it could.
async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

// sharePanel makes the panel the Share button opens under a cell's
// toolbar: the link (to copy), Copy link and Copy as a file, and a line
// that says what happened. files() gives the files to share, names()
// their order. open() fills it in and shows it.
export function sharePanel(el, cellId, files, names) {
  const root = el('div', 'cell-share');
  root.hidden = true;
  const input = el('input', 'share-link');
  input.type = 'text';
  input.readOnly = true;
  input.setAttribute('aria-label', 'Link to this code');
  const copy = el('button', 'cell-btn share-copy', 'Copy link');
  const file = el('button', 'cell-btn share-file', 'Copy as a file');
  file.title = 'Copy the code as one file (several files in the txtar form the Go Playground reads)';
  const close = el('button', 'cell-btn share-close', 'Close');
  for (const b of [copy, file, close]) b.type = 'button';
  const msg = el('p', 'share-msg');
  msg.setAttribute('role', 'status');
  const text = el('textarea', 'share-text');
  text.readOnly = true;
  text.hidden = true;
  text.setAttribute('aria-label', 'The code as one file');
  const row = el('div', 'share-row');
  row.append(input, copy, file, close);
  root.append(row, msg, text);
  const say = (s) => { msg.textContent = s; };
  copy.addEventListener('click', async () => {
    if (!input.value) return;
    input.select();
    say(await copyText(input.value) ? 'The link is copied.' : 'Select the link and copy it (your browser did not let the page do it).');
  });
  file.addEventListener('click', async () => {
    const t = asOneFile(files(), names());
    text.value = t;
    if (await copyText(t)) {
      text.hidden = true;
      say('The code is copied as one file.');
    } else {
      text.hidden = false;
      text.select();
      say('Select the code below and copy it (your browser did not let the page do it).');
    }
  });
  close.addEventListener('click', () => { root.hidden = true; });
  const open = async () => {
    root.hidden = false;
    text.hidden = true;
    input.value = '';
    copy.disabled = true;
    say('Making the link…');
    try {
      input.value = await shareLink(window.location, cellId, files());
      copy.disabled = false;
      input.focus();
      input.select();
      say(`Anyone who opens this link sees this lesson with your code in this cell (${input.value.length.toLocaleString('en')} characters; nothing is stored on the server).`);
    } catch (err) {
      say(err.tooLong ? err.message : `The link could not be made: ${err.message}`);
      file.focus();
    }
  };
  return { root, open };
}
