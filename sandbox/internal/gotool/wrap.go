package gotool

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// ExitPackage is the import path of racelab's exit report, which WrapMain
// has the program's main defer. No toolchain has it: the build's overlay
// (OverlayFile, which PlanFor passes to go build in the run and race
// modes) adds it to GOROOT, so the go command builds it as it builds the
// standard library, once, into the warm build cache, and keys it by its
// source alone (not by where the sources are, as it does a package of
// the learner's module). Compiled as a second file of every program's
// package main it cost each build ~20 ms. Its frames are never User.
const ExitPackage = "racelabexit"

// ExitSourceFile holds ExitPackage's source beside the program's files,
// and OverlayFile is the go command's -overlay that puts it in GOROOT.
// Neither name ends in .go, so the go command does not take them for
// the program's, and no submitted file can have them (only .go files and
// go.mod are accepted).
const (
	ExitSourceFile = "zz_racelab_exit.txt"
	OverlayFile    = "zz_racelab_overlay.json"
)

// LeakHeader is the line the wrapped program prints on standard error,
// before runtime.Stack's dump of every goroutine, when goroutines are
// still running after the user's main returned.
const LeakHeader = "racelab: goroutines still running when main returned:"

// exitSrc is ExitPackage's source: when the program's main returns (not
// when it panics or calls runtime.Goexit: then the runtime has its own
// story to tell), Report lets goroutines that are finishing end for up to
// ~50 ms, and prints the goroutines still alive that run (or were
// started by) package main's code; nothing when there are none.
const exitSrc = `// Package racelabexit is racelab's report of the goroutines a program
// leaves running when its main returns.
package racelabexit

import (
	"os"
	"runtime"
	"strings"
	"time"
)

// Report is deferred by the program's main.
func Report() {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for more := true; more; {
		var f runtime.Frame
		f, more = frames.Next()
		if f.Function == "runtime.gopanic" || f.Function == "runtime.Goexit" {
			return // main did not return: it panics, or it exits the goroutine
		}
	}
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
	// Only goroutines of the program's own code are worth a word: the
	// runtime's and the standard library's (os/signal's loop) are not
	// the learner's leak.
	var mine []string
	for _, g := range strings.Split(string(buf[:n]), "\n\n") {
		if strings.Contains(g, "` + ExitPackage + `.Report") {
			continue
		}
		if strings.Contains(g, "\nmain.") || strings.Contains(g, "created by main.") {
			mine = append(mine, g)
		}
	}
	if len(mine) == 0 {
		return
	}
	os.Stderr.WriteString("` + LeakHeader + `\n" + strings.Join(mine, "\n\n") + "\n")
}
`

// exitFiles returns the files that give a build in goroot the exit
// package: its source and the overlay that puts it in GOROOT.
func exitFiles(goroot string) map[string]string {
	overlay, _ := json.Marshal(map[string]map[string]string{"Replace": {
		filepath.Join(goroot, "src", ExitPackage, "report.go"): ExitSourceFile,
	}})
	return map[string]string{ExitSourceFile: exitSrc, OverlayFile: string(overlay)}
}

// WrapMain returns files with the program's func main deferring
// ExitPackage's report: "; import racelabExit "racelabexit"" goes right
// after the package clause of main's file and "defer
// racelabExit.Report();" right after main's opening brace, each of which
// must end its line, so that no line and no column of the submitted code
// moves, and main stays main in every stack and report. The build needs
// the exit package's files and overlay (Source adds them). It returns
// files unchanged and false when a file does not parse, package main has
// no func main() (or it or its package clause is followed by more code on
// its line), or the names it adds are taken: the build then reports what
// it reports without racelab. It also leaves a program without a go
// statement as it is: no goroutine of its own code can be running when
// its main returns.
func WrapMain(files map[string]string) (map[string]string, bool) {
	return wrap(files, Tracing{})
}

// wrap is WrapMain, which also makes the program trace itself when t
// asks for it (see Tracing): then it wraps a program without a go
// statement too, and one whose main is written on one line (the columns
// after main's brace on that line move; no line does).
func wrap(files map[string]string, t Tracing) (map[string]string, bool) {
	if _, ok := files[TraceWrapFile]; ok {
		return files, false
	}
	mainFile, pkgEnd, brace, goStmt := "", -1, -1, false
	for name, src := range files {
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || path.Dir(name) != "." {
			continue
		}
		f, fset, err := parse(name, src)
		if err != nil {
			return files, false
		}
		if f.Name.Name != "main" {
			continue
		}
		if clash(f) {
			return files, false
		}
		goStmt = goStmt || hasGo(f)
		if b := mainBrace(f, fset); b >= 0 {
			if brace >= 0 {
				return files, false // two mains: the compiler says so
			}
			mainFile, brace, pkgEnd = name, b, fset.Position(f.Name.End()).Offset
		}
	}
	if brace < 0 {
		return files, false
	}
	src := files[mainFile]
	leaks := goStmt && endsLine(src, brace+1) && endsLine(src, pkgEnd)
	if !leaks && !t.On() {
		return files, false
	}
	out := maps.Clone(files)
	imports, deferred := "", ""
	if leaks {
		imports = "; import racelabExit " + strconv.Quote(ExitPackage)
		deferred = "defer racelabExit.Report();"
	}
	if t.On() {
		// Deferred after the report, so run before it: the tracer stops
		// as main returns, and its goroutine is gone before the report
		// looks for goroutines left running.
		deferred += "defer racelabTraceStart()();"
		out[TraceWrapFile] = t.source()
	}
	out[mainFile] = src[:pkgEnd] + imports + src[pkgEnd:brace+1] + deferred + src[brace+1:]
	return out, true
}

func parse(name, src string) (*ast.File, *token.FileSet, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	return f, fset, err
}

// mainBrace returns the offset of the opening brace of f's func main(),
// or -1 when f has none (or main takes parameters, results or type
// parameters: the compiler says what is wrong).
func mainBrace(f *ast.File, fset *token.FileSet) int {
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Recv != nil || fd.Name.Name != "main" || fd.Body == nil {
			continue
		}
		if fd.Type.TypeParams != nil || fd.Type.Params.NumFields() > 0 || fd.Type.Results.NumFields() > 0 {
			return -1
		}
		return fset.Position(fd.Body.Lbrace).Offset
	}
	return -1
}

// clash reports whether f uses a name the wrapper adds (its import's
// name, the trace wrapper's functions): every name starting with racelab
// is the wrapper's.
func clash(f *ast.File) bool {
	taken := false
	ast.Inspect(f, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && strings.HasPrefix(id.Name, "racelab") {
			taken = true
		}
		return !taken
	})
	return taken
}

// hasGo reports whether f has a go statement.
func hasGo(f *ast.File) bool {
	found := false
	ast.Inspect(f, func(n ast.Node) bool {
		if _, ok := n.(*ast.GoStmt); ok {
			found = true
		}
		return !found
	})
	return found
}

// endsLine reports whether only blanks or a // comment follow offset i of
// src on its line.
func endsLine(src string, i int) bool {
	rest, _, _ := strings.Cut(src[i:], "\n")
	rest = strings.TrimSpace(rest)
	return rest == "" || strings.HasPrefix(rest, "//")
}
