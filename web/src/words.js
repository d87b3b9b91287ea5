// The page's words for how a run ended: the status line of an exit,
// written from what the page knows (the mode, the exit's reason and code,
// what the run printed and reported), with the server's msg as the
// fallback for what it does not know. Pure functions, unit-tested.

// Signals by number, for a status above 128 (128 + N).
const signals = { 1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 4: 'SIGILL', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE', 9: 'SIGKILL', 11: 'SIGSEGV', 13: 'SIGPIPE', 15: 'SIGTERM' };

// Modes that run what they build; the others (asm, vet, fmt) run no
// program of the learner's, so an exit of theirs has no timing to show.
export const runsProgram = new Set(['run', 'race', 'test', 'bench']);

function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

// firstLine returns the text after prefix on the first line that starts
// with it, cut to a readable length, or ''.
function firstLine(text, prefix) {
  const at = (text || '').search(new RegExp(`^${prefix}`, 'm'));
  if (at < 0) return '';
  const line = text.slice(at + prefix.length).split('\n', 1)[0].trim();
  return line.length > 120 ? `${line.slice(0, 119)}…` : line;
}

function who(mode) {
  if (mode === 'test') return 'The tests were';
  if (mode === 'bench') return 'The benchmarks were';
  return 'The program was';
}

// exitWords says how a run ended, in a sentence. ctx holds what the page
// saw of the run: mode, races (reports in this run), cause (of a
// goroutines event: deadlock, timeout, exit), stderr (its text), errors
// (compile errors or vet findings), hiddenErrors (some are in files the
// editor does not show).
export function exitWords(ev, ctx = {}) {
  const { mode = 'run', cause = '', errors = 0 } = ctx;
  const code = ev.code ?? 0;
  switch (ev.reason) {
    case 'exited':
      return exitedWords(code, ctx) || ev.msg || `The program exited with status ${code}.`;
    case 'build-failed':
      if (errors === 0) return 'The build failed, so nothing ran: the compiler\'s output is below.';
      return `The build failed, so nothing ran: ${plural(errors, 'error')}, ${ctx.hiddenErrors ? 'in the output below' : 'marked on their lines'}.`;
    case 'timeout': {
      const after = ev.ms > 0 ? ` after ${Math.round(ev.ms / 1000)} s` : '';
      const dump = cause === 'timeout' ? ' Below: where each goroutine was waiting.' : '';
      return `${who(mode)} still running at the time limit${after} and stopped.${dump}`;
    }
    case 'memory': {
      const peak = ev.peak_bytes > 0 ? ` (${mib(ev.peak_bytes)} at its peak)` : '';
      return `${who(mode)} stopped: it used more memory than a run may${peak}.`;
    }
    case 'output-limit':
      return `${who(mode)} stopped: it printed more than a run may. The output below is cut.`;
    case 'killed': {
      const sig = signals[code - 128];
      return sig ? `${who(mode)} killed by the signal ${sig} (exit status ${code}).` : `${who(mode)} killed by a signal (exit status ${code}).`;
    }
    case 'canceled':
      return 'Stopped before it finished.';
    default:
      return ev.msg || `The run ended (${ev.reason || 'for a reason this page does not know'}).`;
  }
}

// exitedWords explains an exit of the program itself, or returns '' for
// one the page has no better words for than the server's.
function exitedWords(code, { mode = 'run', races = 0, cause = '', stderr = '', errors = 0 }) {
  const found = races > 0 ? `the race detector found ${races === 1 ? 'a data race' : `${races} data races`}` : '';
  switch (mode) {
    case 'asm':
      return code === 0 ? 'The assembly listing is ready; nothing ran.' : '';
    case 'fmt':
      return code === 0 ? 'The files are formatted.' : '';
    case 'vet':
      if (code === 0) return 'go vet found no problems.';
      return errors > 0 ? '' : `go vet found problems (status ${code}): see its output below.`;
    case 'test':
      if (code === 0) return 'The tests passed, and the race detector found no data race.';
      if (code === 1 && found) return `A test failed: ${found} (reported below).`;
      if (code === 1) return 'A test failed: its output below says which and why.';
      if (code === 2 && firstLine(stderr, 'panic: ')) return `A test panicked: ${firstLine(stderr, 'panic: ')}. A panic stops all the tests (exit status 2).`;
      break;
    case 'bench':
      if (code === 0) return 'The benchmarks ran: their figures are below.';
      if (code === 1) return 'A benchmark failed: its output below says why.';
      break;
    default:
  }
  if (code === 0) return mode === 'race' ? 'The program finished, and the race detector found no data race.' : 'The program finished normally.';
  if (code === 66 && (mode === 'race' || found)) {
    return `${found ? found[0].toUpperCase() + found.slice(1) : 'The race detector found a data race'}: a program in which it finds one exits with status 66. The report is below.`;
  }
  if (code === 2) {
    if (cause === 'deadlock') return 'Deadlock: every goroutine was blocked, so the Go runtime stopped the program (exit status 2). Below: where each one waited.';
    const panic = firstLine(stderr, 'panic: ');
    if (panic) return `The program panicked: ${panic} (exit status 2).`;
    const fatal = firstLine(stderr, 'fatal error: ');
    if (fatal) return `The Go runtime stopped the program: ${fatal} (exit status 2).`;
  }
  return `The program exited with status ${code}.`;
}

function mib(bytes) {
  return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}

// exitStats is the "37 ms wall · 12 ms CPU · 4.2 MiB peak memory" of an
// exit, or '' when nothing of the learner's ran: a build that failed, a
// mode that runs no program, a run stopped before it started.
export function exitStats(ev, mode = 'run') {
  if (!runsProgram.has(mode) || ev.reason === 'build-failed') return '';
  if (ev.reason === 'canceled' && !(ev.ms > 0)) return '';
  const parts = [`${ev.ms || 0} ms wall`];
  if (ev.cpu_ms != null) parts.push(`${ev.cpu_ms} ms CPU`);
  if (ev.peak_bytes > 0) parts.push(`${mib(ev.peak_bytes)} peak memory`);
  return parts.join(' · ');
}

// runWords is the short form of a repeated run's exit: "exit 66, 1 race".
export function runWords(ev, races) {
  let s;
  if (ev.reason === 'exited') s = `exit ${ev.code ?? 0}`;
  else s = { timeout: 'timed out', memory: 'out of memory', 'output-limit': 'printed too much', killed: 'killed', canceled: 'stopped' }[ev.reason] || ev.reason || 'ended';
  return races > 0 ? `${s}, ${plural(races, 'race report')}` : s;
}

// summaryWords is the status line after the last of a repeated run's runs.
export function summaryWords(s) {
  const runs = s.runs || 0;
  if (runs === 0) return 'Stopped before any run finished.';
  const parts = [`${plural(runs, 'run')} finished`];
  if (s.races > 0) parts.push(s.races === runs ? `every one reported a data race` : `${s.races} of them reported a data race`);
  const exited = (s.reasons || {}).exited || 0;
  if (exited < runs) parts.push(`${runs - exited} did not end by themselves`);
  return `${parts.join(': ')}.`;
}

// clock writes a duration in seconds as "7 s" or "1 min 05 s".
export function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}
