// A cell's expectations in words for learners. The lessons package
// renders them as one caption line for authors ("Expected: exit status
// 2; Expected on stderr: goroutine 1 \[chan receive\]", see
// lessons/expect.go's caption); the page reads that line back into
// claims and writes each in plain words, regular expressions as the text
// they stand for. The caption itself stays in the figcaption's title.

// The headings of the caption's groups, joined by "; ".
const groupRE = /; (?=Expected(?: output| on stderr| in the assembly| in the timeline)?: )/;

// The phrases of the "Expected:" group, joined by ", ", and their kinds.
const phrases = [
  ['no output', 'no-output'],
  ['at least one of the runs prints output matching ', 'some-output'],
  ['output matching ', 'output-match'],
  ['at least ', 'outputs'],
  ['exit status ', 'exit'],
  ['a data race is reported', 'race'],
  ['no data race', 'no-race'],
  ['the program deadlocks', 'deadlock'],
  ['the program is stopped by the time limit', 'timeout'],
  ['the build fails', 'compile-error'],
];

const phraseStart = new RegExp(`, (?=${phrases.map(([p]) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`);

// parseCaption reads a caption back into claims {kind, value}; a part it
// does not know becomes {kind: 'words', value: the part as written}.
export function parseCaption(text) {
  const claims = [];
  for (const group of (text || '').split(groupRE)) {
    const m = /^(Expected(?: output| on stderr| in the assembly| in the timeline)?): ([\s\S]*)$/.exec(group);
    if (!m) {
      if (group.trim()) claims.push({ kind: 'words', value: group.trim() });
      continue;
    }
    const [, label, rest] = m;
    if (label === 'Expected output') claims.push({ kind: 'output', value: rest });
    else if (label === 'Expected on stderr') claims.push({ kind: 'stderr', value: rest });
    else if (label === 'Expected in the assembly') claims.push({ kind: 'asm', value: rest });
    else if (label === 'Expected in the timeline') claims.push({ kind: 'edge', value: rest });
    else for (const part of rest.split(phraseStart)) claims.push(phraseClaim(part));
  }
  return claims;
}

function phraseClaim(part) {
  for (const [p, kind] of phrases) {
    if (!part.startsWith(p)) continue;
    let value = part.slice(p.length);
    if (kind === 'outputs') value = value.replace(/ different outputs across the runs$/, '');
    if (kind === 'outputs' && !/^\d+$/.test(value)) break;
    return { kind, value };
  }
  return { kind: 'words', value: part };
}

// What an exit status means, where it means something.
const statusMeaning = {
  0: 'success',
  2: 'what a panic, a deadlock or another fatal error of the Go runtime exits with',
  66: 'what the race detector exits with when it found a race',
};

// claimWords writes a claim for a learner as {text, pattern}: pattern is
// set when the claim is a regular expression that has no words, and is
// then shown as it is.
export function claimWords(c, mode = 'run') {
  const quoted = (verb, re) => {
    const w = patternWords(re);
    return w == null ? { text: `${verb} text matching the pattern`, pattern: re } : { text: `${verb} “${w}”`, legend: legendOf(w) };
  };
  switch (c.kind) {
    case 'output': return { text: `it prints exactly “${c.value}”` };
    case 'no-output': return { text: 'it prints nothing' };
    case 'output-match': return quoted('it prints', c.value);
    case 'some-output': return quoted('at least one of the runs prints', c.value);
    case 'outputs': return { text: `the runs print at least ${c.value} different outputs` };
    case 'stderr': return quoted('its standard error shows', c.value);
    case 'asm': return quoted('the assembly has', c.value);
    case 'edge': return { text: `the timeline shows that ${c.value}` };
    case 'race': return { text: 'the race detector reports a data race' };
    case 'no-race': return { text: 'the race detector finds no data race' };
    case 'deadlock': return { text: 'it deadlocks: every goroutine blocks, and the Go runtime stops the program' };
    case 'timeout': return { text: 'it is still running at the time limit, and is stopped' };
    case 'compile-error': return { text: 'it does not build' };
    case 'exit': {
      const n = Number(c.value);
      const meaning = mode === 'test' && n === 1 ? 'a test failed' : statusMeaning[n];
      return { text: `it exits with status ${c.value}${meaning ? ` (${meaning})` : ''}` };
    }
    default: return { text: c.value };
  }
}

// legendOf says which placeholders a pattern's words use.
function legendOf(words) {
  const parts = [];
  if (words.includes('#')) parts.push('# a digit');
  if (/\bN\b/.test(words)) parts.push('N a number');
  if (words.includes('…')) parts.push('… any text');
  return parts.join(', ');
}

