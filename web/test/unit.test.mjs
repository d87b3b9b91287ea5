// Unit tests of the page's pure functions: npm test (node --test).

import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { Text } from '@codemirror/state';
import { ordinal } from '../src/output.js';
import { exitStats, exitWords, runWords, summaryWords, clock } from '../src/words.js';
import { parseCaption, claimWords, patternWords, expectedNumber } from '../src/expect.js';
import { foldDump, hasDump, dumpStart } from '../src/dump.js';
import { spread, sortOutcomes, outputLabel } from '../src/summary.js';
import { raceKey, stuckWords } from '../src/teach.js';
import { encodeFiles, decodeFiles, parseShare, shareLink, asOneFile, maxPayload } from '../src/share.js';
import { explain, colourOf } from '../src/views.js';
import { isLast, wsURL } from '../src/protocol.js';
import { placeModules } from '../src/styles.js';
import { diagnostic } from '../src/editor.js';
import { setupLiveReload } from '../src/live.js';
import { makeEditorsLazily, nearView, idleWait } from '../src/lazy.js';
import { fmtNs, Names, edgeWords, edgeLabel, groupEdges, timeScale, stateShares, endingEdge, marksOf } from '../src/timeline.js';

test('ordinal', () => {
  const cases = { 1: '1st', 2: '2nd', 3: '3rd', 4: '4th', 11: '11th', 12: '12th', 13: '13th', 21: '21st', 102: '102nd', 111: '111th' };
  for (const [n, want] of Object.entries(cases)) {
    assert.equal(ordinal(Number(n)), want, `ordinal(${n})`);
  }
});

test('exitStats', () => {
  assert.equal(exitStats({ reason: 'exited', ms: 37, cpu_ms: 12, peak_bytes: 4.5 * (1 << 20) }), '37 ms wall · 12 ms CPU · 4.5 MiB peak memory');
  assert.equal(exitStats({ reason: 'exited', ms: 2 }), '2 ms wall');
  assert.equal(exitStats({}), '0 ms wall');
  // Only when something of the learner's ran.
  assert.equal(exitStats({ reason: 'build-failed', ms: 300 }), '');
  assert.equal(exitStats({ reason: 'exited', ms: 300 }, 'asm'), '');
  assert.equal(exitStats({ reason: 'exited', ms: 300 }, 'vet'), '');
  assert.equal(exitStats({ reason: 'canceled' }, 'run'), '');
  assert.equal(exitStats({ reason: 'exited', ms: 9 }, 'test'), '9 ms wall');
});

