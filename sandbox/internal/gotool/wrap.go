package gotool

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path"
	"strings"
)

// WrapFile is the file WrapMain adds to a program. It is racelab's, never
// the learner's: frames in it are never User.
const WrapFile = "zz_racelab_main.go"

// LeakHeader is the line the wrapped program prints on standard error,
// before runtime.Stack's dump of every goroutine, when goroutines are
// still running after the user's main returned.
const LeakHeader = "racelab: goroutines still running when main returned:"

// userMain is the name WrapMain gives the user's func main.
const userMain = "racelabUserMain"

// wrapSrc is WrapFile's text: it runs the user's main, lets goroutines
// that are finishing end for up to ~50 ms, and prints every goroutine
// still alive. The reporting goroutine's own stack (frames in WrapFile)
// is in the dump; ExitGoroutines drops it.
const wrapSrc = `package main

import (
	"os"
	"runtime"
	"time"
)

func main() {
	racelabUserMain()
	racelabReportLeaks()
}

func racelabReportLeaks() {
	deadline := time.Now().Add(50 * time.Millisecond)
	for runtime.NumGoroutine() > 1 && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
	if runtime.NumGoroutine() <= 1 {
		return
	}
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	os.Stderr.WriteString("` + LeakHeader + `\n")
	os.Stderr.Write(buf[:n])
}
`

// WrapMain returns files with the program's func main renamed to
// racelabUserMain and WrapFile added, whose main calls it and then
// reports the goroutines still running. The rename splices the
// identifier in place, so every line and column of the submitted files
// stays where it was. It returns files unchanged and false when a file
// does not parse, package main has no func main(), or the names it adds
// are taken: the build then reports what it reports without racelab.
func WrapMain(files map[string]string) (map[string]string, bool) {
	if _, ok := files[WrapFile]; ok {
		return files, false
	}
	mainFile, mainOff := "", -1
	for name, src := range files {
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || path.Dir(name) != "." {
			continue
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
		if err != nil {
			return files, false
		}
		if f.Name.Name != "main" {
			continue
		}
		var decl *ast.FuncDecl
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if ok && fd.Recv == nil && fd.Name.Name == "main" {
				if mainOff >= 0 || fd.Type.TypeParams != nil || fd.Type.Params.NumFields() > 0 || fd.Type.Results.NumFields() > 0 {
					return files, false // the compiler says what is wrong
				}
				decl = fd
				mainFile, mainOff = name, fset.Position(fd.Name.Pos()).Offset
			}
		}
		// Names that cannot mean the func: the package clause, the
		// declaration itself, method names and selectors (x.main).
		skip := map[*ast.Ident]bool{f.Name: true}
		if decl != nil {
			skip[decl.Name] = true
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncDecl:
				if n.Recv != nil {
					skip[n.Name] = true
				}
			case *ast.SelectorExpr:
				skip[n.Sel] = true
			}
			return true
		})
		ok := true
		ast.Inspect(f, func(n ast.Node) bool {
			if id, isID := n.(*ast.Ident); isID {
				switch {
				case id.Name == userMain || id.Name == "racelabReportLeaks":
					ok = false
				case id.Name == "main" && !skip[id]:
					// A use of main, or a local or field named main:
					// renaming only the declaration could break it.
					ok = false
				}
			}
			return ok
		})
		if !ok {
			return files, false
		}
	}
	if mainOff < 0 {
		return files, false
	}
	out := make(map[string]string, len(files)+1)
	for k, v := range files {
		out[k] = v
	}
	src := files[mainFile]
	out[mainFile] = src[:mainOff] + userMain + src[mainOff+len("main"):]
	out[WrapFile] = wrapSrc
	return out, true
}
