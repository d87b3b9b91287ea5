// CodeMirror writes its styles through style-mod, which adopts a
// constructed stylesheet (CSSStyleSheet + adoptedStyleSheets) only inside
// a shadow root; in a plain document it writes a <style> element instead,
// and the page's Content-Security-Policy (style-src 'self', no nonce,
// since pages are rendered once and served from memory) blocks that.
// Constructed stylesheets are not subject to CSP, so for the document we
// mount the modules into one constructed sheet ourselves, in the same
// order style-mod would. Browsers without constructed stylesheets keep
// style-mod's own behaviour (and would need 'unsafe-inline' to style the
// editor).

import { StyleModule } from 'style-mod';

// adoptEditorStyles replaces StyleModule.mount for the document. It must
// run before the first EditorView is created.
export function adoptEditorStyles(doc = document) {
  if (!('adoptedStyleSheets' in doc) || typeof CSSStyleSheet !== 'function') return;
  let sheet;
  try {
    sheet = new CSSStyleSheet();
  } catch {
    return; // Constructable stylesheets unsupported after all.
  }
  const original = StyleModule.mount;
  const mounted = [];
  StyleModule.mount = function mount(root, modules, options) {
    if (root !== doc) return original.call(this, root, modules, options);
    if (placeModules(mounted, Array.isArray(modules) ? modules : [modules])) {
      sheet.replaceSync(mounted.map((m) => m.getRules()).join('\n'));
    }
    if (!doc.adoptedStyleSheets.includes(sheet)) {
      doc.adoptedStyleSheets = [sheet, ...doc.adoptedStyleSheets];
    }
    return undefined;
  };
}

// placeModules merges modules into mounted so that, as in style-mod, each
// module comes after those listed before it (later rules win), and
// reports whether mounted changed.
export function placeModules(mounted, modules) {
  let changed = false;
  let j = 0;
  for (const mod of modules) {
    let index = mounted.indexOf(mod);
    if (index > -1 && index < j) {
      mounted.splice(index, 1);
      j--;
      index = -1;
    }
    if (index === -1) {
      mounted.splice(j++, 0, mod);
      changed = true;
    } else {
      j = index + 1;
    }
  }
  return changed;
}
