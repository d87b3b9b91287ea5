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

// Renamed is how the user's main shows in tracebacks and race reports of
// a wrapped program ("main.racelabUserMain.func1"), and Original what a
// learner should read there instead: backends rewrite one to the other in
// the output they stream.
const (
	Renamed  = "main." + userMain
	Original = "main.main"
)

// wrapSrc is WrapFile's text: it runs the user's main, lets goroutines
// that are finishing end for up to ~50 ms, and prints the goroutines
// still alive that run (or were started by) package main's code; nothing
// when there are none.
const wrapSrc = `package main

import (
	racelabOS "os"
	racelabRuntime "runtime"
	racelabStrings "strings"
	racelabTime "time"
)

func main() {
	racelabUserMain()
	racelabReportLeaks()
}

func racelabReportLeaks() {
	deadline := racelabTime.Now().Add(50 * racelabTime.Millisecond)
	for racelabRuntime.NumGoroutine() > 1 && racelabTime.Now().Before(deadline) {
		racelabRuntime.Gosched()
		racelabTime.Sleep(racelabTime.Millisecond)
	}
	if racelabRuntime.NumGoroutine() <= 1 {
		return
	}
	buf := make([]byte, 1<<20)
	n := racelabRuntime.Stack(buf, true)
	// Only goroutines of the program's own code are worth a word: the
	// runtime's and the standard library's (os/signal's loop) are not
	// the learner's leak.
	var mine []string
	for _, g := range racelabStrings.Split(string(buf[:n]), "\n\n") {
		if racelabStrings.Contains(g, "racelabReportLeaks") {
			continue
		}
		if racelabStrings.Contains(g, "\nmain.") || racelabStrings.Contains(g, "created by main.") {
			mine = append(mine, g)
		}
	}
	if len(mine) == 0 {
		return
	}
	racelabOS.Stderr.WriteString("` + LeakHeader + `\n" + racelabStrings.Join(mine, "\n\n") + "\n")
}
`

// WrapMain returns files with the program's func main renamed to
// racelabUserMain and WrapFile added, whose main calls it and then
// reports the goroutines still running. The rename splices the
// identifier in place, so every line and column of the submitted files
// stays where it was. It returns files unchanged and false when a file
// does not parse, package main has no func main(), or the names it adds
// are taken: the build then reports what it reports without racelab. It
// also leaves a program without a go statement as it is: no goroutine of
// its own code can be running when its main returns, and the wrapper
// costs every build (~15 ms) a second file to compile.
func WrapMain(files map[string]string) (map[string]string, bool) {
	if _, ok := files[WrapFile]; ok {
		return files, false
	}
	mainFile, mainOff, goStmt := "", -1, false
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
			if _, isGo := n.(*ast.GoStmt); isGo {
				goStmt = true
			}
			if id, isID := n.(*ast.Ident); isID {
				switch {
				case strings.HasPrefix(id.Name, "racelab"):
					// The wrapper's own names (and its import aliases,
					// chosen so that no package-level name of the
					// program clashes with them) must be free.
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
	if mainOff < 0 || !goStmt {
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
