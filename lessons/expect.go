package lessons

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// An Expect is one thing a cell claims to demonstrate, from an attribute
// such as expect=race or expect="output=hello\n". The lesson tests run every
// cell and hold it to its claims.
type Expect struct {
	// Kind is one of output, race, no-race, deadlock, timeout, exit,
	// compile-error and asm.
	Kind string
	// Value is the text after the kind: for output=TEXT the exact standard
	// output TEXT; for exit=N the status N in decimal; for asm~=REGEX a
	// regular expression (valid: Load compiles it) that some line of the
	// assembly matches. It is empty for the other kinds.
	Value string
}

// expectForms lists the forms of an expect value, for error messages.
const expectForms = "output=TEXT, race, no-race, deadlock, timeout, exit=N, compile-error, asm~=REGEX"

// String returns the expectation as it is written after expect=, unquoted:
// "race", "exit=66", "asm~=LOCK XADDQ", "output=hello\n".
func (e Expect) String() string {
	switch e.Kind {
	case "output", "exit":
		return e.Kind + "=" + e.Value
	case "asm":
		return "asm~=" + e.Value
	}
	return e.Kind
}

// parseExpect parses the value of an expect attribute.
func parseExpect(s string) (Expect, error) {
	if re, ok := strings.CutPrefix(s, "asm~="); ok {
		if re == "" {
			return Expect{}, fmt.Errorf("expect=asm~= needs a regular expression after ~=")
		}
		if _, err := regexp.Compile(re); err != nil {
			return Expect{}, fmt.Errorf("expect=asm~=%s: bad regular expression: %w", re, err)
		}
		return Expect{Kind: "asm", Value: re}, nil
	}
	kind, value, hasValue := strings.Cut(s, "=")
	switch kind {
	case "output":
		if !hasValue {
			return Expect{}, fmt.Errorf("expect=output needs the text: expect=\"output=hello\\n\"")
		}
	case "exit":
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 || n > 255 {
			return Expect{}, fmt.Errorf("expect=%s: the exit status must be a number from 0 to 255", s)
		}
		value = strconv.Itoa(n)
	case "race", "no-race", "deadlock", "timeout", "compile-error":
		if hasValue {
			return Expect{}, fmt.Errorf("expect=%s takes no value: write expect=%s", s, kind)
		}
	case "asm":
		return Expect{}, fmt.Errorf("expect=%s: write the assembly expectation as asm~=REGEX", s)
	default:
		return Expect{}, fmt.Errorf("unknown expectation %q (want one of %s)", s, expectForms)
	}
	return Expect{Kind: kind, Value: value}, nil
}

// checkExpects reports expectations that no run in the given mode can meet.
func checkExpects(mode string, expects []Expect) error {
	seen := map[string]bool{}
	for _, e := range expects {
		if seen[e.Kind] && e.Kind != "asm" {
			return fmt.Errorf("expect=%s is given twice", e.Kind)
		}
		seen[e.Kind] = true
		switch {
		case (e.Kind == "race" || e.Kind == "no-race") && mode != "race" && mode != "test":
			return fmt.Errorf("expect=%s needs mode race or test: the race detector is off in mode %s", e.Kind, mode)
		case e.Kind == "asm" && mode != "asm":
			return fmt.Errorf("expect=asm~= needs mode asm, not %s", mode)
		case mode == "asm" && e.Kind != "asm" && e.Kind != "compile-error":
			return fmt.Errorf("expect=%s cannot happen in mode asm: the program is built, not run", e)
		}
	}
	switch {
	case seen["race"] && seen["no-race"]:
		return fmt.Errorf("expect=race and expect=no-race contradict each other")
	case seen["compile-error"] && len(expects) > 1:
		return fmt.Errorf("expect=compile-error stands alone: a program that does not build has no other outcome")
	}
	return nil
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
	case "asm":
		return "Expected in the assembly", e.Value
	case "exit":
		return "Expected", "exit status " + e.Value
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