test('exitWords', () => {
  const cases = [
    [{ reason: 'exited', code: 0 }, { mode: 'run' }, /^The program finished normally\.$/],
    [{ reason: 'exited', code: 0 }, { mode: 'race' }, /no data race/],
    [{ reason: 'exited', code: 66 }, { mode: 'race', races: 2 }, /^The race detector found 2 data races: .*status 66\. The report is below\.$/],
    [{ reason: 'exited', code: 1 }, { mode: 'test' }, /^A test failed/],
    [{ reason: 'exited', code: 1 }, { mode: 'test', races: 1 }, /^A test failed: the race detector found a data race/],
    [{ reason: 'exited', code: 0 }, { mode: 'test' }, /^The tests passed/],
    [{ reason: 'exited', code: 2 }, { mode: 'test', stderr: 'panic: runtime error: index out of range [1]\n' }, /^A test panicked: runtime error: index out of range \[1\]\. A panic stops all the tests/],
    [{ reason: 'exited', code: 2 }, { mode: 'run', cause: 'deadlock' }, /^Deadlock: every goroutine was blocked.*exit status 2\)\. Below/],
    [{ reason: 'exited', code: 2 }, { mode: 'run', stderr: 'x\npanic: assignment to entry in nil map\n\ngoroutine 1' }, /^The program panicked: assignment to entry in nil map \(exit status 2\)\.$/],
    [{ reason: 'exited', code: 2 }, { mode: 'run', stderr: 'fatal error: concurrent map writes\n' }, /^The Go runtime stopped the program: concurrent map writes/],
    [{ reason: 'exited', code: 3 }, { mode: 'run' }, /^The program exited with status 3\.$/],
    [{ reason: 'build-failed', code: 1 }, { errors: 2 }, /^The build failed, so nothing ran: 2 errors, marked on their lines\.$/],
    [{ reason: 'timeout', code: 2, ms: 10040 }, { mode: 'run', cause: 'timeout' }, /^The program was still running at the time limit after 10 s and stopped\. Below: where each goroutine was waiting\.$/],
    [{ reason: 'killed', code: 137 }, {}, /SIGKILL \(exit status 137\)/],
    [{ reason: 'memory', code: 137, peak_bytes: 64 << 20 }, {}, /more memory than a run may \(64\.0 MiB at its peak\)/],
    [{ reason: 'canceled', code: 0 }, {}, /^Stopped before it finished\.$/],
    [{ reason: 'something-new', code: 0, msg: 'the server says so' }, {}, /^the server says so$/],
    [{ reason: 'exited', code: 0 }, { mode: 'asm' }, /^The assembly listing is ready; nothing ran\.$/],
  ];
  for (const [ev, ctx, want] of cases) {
    const got = exitWords(ev, ctx);
    assert.match(got, want, `exitWords(${JSON.stringify(ev)}, ${JSON.stringify(ctx)})`);
    assert.doesNotMatch(got, /above/, 'the output is below the status line');
  }
});

test('runWords, summaryWords, clock', () => {
  assert.equal(runWords({ reason: 'exited', code: 66 }, 2), 'exit 66, 2 race reports');
  assert.equal(runWords({ reason: 'timeout', code: 2 }, 0), 'timed out');
  assert.equal(summaryWords({ runs: 20, races: 20, reasons: { exited: 20 } }), '20 runs finished: every one reported a data race.');
  assert.equal(summaryWords({ runs: 5, races: 0, reasons: { exited: 4, timeout: 1 } }), '5 runs finished: 1 did not end by themselves.');
  assert.equal(summaryWords({ runs: 0 }), 'Stopped before any run finished.');
  assert.equal(clock(7.4), '7 s');
  assert.equal(clock(65), '1 min 05 s');
  assert.equal(clock(-3), '0 s');
});

