package lessons

import (
	"fmt"

	"github.com/yuin/goldmark/ast"
)

// kindSolution is the kind of the AST node that stands for the reference
// solution of an exercise.
var kindSolution = ast.NewNodeKind("RacelabSolution")

// A solutionNode replaces the fenced block of a solution in the AST. It is
// drawn from the exercise's Solution, as a collapsed <details>.
type solutionNode struct {
	ast.BaseBlock
	exercise *Cell
}

func (n *solutionNode) Kind() ast.NodeKind { return kindSolution }

func (n *solutionNode) Dump(source []byte, level int) {
	ast.DumpHelper(n, source, level, map[string]string{"Exercise": n.exercise.Exercise}, nil)
}

// exercises tracks the exercises of one lesson while it is parsed, to pair
// each with its solution.
type exercises struct {
	byName  map[string]*Cell // the exercises seen so far
	broken  map[string]bool  // exercises whose cell had an error: no more errors about them
	named   map[string]bool  // exercises named by a solution block, broken or not
	pending []pendingSolution
}

// A pendingSolution is a solution block met before any exercise of its name.
type pendingSolution struct {
	name string
	line int
}

// add registers an exercise cell; a name used twice is an error.
func (x *exercises) add(c *Cell) error {
	if prev, ok := x.byName[c.Exercise]; ok {
		return fmt.Errorf("exercise %s is already the name of the cell at line %d", c.Exercise, prev.Line)
	}
	x.byName[c.Exercise] = c
	return nil
}

// solution parses a ```go {solution=NAME} block and gives it to its
// exercise. It returns nil and no error when the exercise is broken (that
// error is reported already) or not seen yet (finish reports it).
func (p *lessonParser) solution(attrs []attr, src []srcLine, fence int) (*solutionNode, error) {
	x := &p.exercises
	var names []string
	for _, a := range attrs {
		if a.key == "solution" {
			names = append(names, a.value)
			// Even a broken solution is one: its exercise is not also
			// reported as having none.
			x.named[a.value] = true
		}
	}
	for _, a := range attrs {
		if a.key != "solution" {
			return nil, errorAt(fence, "a solution block has no attribute but solution=NAME, not %s", a.key)
		}
	}
	if len(names) > 1 {
		return nil, errorAt(fence, "cell attribute \"solution\" is given twice")
	}
	name := names[0]
	if !exerciseName.MatchString(name) {
		return nil, errorAt(fence, "solution=%s: exercise names are lower-case letters, digits and '-'", name)
	}
	ex, ok := x.byName[name]
	switch {
	case x.broken[name]:
		return nil, nil
	case !ok:
		x.pending = append(x.pending, pendingSolution{name, fence})
		return nil, nil
	case ex.Solution != nil:
		return nil, errorAt(fence, "exercise %s already has a solution, at line %d", name, ex.SolutionLine)
	}
	files, err := splitFiles(src, fence)
	if err != nil {
		return nil, err
	}
	if err := checkReplaces(ex, files, fence, "solution"); err != nil {
		return nil, err
	}
	ex.Solution, ex.SolutionLine = files, fence
	return &solutionNode{exercise: ex}, nil
}

// finish reports what only the whole lesson shows: solutions that come
// before their exercise or have none, and exercises without a solution.
func (x *exercises) finish(cells []*Cell) []error {
	var errs []error
	for _, s := range x.pending {
		if x.broken[s.name] {
			continue
		}
		if ex, ok := x.byName[s.name]; ok {
			errs = append(errs, errorAt(s.line, "solution=%s comes before its exercise at line %d: put it after", s.name, ex.Line))
		} else {
			errs = append(errs, errorAt(s.line, "solution=%[1]s: the lesson has no exercise %[1]s (a cell with exercise=%[1]s)", s.name))
		}
	}
	for _, c := range cells {
		if c.Exercise != "" && c.Solution == nil && !x.named[c.Exercise] {
			errs = append(errs, errorAt(c.Line, "exercise %s has no solution: add a ```go {solution=%[1]s} block after it", c.Exercise))
		}
	}
	return errs
}
