package lessons

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The limits of a cell's attributes. They match the sandbox's defaults, so
// that a cell never asks for more than a stock server runs.
const (
	maxGOMAXPROCS = 64
	maxRepeat     = 100
)

// cellModes are the modes a cell may declare. The sandbox's fmt mode is a
// button in the page, not something a cell demonstrates.
var cellModes = []string{"run", "race", "asm", "test", "bench", "vet"}

// cellAttrs are the attributes a cell may have, in the order errors list
// them. A solution block has the attribute solution and no other.
var cellAttrs = []string{"mode", "expect", "gomaxprocs", "repeat", "goarch", "trace", "exercise", "hidden", "tries", "solution"}

// cellArches are the architectures an asm cell may compile for: those of
// sandbox.Architectures (this package does not import the sandbox).
var cellArches = []string{"amd64", "arm64"}

// exerciseName is the form of an exercise's name: it goes into the page
// as a data attribute and into racelab check's report.
var exerciseName = regexp.MustCompile(`^[a-z0-9-]+$`)

// cellInfo reports whether the info string of a fenced block, such as
// "go {mode=race expect=race}", makes it a runnable cell, and returns the
// text between the braces.
func cellInfo(info string) (attrs string, ok bool, err error) {
	info = strings.TrimSpace(info)
	lang, rest := info, ""
	if i := strings.IndexAny(info, " \t"); i >= 0 {
		lang, rest = info[:i], strings.TrimSpace(info[i:])
	}
	if strings.HasPrefix(lang, "go{") {
		return "", false, fmt.Errorf("put a space between go and {: %q", info)
	}
	if !strings.HasPrefix(rest, "{") {
		return "", false, nil
	}
	if lang != "go" {
		return "", false, fmt.Errorf("only go blocks can be runnable cells, but this %q block has attributes", lang)
	}
	if !strings.HasSuffix(rest, "}") {
		return "", false, fmt.Errorf("cell attributes %s do not end with }", rest)
	}
	return rest[1 : len(rest)-1], true, nil
}

// An attr is one key=value pair of a cell's attributes.
type attr struct{ key, value string }

// parseAttrs splits the text between a cell's braces into key=value pairs.
// A value is either bare, ending at the next space, or double-quoted with Go
// escapes: expect="output=hello, world\n".
func parseAttrs(s string) ([]attr, error) {
	var attrs []attr
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return attrs, nil
		}
		end := strings.IndexAny(s, " \t=")
		if end < 0 {
			end = len(s)
		}
		key := s[:end]
		if end == len(s) || s[end] != '=' {
			return nil, fmt.Errorf("cell attribute %q has no value (write %s=VALUE)", key, key)
		}
		value, rest, err := attrValue(key, s[end+1:])
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, attr{key, value})
		s = rest
	}
}

// attrValue reads the value at the start of s and returns it unquoted, with
// the text after it.
func attrValue(key, s string) (value, rest string, err error) {
	if strings.HasPrefix(s, `"`) {
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			return "", "", fmt.Errorf("cell attribute %s: bad quoted value %s: %w", key, s, err)
		}
		value, _ = strconv.Unquote(q) // QuotedPrefix accepted it
		rest = s[len(q):]
	} else {
		end := strings.IndexAny(s, " \t")
		if end < 0 {
			end = len(s)
		}
		value, rest = s[:end], s[end:]
		if strings.Contains(value, `"`) {
			return "", "", fmt.Errorf("cell attribute %s=%s: quote the whole value, as in %s=\"…\"", key, value, key)
		}
	}
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return "", "", fmt.Errorf("cell attribute %s: put a space after its value", key)
	}
	return value, rest, nil
}