test('parseCaption and claimWords', () => {
  // Captions as lessons/expect.go writes them.
  const cases = [
    ['Expected: a data race is reported, exit status 66', [['race', ''], ['exit', '66']]],
    ['Expected output: waiting for a value...; Expected: the program deadlocks, exit status 2; Expected on stderr: goroutine 1 \\[chan receive\\]',
      [['output', 'waiting for a value...'], ['deadlock', ''], ['exit', '2'], ['stderr', 'goroutine 1 \\[chan receive\\]']]],
    ['Expected: exit status 0, at least 3 different outputs across the runs, at least one of the runs prints output matching total = 1[0-9]{6}',
      [['exit', '0'], ['outputs', '3'], ['some-output', 'total = 1[0-9]{6}']]],
    ['Expected: output matching a: [1-9][0-9]*, b: [1-9], at least 2 different outputs across the runs',
      [['output-match', 'a: [1-9][0-9]*, b: [1-9]'], ['outputs', '2']]],
    ['Expected in the assembly: LOCK XADDQ, RET', [['asm', 'LOCK XADDQ, RET']]],
    ['Expected: no output', [['no-output', '']]],
    ['Expected: no data race; Expected output: counter = 2000', [['no-race', ''], ['output', 'counter = 2000']]],
    ['Expected: the test passes', [['words', 'the test passes']]],
  ];
  for (const [caption, want] of cases) {
    assert.deepEqual(parseCaption(caption).map((c) => [c.kind, c.value]), want, caption);
  }
  // A traced cell's edge claim (lessons/expect.go) is a group of its own.
  const traced = parseCaption('Expected: output matching ^main: sending\\n; Expected in the timeline: the receive at line 16 unblocks the send at line 19');
  assert.deepEqual(traced.map((c) => [c.kind, c.value]), [['output-match', '^main: sending\\n'], ['edge', 'the receive at line 16 unblocks the send at line 19']]);
  assert.equal(claimWords(traced[1]).text, 'the timeline shows that the receive at line 16 unblocks the send at line 19');
  assert.equal(claimWords({ kind: 'stderr', value: 'goroutine 1 \\[chan receive\\]' }).text, 'its standard error shows “goroutine 1 [chan receive]”');
  assert.equal(claimWords({ kind: 'exit', value: '66' }).text, 'it exits with status 66 (what the race detector exits with when it found a race)');
  assert.equal(claimWords({ kind: 'exit', value: '1' }, 'test').text, 'it exits with status 1 (a test failed)');
  const some = claimWords({ kind: 'some-output', value: 'total = 1[0-9]{6}' });
  assert.equal(some.text, 'at least one of the runs prints “total = 1######”');
  assert.equal(some.legend, '# a digit');
  const hard = claimWords({ kind: 'output-match', value: '^(stored (signup|login)\\n){2}wait' });
  assert.equal(hard.pattern, '^(stored (signup|login)\\n){2}wait', 'a repeated group is shown as the pattern');
  assert.equal(expectedNumber(parseCaption('Expected: no data race; Expected output: counter = 2000')), 2000);
  assert.equal(expectedNumber(parseCaption('Expected output: 1 and 2')), null);
});

test('patternWords', () => {
  const cases = {
    'goroutine 1 \\[select \\(no cases\\)\\]': 'goroutine 1 [select (no cases)]',
    'goroutine 1 .*\\[select \\(no cases\\)\\]': 'goroutine 1 …[select (no cases)]',
    'total = 1[0-9]{6}': 'total = 1######',
    'torn read after [0-9]+ calls': 'torn read after N calls',
    'a: [1-9][0-9]*, b: [1-9]': 'a: N, b: #',
    'the bank holds (99|101)': 'the bank holds 99 or 101',
    '^main: sending\nreceiver: ready\nmain: send returned after [2-9]00ms': 'main: sending\nreceiver: ready\nmain: send returned after #00ms',
    'counter = 1\\d{3}\\n': 'counter = 1###',
    '(?m)^counter = \\d+$': 'counter = N',
    'Previous write at .* by goroutine': 'Previous write at … by goroutine',
    'CALL .*lockSlow': 'CALL …lockSlow',
    '^(r1=0 r2=0: [0-9]+\\n?)?(r1=1 r2=1: [0-9]+\\n?)?$': null,
    '(?=x)': null,
    'a\\': null,
  };
  for (const [re, want] of Object.entries(cases)) assert.equal(patternWords(re), want, `patternWords(${JSON.stringify(re)})`);
});

