package gotool

import (
	"go/parser"
	"go/token"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/racelab/racelab/sandbox"
)

const wrapUser = `package main

import "fmt"

type T struct{}

func (T) main() {} // a method named main is not the program's main

func main() {
	var t T
	t.main()
	go fmt.Println("hi")
}
`

func TestWrapMain(t *testing.T) {
	in := map[string]string{"main.go": wrapUser, "go.mod": "module m\n", "util.go": "package main\n\nfunc helper() {}\n"}
	out, ok := WrapMain(in)
	if !ok {
		t.Fatal("WrapMain did not wrap")
	}
	if len(in) != 3 || in["main.go"] != wrapUser {
		t.Error("WrapMain changed its argument")
	}
	got := out["main.go"]
	want := strings.Replace(wrapUser, "func main() {", "func main() {defer racelabReportLeaks();", 1)
	if got != want {
		t.Errorf("main.go =\n%s\nwant\n%s", got, want)
	}
	// Line numbers stay: the same lines, only the identifier changed.
	gl, wl := strings.Split(got, "\n"), strings.Split(wrapUser, "\n")
	if len(gl) != len(wl) {
		t.Fatalf("main.go has %d lines, want %d", len(gl), len(wl))
	}
	for i := range gl {
		if gl[i] != wl[i] && wl[i] != "func main() {" {
			t.Errorf("line %d = %q, want %q", i+1, gl[i], wl[i])
		}
	}
	if out["util.go"] != in["util.go"] || out["go.mod"] != in["go.mod"] {
		t.Error("WrapMain changed the other files")
	}
	w, ok := out[WrapFile]
	if !ok || len(out) != 4 {
		t.Fatalf("files = %v, want the input and %s", slices.Sorted(maps.Keys(out)), WrapFile)
	}
	if !strings.Contains(w, LeakHeader) || !strings.Contains(w, "func racelabReportLeaks()") || !strings.Contains(w, "runtime.gopanic") {
		t.Errorf("%s lacks the header, the report or its check for a panic:\n%s", WrapFile, w)
	}
	for name, src := range out {
		if strings.HasSuffix(name, ".go") {
			if _, err := parser.ParseFile(token.NewFileSet(), name, src, 0); err != nil {
				t.Errorf("%s does not parse: %v", name, err)
			}
		}
	}
}

func TestWrapMainUnchanged(t *testing.T) {
	tests := map[string]map[string]string{
		"no main":             {"main.go": "package main\n\nfunc helper() {}\n"},
		"only a method main":  {"main.go": "package main\n\ntype T struct{}\n\nfunc (T) main() {}\n"},
		"syntax error":        {"main.go": "package main\n\nfunc main() {\n\tx :=\n}\n"},
		"syntax error beside": {"main.go": "package main\n\nfunc main() {}\n", "b.go": "package main\n\nfunc (\n"},
		"racelabUserMain taken": {"main.go": "package main\n\nfunc main() { racelabUserMain() }\n",
			"b.go": "package main\n\nfunc racelabUserMain() {}\n"},
		"racelabUserMain as a local": {"main.go": "package main\n\nfunc main() { racelabUserMain := 1; _ = racelabUserMain }\n"},
		"main used":                  {"main.go": "package main\n\nvar f = main\n\nfunc main() {}\n"},
		"not package main":           {"lib.go": "package lib\n\nfunc main() {}\n"},
		"main with parameters":       {"main.go": "package main\n\nfunc main(x int) {}\n"},
		"wrapper file present":       {"main.go": "package main\n\nfunc main() {}\n", WrapFile: "package main\n"},
		"main on one line":           {"main.go": "package main\n\nfunc main() { go println() }\n"},
	}
	for name, files := range tests {
		t.Run(name, func(t *testing.T) {
			before := maps.Clone(files)
			out, ok := WrapMain(files)
			if ok {
				t.Errorf("WrapMain wrapped; files = %v", out)
			}
			if !maps.Equal(out, before) || !maps.Equal(files, before) {
				t.Errorf("files changed: %v", out)
			}
		})
	}
}

