package lessons

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
)

// An Expect is one thing a cell claims to demonstrate, from an attribute
// such as expect=race or expect="output=hello\n". The lesson tests and
// racelab check run every cell and hold it to its claims.
//
// Kind is one of these; Value is what follows the kind's operator:
//
//	kind            written as          Value
//	"output"        output=TEXT         the exact standard output, every run
//	"output-match"  output~=REGEX       a regexp found in every run's stdout
//	"some-output"   some-output~=REGEX  a regexp found in at least one run's stdout (repeat ≥ 2)
//	"no-output"     no-output~=REGEX    a regexp found in no run's stdout
//	"outputs"       outputs>=N          N ≥ 2 in decimal: distinct stdouts among the runs (repeat ≥ 2)
//	"stderr"        stderr~=REGEX       a regexp found in every run's stderr
//	"race"          race                "": some run reports a data race
//	"no-race"       no-race             "": no run reports a data race
//	"deadlock"      deadlock            "": every run deadlocks
//	"timeout"       timeout             "": every run is stopped by the time limit
//	"exit"          exit=N              the status 0–255 of every run, in decimal
//	"compile-error" compile-error       "": the build fails
//	"asm"           asm~=REGEX          a regexp matching some line of the assembly
//	"edge"          edge=[OP@]LINE->[OP@]LINE  a synchronization edge of the timeline (trace=true)
//
// A REGEX is RE2 syntax (package regexp), valid and non-empty in every
// Expect that Load returns; it is searched for, not anchored.
type Expect struct {
	Kind  string
	Value string
}

// An expectForm is one way to write an expectation: name, operator and the
// kind of value after it ("" for none).
type expectForm struct {
	name, op, kind, value string
}

// expectForms are the expectations in the order error messages list them.
var expectForms = []expectForm{
	{"output", "=", "output", "TEXT"},
	{"output", "~=", "output-match", "REGEX"},
	{"some-output", "~=", "some-output", "REGEX"},
	{"no-output", "~=", "no-output", "REGEX"},
	{"outputs", ">=", "outputs", "N"},
	{"stderr", "~=", "stderr", "REGEX"},
	{"race", "", "race", ""},
	{"no-race", "", "no-race", ""},
	{"deadlock", "", "deadlock", ""},
	{"timeout", "", "timeout", ""},
	{"exit", "=", "exit", "N"},
	{"compile-error", "", "compile-error", ""},
	{"asm", "~=", "asm", "REGEX"},
	{"edge", "=", "edge", "[OP@]LINE->[OP@]LINE"},
}

func (f expectForm) String() string { return f.name + f.op + f.value }

// formOf returns the form of a kind.
func formOf(kind string) (expectForm, bool) {
	for _, f := range expectForms {
		if f.kind == kind {
			return f, true
		}
	}
	return expectForm{}, false
}

// formsNamed lists the forms with a name, as "a or b", for error messages.
func formsNamed(name string) string {
	var forms []string
	for _, f := range expectForms {
		if f.name == name {
			forms = append(forms, "expect="+f.String())
		}
	}
	return strings.Join(forms, " or ")
}

// allForms lists every form, for the error about an unknown expectation.
func allForms() string {
	forms := make([]string, len(expectForms))
	for i, f := range expectForms {
		forms[i] = f.String()
	}
	return strings.Join(forms, ", ")
}

// String returns the expectation as it is written after expect=, unquoted:
// "race", "exit=66", "asm~=LOCK XADDQ", "output=hello\n", "outputs>=2".
func (e Expect) String() string {
	f, ok := formOf(e.Kind)
	switch {
	case !ok && e.Value == "":
		return e.Kind
	case !ok:
		return e.Kind + "=" + e.Value
	case f.op == "":
		return f.name
	}
	return f.name + f.op + e.Value
}

// Regexp returns the compiled regular expression of the kinds whose value
// is one (output-match, some-output, no-output, stderr, asm), and nil for the others.
// It panics on an invalid expression, which no Expect from Load has.
func (e Expect) Regexp() *regexp.Regexp {
	if f, ok := formOf(e.Kind); !ok || f.value != "REGEX" {
		return nil
	}
	return regexp.MustCompile(e.Value)
}