// A timeout's dump, cut from a real one (go1.26, linux/amd64).
const sigquit = `SIGQUIT: quit
PC=0x40858e m=0 sigcode=0

goroutine 0 gp=0x55d0c0 m=0 mp=0x55de80 [idle]:
runtime.netpoll(0x29e1be59c020?)
	/usr/local/go/src/runtime/netpoll_epoll.go:119 +0xd4 fp=0x7fffcf478fa0 sp=0x7fffcf478910 pc=0x442354
runtime.mcall()
	/usr/local/go/src/runtime/asm_amd64.s:496 +0x55 fp=0x7fffcf479228 sp=0x7fffcf479210 pc=0x47cdd5

goroutine 1 gp=0x29e1be58c1e0 m=nil [select (no cases)]:
runtime.gopark(0x4527c0?, 0x4b6ba8?, 0xe0?, 0xc1?, 0x48ca9a?)
	/usr/local/go/src/runtime/proc.go:462 +0xce fp=0x29e1be5ecef0 sp=0x29e1be5eced0 pc=0x478bce
main.main()
	/work/main.go:11 +0x1f fp=0x29e1be5ecf38 sp=0x29e1be5ecf20 pc=0x48ca9f
runtime.main()
	/usr/local/go/src/runtime/proc.go:290 +0x2d5 fp=0x29e1be5ecfe0 sp=0x29e1be5ecf48 pc=0x448915

goroutine 2 gp=0x29e1be58c780 m=nil [force gc (idle)]:
runtime.goparkunlock(...)
	/usr/local/go/src/runtime/proc.go:468
runtime.forcegchelper()
	/usr/local/go/src/runtime/proc.go:375 +0xb3 fp=0x29e1be5b6fe0 sp=0x29e1be5b6fa8 pc=0x448c33
created by runtime.init.7 in goroutine 1
	/usr/local/go/src/runtime/proc.go:363 +0x1a

goroutine 7 gp=0x29e1be58d860 m=nil [sleep]:
time.Sleep(0xf4240)
	/usr/local/go/src/runtime/time.go:363 +0x165 fp=0x29e1be5b8fc8 sp=0x29e1be5b8f70 pc=0x47b585
main.main.func1()
	/work/main.go:8 +0x18 fp=0x29e1be5b8fe0 sp=0x29e1be5b8fc8 pc=0x48cf78
created by main.main in goroutine 1
	/work/main.go:6 +0x1a

rax    0xfffffffffffffffc
rbx    0x3
r15    0x1
rip    0x40858e
rflags 0x246
cs     0x33
fs     0x0
gs     0x0
`;

test('foldDump', () => {
  assert.ok(hasDump(sigquit));
  const segs = foldDump(sigquit);
  assert.equal(segs.map((s) => s.text).join(''), sigquit, 'the segments hold the whole text');
  const shown = segs.filter((s) => !s.hidden).map((s) => s.text).join('');
  const hidden = segs.filter((s) => s.hidden).map((s) => s.text).join('');
  for (const keep of ['SIGQUIT: quit\n', 'goroutine 1 gp=0x29e1be58c1e0 m=nil [select (no cases)]:\n', 'main.main()\n\t/work/main.go:11', 'goroutine 7 ', 'time.Sleep(0xf4240)', 'main.main.func1()', 'created by main.main in goroutine 1']) {
    assert.ok(shown.includes(keep), `shows ${JSON.stringify(keep)}:\n${shown}`);
  }
  for (const hide of ['rax    0x', 'rflags', 'PC=0x40858e', 'runtime.gopark(', 'goroutine 0 ', 'goroutine 2 ', 'runtime.forcegchelper', 'created by runtime.init.7']) {
    assert.ok(hidden.includes(hide) && !shown.includes(hide), `hides ${JSON.stringify(hide)}`);
  }
  const deadlock = 'fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 [chan receive]:\nmain.main()\n\t/tmp/x/main.go:10 +0x25\nexit status 2\n';
  assert.deepEqual(foldDump(deadlock), [{ text: deadlock, hidden: false }], 'a deadlock without runtime frames stays whole');
  assert.deepEqual(foldDump('hello\n'), [{ text: 'hello\n', hidden: false }]);
  assert.equal(dumpStart('line\n==================\nWARNING: DATA RACE\nRead at'), 5);
  assert.equal(dumpStart('a\npanic: boom\n'), 2);
  assert.equal(dumpStart('all is well\n'), -1);
});

