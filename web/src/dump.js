// What of a goroutine dump a learner needs first: a timeout's SIGQUIT
// dump ends with the CPU's registers, and every stack runs through the
// runtime's own frames. foldDump splits the text into what to show and
// what to keep behind "show the full dump": registers, the signal's PC
// lines, runtime-internal frames, and goroutines that are nothing but
// runtime (the garbage collector's, the idle ones). Pure, unit-tested.

const register = /^(?:r[a-z0-9]{1,3}|rip|rflags|eflags|cs|fs|gs|lr|sp|pc|fault|x\d{1,2})\s+0x[0-9a-f]+\s*$/;
const signalPC = /^PC=0x[0-9a-f]+ m=\d+ sigcode=\d+/;
const internalFunc = /^(?:runtime|internal\/[\w/]+|runtime\/internal\/[\w/]+)\.\S*\(.*\)$|^created by (?:runtime|internal\/[\w/]+)\./;
const fileLine = /^\t\S.*:\d+/;
const goroutineHeader = /^goroutine \d+ /;

// foldDump returns the text as segments {text, hidden}; hidden segments
// hold whole lines. A text without a dump comes back as one segment.
export function foldDump(text) {
  const lines = text.split(/(?<=\n)/);
  const hidden = lines.map(() => false);
  let sigquits = 0;
  lines.forEach((l, i) => {
    const s = l.replace(/\n$/, '');
    if (register.test(s) || signalPC.test(s) || s === '-----') hidden[i] = true;
    if (s === 'SIGQUIT: quit' && sigquits++ > 0) hidden[i] = true;
    if (internalFunc.test(s) && i + 1 < lines.length && fileLine.test(lines[i + 1])) {
      hidden[i] = true;
      hidden[i + 1] = true;
    }
  });
  hideRuntimeGoroutines(lines, hidden);
  // A blank line between two hidden stretches goes with them.
  for (let i = 1; i + 1 < lines.length; i++) {
    if (lines[i] === '\n' && hidden[i - 1] && hidden[i + 1]) hidden[i] = true;
  }
  const segments = [];
  lines.forEach((l, i) => {
    const last = segments[segments.length - 1];
    if (last && last.hidden === hidden[i]) last.text += l;
    else segments.push({ text: l, hidden: hidden[i] });
  });
  return segments.length > 0 ? segments : [{ text, hidden: false }];
}

// hideRuntimeGoroutines hides a goroutine's header, and the blank line
// after it, when every frame of its stack is hidden.
function hideRuntimeGoroutines(lines, hidden) {
  for (let i = 0; i < lines.length; i++) {
    if (!goroutineHeader.test(lines[i])) continue;
    let j = i + 1;
    let frames = 0;
    let shown = 0;
    for (; j < lines.length && lines[j] !== '\n' && !goroutineHeader.test(lines[j]); j++) {
      frames++;
      if (!hidden[j]) shown++;
    }
    if (frames > 0 && shown === 0) {
      hidden[i] = true;
      if (j < lines.length && lines[j] === '\n') hidden[j] = true;
    }
    i = j - 1;
  }
}

// hasDump reports whether text holds a goroutine dump worth folding.
export function hasDump(text) {
  return /^goroutine \d+ .*\[.*\]:$/m.test(text) || /^SIGQUIT: quit$/m.test(text);
}

// dumpStart finds where the learner should start reading the output of a
// run: the first race report, a panic, a fatal error or a SIGQUIT dump.
// It returns the offset of that line in text, or -1.
export function dumpStart(text) {
  const m = /^(?:={18}\nWARNING: DATA RACE|WARNING: DATA RACE|SIGQUIT: quit|fatal error: |panic: )/m.exec(text);
  return m ? m.index : -1;
}
