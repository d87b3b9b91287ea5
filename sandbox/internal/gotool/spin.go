package gotool

import (
	"go/ast"
	"go/token"
	"strings"

	"github.com/racelab/racelab/sandbox"
)

// placeSpins gives the frames of goroutines spinning in an empty loop the
// loop's line. The compiler gives the jump of "for {}" no line of its
// own, so a dump of a goroutine caught there says line 1 of the file
// (Go 1.26: "main.go:1 +0x1"), the package clause, and the page would
// mark that line. A user frame whose line is at or before its file's
// package clause, in a function (or a function literal of it, for a
// frame of one) holding exactly one empty loop, is moved to that loop;
// any other frame stays as the runtime printed it.
func placeSpins(gs []sandbox.Goroutine, files map[string]string) {
	type source struct {
		f    *ast.File
		fset *token.FileSet
	}
	sources := map[string]*source{}
	for i := range gs {
		g := &gs[i]
		for k := range g.Stack {
			f := &g.Stack[k]
			if !f.User {
				continue
			}
			src, ok := sources[f.File]
			if !ok {
				if af, fset, err := parse(f.File, files[f.File]); err == nil {
					src = &source{af, fset}
				}
				sources[f.File] = src
			}
			if src == nil || f.Line > src.fset.Position(src.f.Name.End()).Line {
				continue
			}
			if line := spinLine(src.f, src.fset, f.Func); line > 0 {
				f.Line = line
			}
		}
		g.Top = topFrame(g.Stack)
	}
}

// spinLine returns the line of the one empty infinite loop of the
// function fn names in f ("main.spin", "main.(*T).run", or a function
// literal of one: "main.main.func1"), or 0 when it has none or more than
// one.
func spinLine(f *ast.File, fset *token.FileSet, fn string) int {
	name, ok := strings.CutPrefix(fn, "main.")
	if !ok {
		return 0
	}
	name, _, literal := strings.Cut(name, ".func")
	recv, method, isMethod := strings.Cut(strings.NewReplacer("(", "", ")", "", "*", "", "[...]", "").Replace(name), ".")
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Body == nil {
			continue
		}
		if isMethod != (fd.Recv != nil) || (!isMethod && fd.Name.Name != name) || (isMethod && (fd.Name.Name != method || recvName(fd) != recv)) {
			continue
		}
		var found []int
		var walk func(n ast.Node, inLiteral bool)
		walk = func(n ast.Node, inLiteral bool) {
			ast.Inspect(n, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.FuncLit:
					if !inLiteral {
						walk(n.Body, true)
						return false
					}
				case *ast.ForStmt:
					if n.Init == nil && n.Cond == nil && n.Post == nil && len(n.Body.List) == 0 && inLiteral == literal {
						found = append(found, fset.Position(n.For).Line)
					}
				}
				return true
			})
		}
		walk(fd.Body, false)
		if len(found) == 1 {
			return found[0]
		}
		return 0
	}
	return 0
}

// recvName is the name of fd's receiver type, without a pointer or type
// parameters.
func recvName(fd *ast.FuncDecl) string {
	t := fd.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	switch x := t.(type) {
	case *ast.IndexExpr:
		t = x.X
	case *ast.IndexListExpr:
		t = x.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}