// goroutines-exit.txt is the standard error of testdata/src/goroutines-exit.go
// run in the runc sandbox in run mode, wrapped by WrapMain.
func TestExitGoroutines(t *testing.T) {
	stderr := readTestdata(t, "goroutines-exit.txt")
	gs := ExitGoroutines(stderr, mainGo, "/work")
	var got []string
	for _, g := range gs {
		got = append(got, goroutineSummary(g))
	}
	want := []string{"5 [chan send] main.go:9 main.main.func1"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ExitGoroutines =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	checkGolden(t, "goroutines-exit.golden.json", gs)

	// Frames in the wrapper are never the learner's, even if a file of
	// that name is among the user files.
	withWrap := map[string]bool{"main.go": true, WrapFile: true}
	if gs := ExitGoroutines(stderr, withWrap, "/work"); len(gs) != 1 || gs[0].ID != 5 {
		t.Errorf("with %s as a user file: %+v", WrapFile, gs)
	}
	// The timeout and deadlock parser does not take the exit report for
	// its own.
	if cause, _ := Goroutines(stderr, mainGo, "/work"); cause != "" {
		t.Errorf("Goroutines cause = %q, want none", cause)
	}
	if gs := ExitGoroutines("goroutine 5 [chan send]:\nmain.f()\n\t/work/main.go:3 +0x1\n", mainGo, "/work"); gs != nil {
		t.Errorf("without the header: %+v, want nil", gs)
	}
	noUser := LeakHeader + "\ngoroutine 1 [running]:\nmain.racelabReportLeaks()\n\t/work/zz_racelab_main.go:24 +0x1\n\n" +
		"goroutine 6 [select]:\nos/signal.loop()\n\t/usr/local/go/src/os/signal/signal_unix.go:23 +0x1\n"
	if gs := ExitGoroutines(noUser, mainGo, "/work"); len(gs) != 0 {
		t.Errorf("without a user frame: %+v, want none", gs)
	}
}

func TestEmitViewsExit(t *testing.T) {
	var evs []sandbox.Event
	emit := func(e sandbox.Event) { evs = append(evs, e) }
	files := map[string]string{"main.go": ""}
	EmitViews(emit, 0, readTestdata(t, "goroutines-exit.txt"), false, files, "/work")
	if len(evs) != 1 || evs[0].Kind != sandbox.KindGoroutines || evs[0].Cause != sandbox.CauseExit || len(evs[0].Goroutines) != 1 {
		t.Fatalf("events = %+v, want one goroutines event with cause exit", evs)
	}
	evs = nil
	EmitViews(emit, 0, "hello\n", false, files, "/work")
	if len(evs) != 0 {
		t.Errorf("events = %+v, want none", evs)
	}
}

// A program without a go statement has no goroutine of its own to leave
// running: it is built as it is, without the wrapper's cost.
func TestWrapMainOnlyWithGoroutines(t *testing.T) {
	in := map[string]string{"main.go": "package main\n\nfunc main() {\n\tprintln(1)\n}\n", "util.go": "package main\n\nfunc f() { go f() }\n"}
	if _, ok := WrapMain(in); !ok {
		t.Error("a go statement in another file: not wrapped")
	}
	in["util.go"] = "package main\n\nfunc f() {}\n"
	if out, ok := WrapMain(in); ok || len(out) != 2 {
		t.Errorf("no go statement anywhere: wrapped (%v)", slices.Sorted(maps.Keys(out)))
	}
}

// The wrapper's imports are aliased, so a program whose package-level
// names are those of the wrapper's packages still builds once wrapped.
func TestWrapMainBuildsWithClashingNames(t *testing.T) {
	files := map[string]string{"go.mod": GoMod, "main.go": "package main\n\nvar os, runtime, strings, time = 1, 2, 3, 4\n\nfunc main() { // the brace may carry a comment\n\tgo println(os + runtime + strings + time)\n}\n"}
	wrapped, ok := WrapMain(files)
	if !ok {
		t.Fatal("WrapMain refused a program it can wrap")
	}
	dir := t.TempDir()
	for name, body := range wrapped {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "build", "-o", os.DevNull, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("the wrapped program does not build: %v\n%s", err, out)
	}
}