// expectedNumber returns the one number an exact expected output holds
// ("counter = 2000" gives 2000), or null.
export function expectedNumber(claims) {
  const out = claims.find((c) => c.kind === 'output');
  const nums = out ? out.value.match(/-?\d+(?:\.\d+)?/g) : null;
  return nums && nums.length === 1 ? Number(nums[0]) : null;
}

// patternWords writes a regular expression as the text it matches, with
// # for a digit, N for a number and … for any text; alternatives are
// joined with "or". It returns null for what it cannot say plainly
// (repeated groups, lookarounds, most classes of letters), which the page
// then shows as the pattern.
export function patternWords(re) {
  try {
    const p = new Parser(re.replace(/^\(\?[a-z]+\)/, ''));
    const text = p.alternation();
    if (p.i < p.s.length) return null;
    return text.replace(/\n+$/, '');
  } catch {
    return null;
  }
}

// A small recursive-descent reader of the RE2 syntax the lessons use.
class Parser {
  constructor(s) {
    this.s = s;
    this.i = 0;
  }

  peek() { return this.s[this.i]; }

  alternation() {
    const alts = [this.sequence()];
    while (this.peek() === '|') {
      this.i++;
      alts.push(this.sequence());
    }
    return alts.join(' or ');
  }

  // sequence reads atoms up to ) or |, merging digits: a fixed number of
  // them is that many #, any other count a number, N.
  sequence() {
    let out = '';
    let digits = 0;
    let number = false;
    const flush = () => {
      if (number) out += 'N';
      else out += '#'.repeat(digits);
      digits = 0;
      number = false;
    };
    while (this.i < this.s.length && this.peek() !== ')' && this.peek() !== '|') {
      const a = this.atom();
      const q = this.quantifier();
      if (a.digit) {
        if (q.min === q.max && q.max !== Infinity) digits += q.min;
        else number = true;
        continue;
      }
      flush();
      if (q.min === 1 && q.max === 1) out += a.text;
      else if (a.any) out += '…';
      else if (q.min === 0 && q.max === 1 && !a.group) out += a.text;
      else throw new Error('a repeated atom');
    }
    flush();
    return out;
  }

  atom() {
    const c = this.s[this.i++];
    switch (c) {
      case '^': case '$': return { text: '' };
      case '.': return { any: true, text: '…' };
      case '(': {
        if (this.peek() === '?') throw new Error('a group with flags');
        const text = this.alternation();
        if (this.s[this.i++] !== ')') throw new Error('an open group');
        return { text, group: true };
      }
      case '[': return this.klass();
      case '\\': return this.escape();
      case ')': case '|': case '*': case '+': case '?': case '{':
        throw new Error(`a stray ${c}`);
      default: return { text: c };
    }
  }

  escape() {
    const c = this.s[this.i++];
    if (c === undefined) throw new Error('a trailing backslash');
    if (c === 'd') return { digit: true };
    if (c === 'n') return { text: '\n' };
    if (c === 't') return { text: '\t' };
    if (c === 's') return { text: ' ' };
    if (c === 'w' || c === 'S' || c === 'W' || c === 'D') return { any: true, text: '?' };
    if (/[A-Za-z0-9]/.test(c)) throw new Error(`the escape \\${c}`);
    return { text: c };
  }

  // klass reads [...]: digits only make a digit; anything else stands
  // for any character.
  klass() {
    const end = this.s.indexOf(']', this.i + 1);
    if (end < 0) throw new Error('an open class');
    const body = this.s.slice(this.i, end);
    this.i = end + 1;
    if (/^(?:\d-\d|\d|\\d)+$/.test(body)) return { digit: true };
    return { any: true, text: '?' };
  }

  quantifier() {
    const c = this.peek();
    let q = null;
    if (c === '*') q = { min: 0, max: Infinity };
    else if (c === '+') q = { min: 1, max: Infinity };
    else if (c === '?') q = { min: 0, max: 1 };
    else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.s.slice(this.i));
      if (!m) throw new Error('a bad repeat');
      this.i += m[0].length - 1;
      const min = Number(m[1]);
      q = { min, max: m[2] ? (m[3] ? Number(m[3]) : Infinity) : min };
    }
    if (!q) return { min: 1, max: 1 };
    this.i++;
    if (this.peek() === '?') this.i++; // a lazy quantifier matches the same texts
    return q;
  }
}