// newCell makes a cell from its attributes. Its files, ID and position are
// filled in by the caller.
func newCell(attrs []attr) (*Cell, error) {
	c := &Cell{Mode: "run"}
	seen := map[string]bool{}
	for _, a := range attrs {
		if seen[a.key] && a.key != "expect" {
			return nil, fmt.Errorf("cell attribute %q is given twice", a.key)
		}
		seen[a.key] = true
		if err := c.setAttr(a); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *Cell) setAttr(a attr) error {
	var err error
	switch a.key {
	case "mode":
		if !slices.Contains(cellModes, a.value) {
			return fmt.Errorf("unknown mode %q (want one of %s)", a.value, strings.Join(cellModes, ", "))
		}
		c.Mode = a.value
	case "expect":
		e, err := parseExpect(a.value)
		if err != nil {
			return err
		}
		c.Expect = append(c.Expect, e)
	case "gomaxprocs":
		c.GOMAXPROCS, err = attrInt(a, 1, maxGOMAXPROCS)
	case "repeat":
		c.Repeat, err = attrInt(a, 1, maxRepeat)
	case "trace":
		if a.value != "true" {
			return fmt.Errorf("cell attribute trace=%s: write trace=true, or leave it out", a.value)
		}
		c.Trace = true
	case "goarch":
		if !slices.Contains(cellArches, a.value) {
			return fmt.Errorf("goarch=%s: racelab compiles for %s", a.value, strings.Join(cellArches, " or "))
		}
		c.GOARCH = a.value
	case "exercise":
		if !exerciseName.MatchString(a.value) {
			return fmt.Errorf("exercise name %q: use lower-case letters, digits and '-'", a.value)
		}
		c.Exercise = a.value
	case "hidden":
		c.Hidden, err = hiddenList(a.value)
	case "tries":
		c.Tries, err = attrInt(a, 1, maxTries)
	default:
		return fmt.Errorf("unknown cell attribute %q (want one of %s)", a.key, strings.Join(cellAttrs, ", "))
	}
	return err
}

// attrInt parses a numeric attribute and checks that it is in [lo, hi].
func attrInt(a attr, lo, hi int) (int, error) {
	n, err := strconv.Atoi(a.value)
	if err != nil {
		return 0, fmt.Errorf("cell attribute %s=%s is not a number: %w", a.key, a.value, err)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("cell attribute %s=%d is out of range: use %d to %d", a.key, n, lo, hi)
	}
	return n, nil
}

// hiddenList splits the value of hidden=FILE[,FILE…].
func hiddenList(value string) ([]string, error) {
	names := strings.Split(value, ",")
	for i, name := range names {
		if name == "" {
			return nil, fmt.Errorf("hidden=%s: name the files, separated by commas and no spaces", value)
		}
		if slices.Contains(names[:i], name) {
			return nil, fmt.Errorf("hidden=%s names %s twice", value, name)
		}
	}
	return names, nil
}

// check reports a cell whose attributes contradict each other or its files:
// a claim that no run of the cell could prove.
func (c *Cell) check() error {
	if (c.Mode == "test" || c.Mode == "bench") && !c.HasTests {
		return fmt.Errorf("mode %s needs a _test.go file in the cell (start one with a line \"-- main_test.go --\")", c.Mode)
	}
	if c.Repeat > 1 && c.Mode != "run" && c.Mode != "race" {
		return fmt.Errorf("repeat works only with mode run or race, not %s", c.Mode)
	}
	if c.GOARCH != "" && c.Mode != "asm" {
		return fmt.Errorf("goarch works only with mode asm, not %s: programs run on the server's own architecture", c.Mode)
	}
	if err := c.checkHidden(); err != nil {
		return err
	}
	if c.Tries > 0 && c.Exercise == "" {
		return fmt.Errorf("tries= is for exercises (their starting code) and known-wrong solutions: give the cell exercise=NAME too")
	}
	if err := c.checkTrace(); err != nil {
		return err
	}
	return checkExpects(c.Mode, max(c.Repeat, 1), c.Expect)
}

// checkTrace reports a traced cell the sandbox would not trace (only one
// run of mode run is), and an edge claim without the trace that shows it.
func (c *Cell) checkTrace() error {
	if c.Trace && (c.Mode != "run" || c.Repeat > 1) {
		return fmt.Errorf("trace=true needs mode run and one run (the tracer records one execution), not mode %s, repeat %d", c.Mode, max(c.Repeat, 1))
	}
	if !c.Trace && slices.ContainsFunc(c.Expect, func(e Expect) bool { return e.Kind == "edge" }) {
		return fmt.Errorf("expect=edge= is a claim about the timeline: give the cell trace=true")
	}
	return nil
}

// checkHidden reports hidden files that are not the cell's, or that leave
// the learner nothing to edit.
func (c *Cell) checkHidden() error {
	if len(c.Hidden) == 0 {
		return nil
	}
	if c.Exercise == "" {
		return fmt.Errorf("hidden= is for exercises: give the cell exercise=NAME too")
	}
	for _, name := range c.Hidden {
		if !slices.ContainsFunc(c.Files, func(f File) bool { return f.Name == name }) {
			return fmt.Errorf("hidden file %s is not a file of this cell", name)
		}
	}
	if len(c.Hidden) == len(c.Files) {
		return fmt.Errorf("hidden= hides every file of the cell: the learner would have nothing to edit")
	}
	return nil
}