// parseExpect parses the value of an expect attribute: a name of lower-case
// letters and dashes, then an operator (=, ~= or >=) and a value, or nothing.
func parseExpect(s string) (Expect, error) {
	name := s[:len(s)-len(strings.TrimLeft(s, "abcdefghijklmnopqrstuvwxyz-"))]
	rest := s[len(name):]
	op := ""
	for _, o := range []string{"=", "~=", ">="} {
		if strings.HasPrefix(rest, o) {
			op = o
			break
		}
	}
	value := rest[len(op):]
	if op == "" && rest != "" || formsNamed(name) == "" {
		return Expect{}, fmt.Errorf("unknown expectation %q (want one of %s)", s, allForms())
	}
	var form expectForm
	for _, f := range expectForms {
		if f.name == name && f.op == op {
			form = f
		}
	}
	if form.kind == "" {
		return Expect{}, wrongForm(s, name, op)
	}
	if form.value == "REGEX" && value == "" {
		return Expect{}, fmt.Errorf("expect=%s needs a regular expression after ~=", s)
	}
	value, err := checkExpectValue(form, value)
	if err != nil {
		return Expect{}, fmt.Errorf("expect=%s: %w", s, err)
	}
	return Expect{Kind: form.kind, Value: value}, nil
}

// wrongForm explains a known name written with the wrong operator.
func wrongForm(s, name, op string) error {
	if formsNamed(name) == "expect="+name {
		return fmt.Errorf("expect=%s takes no value: write expect=%s", s, name)
	}
	if op == "" {
		return fmt.Errorf("expect=%s needs a value: write %s", s, formsNamed(name))
	}
	return fmt.Errorf("expect=%s: write %s", s, formsNamed(name))
}

// checkExpectValue checks the value of a form and returns it normalized.
func checkExpectValue(f expectForm, value string) (string, error) {
	switch f.value {
	case "REGEX":
		if _, err := regexp.Compile(value); err != nil {
			return "", fmt.Errorf("bad regular expression: %w", err)
		}
	case "[OP@]LINE->[OP@]LINE":
		e, err := ParseEdge(value)
		if err != nil {
			return "", err
		}
		value = e.String()
	case "N":
		lo, hi, what := 0, 255, "the exit status"
		if f.kind == "outputs" {
			lo, hi, what = 2, maxRepeat, "the number of different outputs"
		}
		n, err := strconv.Atoi(value)
		if err != nil || n < lo || n > hi {
			return "", fmt.Errorf("%s must be a number from %d to %d", what, lo, hi)
		}
		value = strconv.Itoa(n)
	}
	return value, nil
}

// multiExpect are the kinds that may be given more than once in a cell:
// every one of their regular expressions must match.
var multiExpect = map[string]bool{"output-match": true, "some-output": true, "no-output": true, "stderr": true, "asm": true, "edge": true}

// checkExpects reports expectations that no run of a cell in the given mode,
// run the given number of times, can meet.
func checkExpects(mode string, repeat int, expects []Expect) error {
	seen := map[string]bool{}
	for _, e := range expects {
		if seen[e.Kind] && !multiExpect[e.Kind] {
			return fmt.Errorf("expect=%s is given twice", nameOf(e.Kind))
		}
		seen[e.Kind] = true
		if err := checkExpect(mode, repeat, e); err != nil {
			return err
		}
	}
	switch {
	case seen["race"] && seen["no-race"]:
		return fmt.Errorf("expect=race and expect=no-race contradict each other")
	case seen["output"] && seen["outputs"]:
		return fmt.Errorf("expect=output= and expect=outputs>= contradict each other: one exact output for every run is one output")
	case seen["compile-error"] && len(expects) > 1:
		return fmt.Errorf("expect=compile-error stands alone: a program that does not build has no other outcome")
	}
	return nil
}

// checkExpect reports an expectation that the mode or repeat rules out.
func checkExpect(mode string, repeat int, e Expect) error {
	switch {
	case (e.Kind == "race" || e.Kind == "no-race") && mode != "race" && mode != "test":
		return fmt.Errorf("expect=%s needs mode race or test: the race detector is off in mode %s", e.Kind, mode)
	case e.Kind == "asm" && mode != "asm":
		return fmt.Errorf("expect=asm~= needs mode asm, not %s", mode)
	case mode == "asm" && e.Kind != "asm" && e.Kind != "compile-error":
		return fmt.Errorf("expect=%s cannot happen in mode asm: the program is built, not run", e)
	case (e.Kind == "some-output" || e.Kind == "outputs") && repeat < 2:
		return fmt.Errorf("expect=%s compares runs: give the cell repeat=N with N at least 2", e)
	case e.Kind == "outputs":
		if n, _ := strconv.Atoi(e.Value); n > repeat {
			return fmt.Errorf("expect=%s cannot happen in %d runs", e, repeat)
		}
	}
	return nil
}

