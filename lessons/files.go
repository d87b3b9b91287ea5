package lessons

import (
	"errors"
	"fmt"
	"go/parser"
	"go/scanner"
	"go/token"
	"regexp"
	"strings"
)

// maxFileName is the longest file name the sandbox accepts.
const maxFileName = 128

// goFileName is a plain Go file name: no directory, no leading dot.
var goFileName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*\.go$`)

// A srcLine is one line of a code block with its line number in the lesson.
type srcLine struct {
	text string // including its newline
	line int
}

// A cellFile is a file of a cell while it is being split off.
type cellFile struct {
	name     string
	header   int // line that introduced it: the fence for main.go, else its "-- name --" line
	bodyLine int // line of its first line of text
	body     strings.Builder
}

// splitFiles splits the text of a cell into files the way the Go Playground
// does, in txtar form: the text before the first "-- name --" line is
// main.go (if it is not blank), and each "-- name --" line starts a file.
// main.go comes first in the result, then the others in source order.
func splitFiles(lines []srcLine, fenceLine int) ([]File, error) {
	files := []*cellFile{{name: "main.go", header: fenceLine, bodyLine: fenceLine + 1}}
	seen := map[string]int{}
	for _, l := range lines {
		name, ok := separator(l.text)
		if !ok {
			files[len(files)-1].body.WriteString(l.text)
			continue
		}
		if len(seen) == 0 && strings.TrimSpace(files[0].body.String()) == "" {
			files = files[:0] // only "-- name --" files: no implicit main.go
		} else if len(seen) == 0 {
			seen["main.go"] = fenceLine
		}
		if err := checkFileName(name); err != nil {
			return nil, &Error{Line: l.line, Err: err}
		}
		if prev, ok := seen[name]; ok {
			return nil, errorAt(l.line, "file %s is already in this cell (from line %d)", name, prev)
		}
		seen[name] = l.line
		files = append(files, &cellFile{name: name, header: l.line, bodyLine: l.line + 1})
	}
	return mainFirst(files)
}

// separator reports whether a line is a txtar file marker, "-- name --",
// and returns the name.
func separator(line string) (name string, ok bool) {
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "-- ") || !strings.HasSuffix(line, " --") || len(line) < len("-- x --") {
		return "", false
	}
	return strings.TrimSpace(line[len("-- ") : len(line)-len(" --")]), true
}

func checkFileName(name string) error {
	switch {
	case name == "go.mod":
		return nil
	case len(name) > maxFileName:
		return fmt.Errorf("file name %.32q… is longer than %d bytes", name, maxFileName)
	case !goFileName.MatchString(name):
		return fmt.Errorf("bad file name %q (want a plain NAME.go, or go.mod)", name)
	}
	return nil
}

// mainFirst checks each file and returns them with main.go first.
func mainFirst(files []*cellFile) ([]File, error) {
	var out []File
	for _, f := range files {
		body := f.body.String()
		if err := checkGoFile(f, body); err != nil {
			return nil, err
		}
		file := File{Name: f.name, Body: body}
		if f.name == "main.go" {
			out = append([]File{file}, out...)
		} else {
			out = append(out, file)
		}
	}
	return out, nil
}

// checkGoFile reports a Go file that is empty or does not begin with a
// package clause (after comments), at the line where that goes wrong.
func checkGoFile(f *cellFile, body string) error {
	if !strings.HasSuffix(f.name, ".go") {
		return nil
	}
	if strings.TrimSpace(body) == "" {
		return errorAt(f.header, "%s is empty: a cell file needs at least a package clause", f.name)
	}
	_, err := parser.ParseFile(token.NewFileSet(), f.name, body, parser.PackageClauseOnly)
	var list scanner.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		return errorAt(f.bodyLine+list[0].Pos.Line-1, "%s has no package clause: %s", f.name, list[0].Msg)
	}
	if err != nil {
		return errorAt(f.header, "%s: %w", f.name, err)
	}
	return nil
}
