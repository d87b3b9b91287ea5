package lessons

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
)

// frontMatter is the header of a lesson file.
type frontMatter struct {
	Title   string
	Summary string
	Order   int
}

// frontMatterKeys are the keys a lesson's front matter must have, in the
// order an error message lists them.
var frontMatterKeys = []string{"title", "summary", "order"}

// parseFrontMatter reads the front matter at the top of src: a "---" line,
// "key: value" lines, and a closing "---" line. Blank lines and lines
// starting with "#" are ignored. It returns the front matter, the offset of
// the body in src and the number of lines before the body.
//
// It is deliberately not YAML: three keys of plain text and one integer need
// no library, and a small format gives errors that point at the right line.
func parseFrontMatter(src []byte) (fm frontMatter, bodyStart, bodyLine int, err error) {
	first, rest, _ := bytes.Cut(src, []byte("\n"))
	if string(bytes.TrimRight(first, " \t")) != "---" {
		return fm, 0, 0, errorAt(1, `missing front matter: the file must start with a "---" line, then title, summary and order`)
	}
	seen := map[string]int{} // key → its line
	off, line := len(first)+1, 1
	for len(rest) > 0 {
		var text []byte
		text, rest, _ = bytes.Cut(rest, []byte("\n"))
		off += len(text) + 1
		line++
		s := strings.TrimSpace(string(text))
		switch {
		case s == "---":
			if err := checkRequired(seen, line); err != nil {
				return fm, 0, 0, err
			}
			return fm, min(off, len(src)), line, nil
		case s == "" || strings.HasPrefix(s, "#"):
			continue
		}
		key, value, err := parseFrontMatterLine(s, line)
		if err != nil {
			return fm, 0, 0, err
		}
		if prev, ok := seen[key]; ok {
			return fm, 0, 0, errorAt(line, "front matter key %q is given twice (first on line %d)", key, prev)
		}
		seen[key] = line
		if err := fm.set(key, value, line); err != nil {
			return fm, 0, 0, err
		}
	}
	return fm, 0, 0, errorAt(1, `front matter has no closing "---" line`)
}

// parseFrontMatterLine splits a "key: value" line and unquotes the value.
func parseFrontMatterLine(s string, line int) (key, value string, err error) {
	key, value, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", errorAt(line, `front matter line %q is not "key: value"`, s)
	}
	key, value = strings.TrimSpace(key), strings.TrimSpace(value)
	if !slices.Contains(frontMatterKeys, key) {
		return "", "", errorAt(line, "unknown front matter key %q (want one of %s)", key, strings.Join(frontMatterKeys, ", "))
	}
	switch {
	case strings.HasPrefix(value, `"`):
		u, err := strconv.Unquote(value)
		if err != nil {
			return "", "", errorAt(line, "front matter %s: bad quoted value %s: %w", key, value, err)
		}
		value = u
	case strings.HasPrefix(value, "'"):
		return "", "", errorAt(line, "front matter %s: quote values with double quotes, not single", key)
	}
	if value == "" {
		return "", "", errorAt(line, "front matter %s is empty", key)
	}
	if strings.ContainsAny(value, "\r\n") {
		return "", "", errorAt(line, "front matter %s must be one line", key)
	}
	return key, value, nil
}

func (fm *frontMatter) set(key, value string, line int) error {
	switch key {
	case "title":
		fm.Title = value
	case "summary":
		fm.Summary = value
	case "order":
		n, err := strconv.Atoi(value)
		if err != nil {
			return errorAt(line, "front matter order %q is not an integer: %w", value, err)
		}
		fm.Order = n
	}
	return nil
}

// checkRequired reports the first required key missing from seen, at the
// line of the closing "---".
func checkRequired(seen map[string]int, line int) error {
	for _, k := range frontMatterKeys {
		if _, ok := seen[k]; !ok {
			return errorAt(line, "front matter has no %q (title, summary and order are required)", k)
		}
	}
	return nil
}
