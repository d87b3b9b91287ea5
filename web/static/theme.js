// The colour theme the learner chose: light, dark, or the system's (the
// default), kept in localStorage under racelab:theme. This small script
// is loaded plainly (not deferred) after the style sheets, so a chosen
// theme shows from the first paint; it is hand-written, not part of the
// bundle. It switches the site's own "prefers-color-scheme: dark" media
// rules (app.css, chroma.css) on or off through the CSSOM, which the
// Content-Security-Policy allows, and marks the root with data-theme.
// The editor listens for the racelab-theme event it fires.
(function () {
  'use strict';
  var key = 'racelab:theme';
  var root = document.documentElement;
  var original = new WeakMap();

  function stored() {
    try {
      var t = localStorage.getItem(key);
      return t === 'light' || t === 'dark' ? t : '';
    } catch (e) {
      return '';
    }
  }

  function walk(rules, theme) {
    for (var i = 0; i < rules.length; i++) {
      var r = rules[i];
      if (r.cssRules && r.media) {
        if (!original.has(r)) original.set(r, r.media.mediaText);
        var text = original.get(r);
        if (/prefers-color-scheme:\s*dark/.test(text)) {
          // Only a change is written: each write makes the browser work
          // out the page's styles again, and this runs before the first
          // paint of every page.
          var want = theme === 'dark' ? 'all' : theme === 'light' ? 'not all' : text;
          if (r.media.mediaText !== want) r.media.mediaText = want;
        }
      }
    }
  }

  function apply(theme) {
    if (theme) root.setAttribute('data-theme', theme);
    else root.removeAttribute('data-theme');
    for (var i = 0; i < document.styleSheets.length; i++) {
      var sheet = document.styleSheets[i];
      var rules;
      try {
        rules = sheet.cssRules;
      } catch (e) {
        continue; // another origin's sheet: not ours to change
      }
      if (rules) walk(rules, theme);
    }
  }

  function wire() {
    apply(stored());
    var select = document.getElementById('theme-select');
    if (!select) return;
    select.value = stored();
    select.addEventListener('change', function () {
      var theme = select.value === 'light' || select.value === 'dark' ? select.value : '';
      try {
        if (theme) localStorage.setItem(key, theme);
        else localStorage.removeItem(key);
      } catch (e) {
        // No storage: the choice lasts as long as the page.
      }
      apply(theme);
      document.dispatchEvent(new Event('racelab-theme'));
    });
  }

  root.classList.add('theme-js');
  apply(stored());
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', wire);
  else wire();
})();
