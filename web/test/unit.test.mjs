// Unit tests of the page's pure functions: npm test (node --test).

import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { Text } from '@codemirror/state';
import { ordinal, exitStats } from '../src/output.js';
import { isLast, wsURL } from '../src/protocol.js';
import { placeModules } from '../src/styles.js';
import { diagnostic } from '../src/editor.js';
import { setupLiveReload } from '../src/live.js';

test('ordinal', () => {
  const cases = { 1: '1st', 2: '2nd', 3: '3rd', 4: '4th', 11: '11th', 12: '12th', 13: '13th', 21: '21st', 102: '102nd', 111: '111th' };
  for (const [n, want] of Object.entries(cases)) {
    assert.equal(ordinal(Number(n)), want, `ordinal(${n})`);
  }
});

test('exitStats', () => {
  assert.equal(exitStats({ ms: 37, cpu_ms: 12, peak_bytes: 4.5 * (1 << 20) }), '37 ms wall · 12 ms CPU · 4.5 MiB peak memory');
  assert.equal(exitStats({ ms: 2 }), '2 ms wall');
  assert.equal(exitStats({}), '0 ms wall');
});

test('isLast agrees with sandbox.Event.Ends', () => {
  // The cases the Go side (web/ends_test.go) is held to as well.
  const cases = JSON.parse(readFileSync(new URL('../testdata/ends.json', import.meta.url), 'utf8'));
  assert.ok(cases.length > 0, 'testdata/ends.json has cases');
  for (const { name, event, repeat, ends } of cases) {
    assert.equal(isLast(event, repeat), ends, `${name}: isLast(${JSON.stringify(event)}, ${repeat})`);
  }
});

test('wsURL', () => {
  assert.equal(wsURL({ protocol: 'http:', host: 'localhost:8080' }), 'ws://localhost:8080/api/ws');
  assert.equal(wsURL({ protocol: 'https:', host: 'racelab.example' }), 'wss://racelab.example/api/ws');
});

test('placeModules keeps style-mod order', () => {
  const [a, b, c, d] = ['a', 'b', 'c', 'd'];
  const mounted = [];
  assert.equal(placeModules(mounted, [a, b, c]), true);
  assert.deepEqual(mounted, [a, b, c]);
  assert.equal(placeModules(mounted, [a, b, c]), false, 'mounting again changes nothing');
  assert.equal(placeModules(mounted, [d, b]), true);
  assert.deepEqual(mounted, [d, a, b, c], 'new modules go before the next known one');
  assert.equal(placeModules(mounted, [c, a]), true, 'a must now come after c');
  assert.deepEqual(mounted, [d, b, c, a]);
});

test('diagnostic', () => {
  const doc = Text.of(['package main', '', 'func main() {', '\tx := 1', '}']);
  const d = diagnostic(doc, { line: 4, col: 2, msg: 'declared and not used: x' });
  assert.equal(doc.sliceString(d.from, d.to), 'x');
  assert.equal(d.severity, 'error');
  assert.equal(d.message, 'declared and not used: x');
  const whole = diagnostic(doc, { line: 3, col: 0, msg: 'm' });
  assert.equal(doc.sliceString(whole.from, whole.to), 'func main() {');
  const past = diagnostic(doc, { line: 99, col: 5, msg: 'm' });
  assert.ok(past.from >= doc.line(5).from && past.to <= doc.length, 'a line past the end marks the last line');
  const empty = diagnostic(doc, { line: 2, col: 1, msg: 'm' });
  assert.ok(empty.from === empty.to && empty.from === doc.line(2).from, 'an empty line gets an empty range');
});

test('setupLiveReload', () => {
  const fakeDoc = (content) => ({ querySelector: () => (content == null ? null : { content }) });
  const fakeWin = () => {
    const win = { reloads: 0, location: { reload: () => { win.reloads++; } } };
    win.EventSource = class {
      constructor(url) { this.url = url; this.listeners = {}; this.closed = false; win.source = this; }
      addEventListener(type, fn) { this.listeners[type] = fn; }
      close() { this.closed = true; }
    };
    return win;
  };
  const quiet = fakeWin();
  assert.equal(setupLiveReload(fakeDoc(null), quiet), null, 'no meta: no EventSource');
  assert.equal(quiet.source, undefined);
  const live = fakeWin();
  const source = setupLiveReload(fakeDoc('1'), live);
  assert.equal(source.url, '/api/reload');
  assert.equal(live.reloads, 0);
  source.listeners.reload({ data: '2' });
  assert.equal(live.reloads, 1, 'reloads on a reload event');
  assert.ok(source.closed, 'closes the stream before reloading');
});
