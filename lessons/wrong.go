package lessons

import (
	"slices"
	"strconv"
	"strings"

	"github.com/yuin/goldmark/ast"
)

// A Wrong is a known-wrong solution of an exercise: a typical mistake that
// the exercise's check must reject. racelab check runs it like the
// reference solution and fails when it meets every claim. The page never
// shows it.
type Wrong struct {
	Why   string // what the mistake is, in a sentence: the why= attribute
	Files []File // files that replace the exercise's same-named ones, as a solution's do
	Line  int    // line in the lesson's file of the block's opening fence
	// Tries is how many runs racelab check gives the exercise's check to
	// reject it (tries=; 1 unless given): for a mistake that shows only
	// when two goroutines run at the same instant, which a busy machine
	// may not let them do in one run.
	Tries int
}

// maxTries bounds tries=: a mistake caught less often than once in ten
// runs is not one the check catches.
const maxTries = 10

// WrongFileMap returns the files that run the i-th known-wrong solution:
// FileMap with the files of Wrong[i] in place of the same-named ones.
func (c *Cell) WrongFileMap(i int) map[string]string {
	return withFiles(c.FileMap(), c.Wrong[i].Files)
}

// withFiles puts files in place of the same-named entries of m and returns m.
func withFiles(m map[string]string, files []File) map[string]string {
	for _, f := range files {
		m[f.Name] = f.Body
	}
	return m
}

// kindWrong is the kind of the AST node that stands for a known-wrong
// solution: it renders as nothing.
var kindWrong = ast.NewNodeKind("RacelabWrong")

// A wrongNode replaces the fenced block of a known-wrong solution, so that
// the page leaves it out.
type wrongNode struct {
	ast.BaseBlock
}

func (n *wrongNode) Kind() ast.NodeKind { return kindWrong }

func (n *wrongNode) Dump(source []byte, level int) { ast.DumpHelper(n, source, level, nil, nil) }

// wrongAttrs are the attributes of a known-wrong solution's block: wrong
// and why are required.
var wrongAttrs = []string{"wrong", "why", "tries"}

// wrong parses a ```go {wrong=NAME why="…"} block and adds it to its
// exercise, which must come before it. It returns nil and no error when the
// exercise is broken (that error is reported already).
func (p *lessonParser) wrong(attrs []attr, src []srcLine, fence int) (*wrongNode, error) {
	var name, why string
	tries := 1
	seen := map[string]bool{}
	for _, a := range attrs {
		switch {
		case !slices.Contains(wrongAttrs, a.key):
			return nil, errorAt(fence, "a wrong-solution block has no attribute but %s, not %s", strings.Join(wrongAttrs, ", "), a.key)
		case seen[a.key]:
			return nil, errorAt(fence, "cell attribute %q is given twice", a.key)
		case a.key == "wrong":
			name = a.value
		case a.key == "tries":
			n, err := strconv.Atoi(a.value)
			if err != nil || n < 1 || n > maxTries {
				return nil, errorAt(fence, "tries=%s: give a number of runs from 1 to %d", a.value, maxTries)
			}
			tries = n
		default:
			why = strings.TrimSpace(a.value)
		}
		seen[a.key] = true
	}
	if !exerciseName.MatchString(name) {
		return nil, errorAt(fence, "wrong=%s: exercise names are lower-case letters, digits and '-'", name)
	}
	if why == "" {
		return nil, errorAt(fence, "wrong=%s needs why=\"…\": say what the mistake is", name)
	}
	x := &p.exercises
	if x.broken[name] {
		return nil, nil
	}
	ex, ok := x.byName[name]
	if !ok {
		return nil, errorAt(fence, "wrong=%[1]s: no exercise %[1]s before this block (a wrong solution follows its exercise)", name)
	}
	files, err := splitFiles(src, fence)
	if err != nil {
		return nil, err
	}
	if err := checkReplaces(ex, files, fence, "wrong solution"); err != nil {
		return nil, err
	}
	ex.Wrong = append(ex.Wrong, Wrong{Why: why, Files: files, Line: fence, Tries: tries})
	return &wrongNode{}, nil
}

// checkReplaces reports a file of a solution (or a wrong one: what) that
// does not replace a file the learner edits in exercise ex.
func checkReplaces(ex *Cell, files []File, fence int, what string) error {
	for _, f := range files {
		if !ex.hasFile(f.Name) {
			return errorAt(fence, "%s file %s is not a file of exercise %s (line %d): a solution replaces the exercise's files", what, f.Name, ex.Exercise, ex.Line)
		}
		if !ex.Shown(f.Name) {
			return errorAt(fence, "%s file %s is hidden in exercise %s: the solution must pass the exercise's own check", what, f.Name, ex.Exercise)
		}
	}
	return nil
}

func (c *Cell) hasFile(name string) bool {
	for _, f := range c.Files {
		if f.Name == name {
			return true
		}
	}
	return false
}

// isWrong reports whether a block's attributes make it a known-wrong
// solution.
func isWrong(attrs []attr) bool {
	for _, a := range attrs {
		if a.key == "wrong" {
			return true
		}
	}
	return false
}
