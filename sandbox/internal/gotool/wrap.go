package gotool

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
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

// wrapSrc is WrapFile's text: when the program's main returns (not
// when it panics or calls runtime.Goexit: then the runtime has its own
// story to tell), it lets goroutines that are finishing end for up to
// ~50 ms, and prints the goroutines still alive that run (or were
// started by) package main's code; nothing when there are none. WrapMain
// has main defer it.
const wrapSrc = `package main

import (
	racelabOS "os"
	racelabRuntime "runtime"
	racelabStrings "strings"
	racelabTime "time"
)

func racelabReportLeaks() {
	pcs := make([]uintptr, 32)
	frames := racelabRuntime.CallersFrames(pcs[:racelabRuntime.Callers(2, pcs)])
	for more := true; more; {
		var f racelabRuntime.Frame
		f, more = frames.Next()
		if f.Function == "runtime.gopanic" || f.Function == "runtime.Goexit" {
			return // main did not return: it panics, or it exits the goroutine
		}
	}
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

// WrapMain returns files with WrapFile added and the program's func main
// deferring its report: "defer racelabReportLeaks();" goes right after
// main's opening brace, which must end its line, so that no line and no
// column of the submitted code moves, and main stays main in every stack
// and report. It returns files unchanged and false when a file does not
// parse, package main has no func main() (or it is written on one line),
// or the names it adds are taken: the build then reports what it reports
// without racelab. It also leaves a program without a go statement as it
// is: no goroutine of its own code can be running when its main returns,
// and the wrapper costs every build (~15 ms) a second file to compile.
func WrapMain(files map[string]string) (map[string]string, bool) {
	return wrap(files, Tracing{})
}

// wrap is WrapMain, which also makes the program trace itself when t
// asks for it (see Tracing): then it wraps a program without a go
// statement too, and one whose main is written on one line (the columns
// after main's brace on that line move; no line does).
func wrap(files map[string]string, t Tracing) (map[string]string, bool) {
	if _, ok := files[WrapFile]; ok {
		return files, false
	}
	if _, ok := files[TraceWrapFile]; ok {
		return files, false
	}
	mainFile, brace, goStmt := "", -1, false
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
			mainFile, brace = name, b
		}
	}
	if brace < 0 {
		return files, false
	}
	leaks := goStmt && endsLine(files[mainFile], brace+1)
	if !leaks && !t.On() {
		return files, false
	}
	out := maps.Clone(files)
	src, added := files[mainFile], ""
	if leaks {
		added = "defer racelabReportLeaks();"
		out[WrapFile] = wrapSrc
	}
	if t.On() {
		// Deferred after the report, so run before it: the tracer stops
		// as main returns, and its goroutine is gone before the report
		// looks for goroutines left running.
		added += "defer racelabTraceStart()();"
		out[TraceWrapFile] = t.source()
	}
	out[mainFile] = src[:brace+1] + added + src[brace+1:]
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

// clash reports whether f uses a name the wrapper adds (its function, its
// import aliases): every name starting with racelab is the wrapper's.
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