test('summary helpers', () => {
  assert.deepEqual(spread([5, 1, 3, 2]), { min: 1, median: 2.5, max: 5, sorted: [1, 2, 3, 5] });
  assert.equal(spread([]), null);
  const sorted = sortOutcomes([{ output: 'total = 10', count: 1 }, { output: 'total = 9', count: 1 }, { output: 'total = 100', count: 3 }]);
  assert.deepEqual(sorted.map((o) => o.output), ['total = 100', 'total = 9', 'total = 10'], 'by count, then numbers as numbers');
  assert.equal(outputLabel(''), '(no output)');
  assert.equal(outputLabel('a\nb\nc\nd'), 'a\nb\nc…');
});

test('raceKey groups a pair of accesses whichever came first', () => {
  const acc = (op, line) => ({ op, stack: [{ func: 'runtime.x', file: '/go/x.go', line: 1 }, { func: 'main.f', file: 'main.go', line, user: true }] });
  const a = { accesses: [acc('write', 9), acc('read', 13)] };
  const b = { accesses: [acc('read', 13), acc('write', 9)] };
  const c = { accesses: [acc('write', 10), acc('read', 13)] };
  assert.equal(raceKey(a), raceKey(b));
  assert.notEqual(raceKey(a), raceKey(c));
});