// nameOf returns the name a kind is written with: "output" for output-match.
func nameOf(kind string) string {
	if f, ok := formOf(kind); ok {
		return f.name
	}
	return kind
}

// caption describes the expectations in words for a learner, such as
// "Expected: a data race is reported, exit status 66". Consecutive
// expectations under the same heading share it; groups are joined by "; ".
func caption(expects []Expect) string {
	var groups []string
	last := ""
	for _, e := range expects {
		label, text := e.describe()
		if label == last && label != "Expected output" {
			groups[len(groups)-1] += ", " + text
			continue
		}
		groups = append(groups, label+": "+text)
		last = label
	}
	return strings.Join(groups, "; ")
}

// describe returns a heading and the words for one expectation.
func (e Expect) describe() (label, text string) {
	switch e.Kind {
	case "output":
		out := strings.TrimRight(e.Value, "\n")
		if out == "" {
			return "Expected", "no output"
		}
		return "Expected output", out
	case "output-match":
		return "Expected", "output matching " + e.Value
	case "some-output":
		return "Expected", "at least one of the runs prints output matching " + e.Value
	case "no-output":
		return "Expected", "no run prints output matching " + e.Value
	case "outputs":
		return "Expected", "at least " + e.Value + " different outputs across the runs"
	case "stderr":
		return "Expected on stderr", e.Value
	case "asm":
		return "Expected in the assembly", e.Value
	case "exit":
		return "Expected", "exit status " + e.Value
	case "edge":
		ed, _ := ParseEdge(e.Value)
		return "Expected in the timeline", ed.Words()
	}
	return "Expected", expectWords[e.Kind]
}

// expectWords are the plain words for the expectations without a value.
var expectWords = map[string]string{
	"race":          "a data race is reported",
	"no-race":       "no data race",
	"deadlock":      "the program deadlocks",
	"timeout":       "the program is stopped by the time limit",
	"compile-error": "the build fails",
}

// Words says the expectation in words for a learner: "a data race is
// reported", "it prints output like “n = …”". Patterns are shown as the
// text they look for, not as regular expressions (see plainPattern); the
// caption (the author's line, which the page reads back) keeps them.
func (e Expect) Words() string {
	switch e.Kind {
	case "output":
		if out := strings.TrimRight(e.Value, "\n"); out != "" {
			return "it prints " + quote(out)
		}
		return "it prints nothing"
	case "output-match":
		return "it prints output like " + quote(plainPattern(e.Value))
	case "some-output":
		return "at least one of the runs prints output like " + quote(plainPattern(e.Value))
	case "no-output":
		return "no run prints output like " + quote(plainPattern(e.Value))
	case "stderr":
		return "its standard error shows " + quote(plainPattern(e.Value))
	case "asm":
		return "the assembly has " + quote(plainPattern(e.Value))
	case "edge":
		ed, _ := ParseEdge(e.Value)
		return "the timeline shows " + ed.Words()
	}
	_, text := e.describe()
	return text
}

// quote puts s in quotation marks, as the page shows a text to look for.
func quote(s string) string { return "“" + s + "”" }

// plainPattern renders a regular expression for a learner: the text it
// looks for, escapes dropped, anything it leaves open shown as "…", and
// alternatives joined by "or": `goroutine 1 \[chan receive\]` reads
// “goroutine 1 [chan receive]”, `n = \d+` reads “n = …”.
func plainPattern(re string) string {
	r, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return re
	}
	var b strings.Builder
	writePlain(&b, r.Simplify())
	return strings.TrimSpace(b.String())
}

// writePlain writes r's plain form to b.
func writePlain(b *strings.Builder, r *syntax.Regexp) {
	switch r.Op {
	case syntax.OpLiteral:
		b.WriteString(string(r.Rune))
	case syntax.OpConcat:
		for _, s := range r.Sub {
			writePlain(b, s)
		}
	case syntax.OpCapture:
		writePlain(b, r.Sub[0])
	case syntax.OpAlternate:
		for i, s := range r.Sub {
			if i > 0 {
				b.WriteString(" or ")
			}
			writePlain(b, s)
		}
	case syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText, syntax.OpEmptyMatch,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
	default: // a class, a repetition, any character: what the pattern leaves open
		if !strings.HasSuffix(b.String(), "…") {
			b.WriteString("…")
		}
	}
}