test('share links', async () => {
  const files = { 'main.go': 'package main\n\nfunc main() { println("é ✓") }\n', 'x_test.go': 'package main\n' };
  const loc = { origin: 'http://127.0.0.1:8080', pathname: '/lessons/first-race' };
  const link = await shareLink(loc, 'first-race-2', files);
  assert.match(link, /^http:\/\/127\.0\.0\.1:8080\/lessons\/first-race#share=first-race-2\.z[A-Za-z0-9_-]+$/);
  const share = parseShare(link.slice(link.indexOf('#')));
  assert.equal(share.cell, 'first-race-2');
  assert.deepEqual(await decodeFiles(share.kind, share.data), files);
  // Too long even compressed: random text does not compress.
  let noise = '';
  for (let i = 0, x = 1; i < 8000; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    noise += String.fromCharCode(33 + (x >> 16) % 90);
  }
  await assert.rejects(shareLink(loc, 'c', { 'main.go': noise }), (e) => e.tooLong && /too long to share as a link/.test(e.message));
  assert.ok((await encodeFiles({ 'main.go': 'x'.repeat(50000) })).length < maxPayload, 'repetitive code compresses');
  assert.equal(parseShare('#share=bad'), null);
  await assert.rejects(decodeFiles('p', 'WzFd'), /not a set of files/);
  assert.equal(asOneFile(files, ['main.go']), files['main.go']);
  assert.equal(asOneFile({ 'a.go': 'A', 'b.go': 'B\n' }, ['a.go', 'b.go']), '-- a.go --\nA\n-- b.go --\nB\n');
});

test('explain and colourOf', () => {
  assert.match(explain('LOCK XADDQ AX, (CX)'), /atomically/);
  assert.match(explain('XCHGQ AX, (BX)'), /atomically/);
  assert.equal(explain('XCHGL AX, AX'), '');
  assert.match(explain('LDADDALD R1, (R0), R2'), /arm64/);
  assert.match(explain('CALL runtime.chansend1(SB)'), /send on a channel/);
  for (let line = 1; line < 40; line++) {
    for (let d = 1; d < 8; d++) assert.notEqual(colourOf(line), colourOf(line + d), `lines ${line} and ${line + d} share a colour`);
  }
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

test('timeline: fmtNs', () => {
  const cases = [[0, '0 ns'], [850, '850 ns'], [12_500, '12.5 µs'], [3_210_000, '3.21 ms'], [51_300_000, '51.3 ms'], [1_250_000_000, '1.25 s'], [-5, '0 ns'], [undefined, '0 ns']];
  for (const [ns, want] of cases) assert.equal(fmtNs(ns), want, `fmtNs(${ns})`);
});

const handOffTL = {
  duration_ns: 1000,
  goroutines: [
    { id: 1, name: 'main', spans: [{ start_ns: 0, end_ns: 1000, state: 'running' }] },
    { id: 7, name: 'worker', created: { file: 'main.go', line: 12 }, parent: 1,
      spans: [{ start_ns: 10, end_ns: 500, state: 'blocked', reason: 'chan receive', at: { file: 'main.go', line: 6 } }] },
    { id: 8, name: 'worker', created: { file: 'main.go', line: 12 }, parent: 1 },
    { id: -1, name: 'worker', created: { file: 'main.go', line: 12 }, parent: 1, count: 300, states: { blocked: 300, running: 100 } },
  ],
  edges: [
    { at_ns: 500, from: 1, to: 7, from_op: 'send', to_op: 'receive', from_at: { file: 'main.go', line: 9 }, to_at: { file: 'main.go', line: 6 } },
    { at_ns: 600, from: 1, to: 8, from_op: 'send', to_op: 'receive', from_at: { file: 'main.go', line: 9 }, to_at: { file: 'main.go', line: 6 } },
    { at_ns: 700, from: 1, to: -1, from_op: 'close', to_op: 'receive', from_at: { file: 'main.go', line: 10 } },
    { at_ns: 800, from: 1, to: -1, from_op: 'close', to_op: 'receive', from_at: { file: 'main.go', line: 10 } },
    { at_ns: 900, from: 99, to: 1, from_op: 'Unlock', to_op: 'Lock' },
  ],
};

test('timeline: names and edge words', () => {
  const names = new Names(handOffTL);
  const words = handOffTL.edges.map((e) => edgeWords(e, names));
  assert.deepEqual(words, [
    "main's send at line 9 unblocked worker #1's receive at line 6",
    "main's send at line 9 unblocked worker #2's receive at line 6",
    "main's close at line 10 unblocked worker (one of 300)'s receive",
    "main's close at line 10 unblocked worker (one of 300)'s receive",
    "goroutine 99's Unlock unblocked main's Lock",
  ]);
  assert.equal(names.laneTitle(handOffTL.goroutines[3]), 'worker ×300');
  assert.equal(names.created(handOffTL.goroutines[0]), '');
  assert.equal(names.created(handOffTL.goroutines[1]), 'created at line 12');
  assert.equal(edgeLabel(handOffTL.edges[4]), 'Unlock \u2192 Lock');
  // Among several files, places name theirs.
  const two = new Names({ goroutines: [], edges: [{ from: 1, to: 2, from_at: { file: 'a.go', line: 3 }, to_at: { file: 'b.go', line: 4 } }] });
  assert.equal(two.place({ file: 'a.go', line: 3 }), 'a.go:3');
  assert.equal(two.place(null), 'outside your code');
});

test('timeline: groupEdges', () => {
  const g = groupEdges(handOffTL.edges);
  assert.deepEqual(g.map((x) => x.count), [1, 1, 2, 1]);
  assert.equal(g[2].edge, handOffTL.edges[2]);
  assert.deepEqual(groupEdges(undefined), []);
});

test('timeline: timeScale keeps order and ends', () => {
  const tl = { duration_ns: 50_000_000, goroutines: [{ id: 1, spans: [
    { start_ns: 0, end_ns: 40_000 }, { start_ns: 40_000, end_ns: 50_000_000 - 2_000 }, { start_ns: 50_000_000 - 2_000, end_ns: 50_000_000 }] }],
  edges: [{ at_ns: 50_000_000 - 1_000 }] };
  for (const toScale of [false, true]) {
    const x = timeScale(tl, toScale);
    assert.equal(x(0), 0);
    assert.equal(x(50_000_000), 1);
    assert.equal(x(-3), 0);
    assert.equal(x(60_000_000), 1);
    let last = -1;
    for (const t of [0, 10_000, 40_000, 1_000_000, 49_998_000, 49_999_000, 50_000_000]) {
      assert.ok(x(t) >= last, `x(${t}) = ${x(t)} after ${last} (to scale: ${toScale})`);
      last = x(t);
    }
  }
  // Shortened, a microsecond after a long sleep is set apart from it.
  const short = timeScale(tl, false);
  assert.ok(short(50_000_000) - short(49_998_000) > 0.05, 'the last two microseconds get room');
  assert.ok(timeScale(tl, true)(50_000_000) - timeScale(tl, true)(49_998_000) < 0.001);
});

test('timeline: stateShares, endingEdge, marksOf', () => {
  assert.equal(stateShares({ blocked: 300, running: 100 }), 'running 25% (100 ns) · blocked 75% (300 ns)');
  assert.equal(stateShares({}), 'no time recorded');
  const names = new Names(handOffTL);
  const blocked = handOffTL.goroutines[1].spans[0];
  const e = endingEdge(handOffTL.edges, 7, blocked);
  assert.equal(e, handOffTL.edges[0]);
  assert.equal(endingEdge(handOffTL.edges, 8, blocked), null);
  const marks = marksOf(names, e, blocked, 7);
  assert.deepEqual(marks.map((m) => [m.kind, m.line]), [['tl-from', 9], ['tl-to', 6]]);
  assert.deepEqual(marksOf(names, null, blocked, 7).map((m) => [m.kind, m.line]), [['tl-to', 6]]);
  assert.deepEqual(marksOf(names, handOffTL.edges[4]), []);
});

test('timeline: the list speaks of many lanes of one name together', () => {
  const lanes = [{ id: 1, name: 'main' }];
  const edges = [];
  for (let i = 0; i < 9; i++) {
    lanes.push({ id: 10 + i, name: 'worker', created: { file: 'main.go', line: 5 }, parent: 1 });
    edges.push({ at_ns: i, from: 10 + i, to: 1, from_op: 'send', to_op: 'receive', from_at: { file: 'main.go', line: 7 }, to_at: { file: 'main.go', line: 12 } });
  }
  const names = new Names({ goroutines: lanes, edges });
  assert.equal(names.lane(12), 'worker #3');
  assert.equal(edgeWords(edges[2], names), "worker #3's send at line 7 unblocked main's receive at line 12");
  assert.equal(edgeWords(edges[2], names, true), "worker (one of 9)'s send at line 7 unblocked main's receive at line 12");
  const groups = groupEdges(edges, (e) => edgeWords(e, names, true));
  assert.equal(groups.length, 1);
  assert.equal(groups[0].count, 9);
  assert.deepEqual([...groups[0].members], [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  // Up to maxNamedLanes (8) of them, each is listed by its own name.
  const few = new Names({ goroutines: lanes.slice(0, 9), edges });
  assert.equal(edgeWords(edges[2], few, true), "worker #3's send at line 7 unblocked main's receive at line 12");
});

test('stuckWords', () => {
  assert.equal(stuckWords({ id: 1, state: 'select (no cases)', top: { file: 'main.go', line: 11, func: 'main.main' } }),
    'goroutine 1: select (no cases) at main.go:11 in main.main');
  assert.equal(stuckWords({ id: 5, state: 'chan send', wait: '2 minutes' }),
    'goroutine 5: chan send, 2 minutes at outside your code');
  assert.equal(stuckWords({ id: 1, state: 'running', elsewhere: true, stack: [] }),
    'goroutine 1: running on another thread; the runtime could not stop it in time to read where');
});

// A page for makeEditorsLazily: cells at given tops (px, 100 high) in a
// 900-pixel view, an IntersectionObserver and an idle queue the test
// drives by hand.
function lazyPage(tops, { failing = [] } = {}) {
  const log = [];
  const idle = [];
  const observers = [];
  const win = {
    innerHeight: 900,
    requestIdleCallback: (fn, opts) => idle.push({ fn, opts }),
    IntersectionObserver: class {
      constructor(cb, opts) {
        this.cb = cb;
        this.opts = opts;
        this.watched = new Set();
        this.disconnected = false;
        observers.push(this);
      }
      observe(el) { this.watched.add(el); }
      unobserve(el) { this.watched.delete(el); }
      disconnect() { this.watched.clear(); this.disconnected = true; }
    },
  };
  const cells = tops.map((top, i) => {
    const cell = {
      fig: { top, getBoundingClientRect: () => ({ top, bottom: top + 100 }) },
      made: false,
      put: false,
      editorsMade() { return this.made; },
      makeEditors() {
        if (failing.includes(i)) throw new Error(`cell ${i} is broken`);
        this.made = true;
        log.push(`make ${i}`);
      },
      putEditors() {
        this.put = true;
        log.push(`put ${i}`);
      },
    };
    return cell;
  });
  return { win, cells, log, idle, observers };
}

test('lazy editors: the first screen at once, then near the view, then idle time', async () => {
  const { win, cells, log, idle, observers } = lazyPage([0, 500, 1000, 2000, 3000]);
  const broken = [];
  let settled = false;
  const done = makeEditorsLazily(cells, (c, err) => broken.push(err.message), win).then(() => { settled = true; });
  // The two cells on screen: both made before either is put in.
  assert.deepEqual(log, ['make 0', 'make 1', 'put 0', 'put 1']);
  assert.equal(observers.length, 1);
  assert.equal(observers[0].opts.rootMargin, `${nearView * 100}% 0px`);
  assert.deepEqual([...observers[0].watched].map((f) => f.top), [1000, 2000, 3000]);
  assert.equal(idle.length, 1);
  assert.equal(idle[0].opts.timeout, idleWait);
  // Scrolling brings two cells near the view.
  log.length = 0;
  observers[0].cb([{ target: cells[3].fig, isIntersecting: true }, { target: cells[2].fig, isIntersecting: true },
    { target: cells[4].fig, isIntersecting: false }]);
  assert.deepEqual(log, ['make 3', 'make 2', 'put 3', 'put 2']);
  assert.deepEqual([...observers[0].watched].map((f) => f.top), [3000]);
  // The learner reaches for the last one itself; the idle turn then ends.
  cells[4].made = true;
  log.length = 0;
  idle.shift().fn();
  assert.deepEqual(log, []);
  assert.equal(idle.length, 0);
  await done;
  assert.ok(settled);
  assert.ok(observers[0].disconnected);
  assert.deepEqual(broken, []);
});

test('lazy editors: idle time makes one cell a turn, in the page\'s order; a broken cell is left', async () => {
  const { win, cells, log, idle } = lazyPage([0, 1000, 2000, 3000], { failing: [2] });
  delete win.IntersectionObserver;
  const broken = [];
  const done = makeEditorsLazily(cells, (c, err) => broken.push(err.message), win);
  assert.deepEqual(log, ['make 0', 'put 0']);
  const turns = [];
  while (idle.length > 0) {
    log.length = 0;
    idle.shift().fn();
    turns.push(log.join(', '));
  }
  assert.deepEqual(turns, ['make 1, put 1', '', 'make 3, put 3']);
  assert.deepEqual(broken, ['cell 2 is broken']);
  assert.ok(!cells[2].made);
  await done;
});

test('lazy editors: without requestIdleCallback a timer does, and a page with every editor made ends at once', async () => {
  const { win, cells, log } = lazyPage([0, 2000]);
  delete win.requestIdleCallback;
  const timers = [];
  win.setTimeout = (fn, ms) => timers.push({ fn, ms });
  const done = makeEditorsLazily(cells, () => {}, win);
  assert.equal(timers.length, 1);
  timers[0].fn();
  assert.deepEqual(log, ['make 0', 'put 0', 'make 1', 'put 1']);
  await done;
  const all = lazyPage([0, 100]);
  await makeEditorsLazily(all.cells, () => {}, all.win);
  assert.equal(all.idle.length, 0);
  assert.equal(all.observers.length, 0);
});
