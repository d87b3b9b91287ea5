package gotool

import (
	"encoding/json"
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
	want := strings.Replace(wrapUser, "func main() {", "func main() {defer racelabExit.Report();", 1)
	want = strings.Replace(want, "package main\n", "package main; import racelabExit \"racelabexit\"\n", 1)
	if got != want {
		t.Errorf("main.go =\n%s\nwant\n%s", got, want)
	}
	// Line numbers stay: the same lines, only code added at the end of
	// the package clause's line and after main's brace.
	gl, wl := strings.Split(got, "\n"), strings.Split(wrapUser, "\n")
	if len(gl) != len(wl) {
		t.Fatalf("main.go has %d lines, want %d", len(gl), len(wl))
	}
	for i := range gl {
		if gl[i] != wl[i] && wl[i] != "func main() {" && wl[i] != "package main" {
			t.Errorf("line %d = %q, want %q", i+1, gl[i], wl[i])
		}
	}
	if out["util.go"] != in["util.go"] || out["go.mod"] != in["go.mod"] || len(out) != 3 {
		t.Errorf("WrapMain changed the other files: %v", slices.Sorted(maps.Keys(out)))
	}
	for name, src := range out {
		if strings.HasSuffix(name, ".go") {
			if _, err := parser.ParseFile(token.NewFileSet(), name, src, 0); err != nil {
				t.Errorf("%s does not parse: %v", name, err)
			}
		}
	}
}

// The exit package's files put its source in GOROOT through the
// overlay the run and race modes build with, and only there.
func TestExitFiles(t *testing.T) {
	files := exitFiles("/opt/go")
	src := files[ExitSourceFile]
	if !strings.Contains(src, LeakHeader) || !strings.Contains(src, "func Report()") || !strings.Contains(src, "runtime.gopanic") ||
		!strings.Contains(src, "package "+ExitPackage+"\n") {
		t.Errorf("%s lacks the package clause, the header, the report or its check for a panic:\n%s", ExitSourceFile, src)
	}
	var overlay struct{ Replace map[string]string }
	if err := json.Unmarshal([]byte(files[OverlayFile]), &overlay); err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"/opt/go/src/racelabexit/report.go": ExitSourceFile}; !maps.Equal(overlay.Replace, want) {
		t.Errorf("overlay = %v, want %v", overlay.Replace, want)
	}
	for _, m := range []sandbox.Mode{sandbox.ModeRun, sandbox.ModeRace, sandbox.ModeTest, sandbox.ModeBench, sandbox.ModeVet, sandbox.ModeAsm, sandbox.ModeFmt} {
		reads := slices.Contains(PlanFor(m, "prog").Build, "-overlay="+OverlayFile)
		_, has := Source(map[string]string{"main.go": wrapUser}, m, Tracing{}, "/opt/go")[OverlayFile]
		if want := m == sandbox.ModeRun || m == sandbox.ModeRace; reads != want || has != want {
			t.Errorf("%s: build reads the overlay %v, has it %v; want %v", m, reads, has, want)
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
		"racelabUserMain as a local":    {"main.go": "package main\n\nfunc main() { racelabUserMain := 1; _ = racelabUserMain }\n"},
		"main used":                     {"main.go": "package main\n\nvar f = main\n\nfunc main() {}\n"},
		"not package main":              {"lib.go": "package lib\n\nfunc main() {}\n"},
		"main with parameters":          {"main.go": "package main\n\nfunc main(x int) {}\n"},
		"main on one line":              {"main.go": "package main\n\nfunc main() { go println() }\n"},
		"code after the package clause": {"main.go": "package main; import \"fmt\"\n\nfunc main() {\n\tgo fmt.Println()\n}\n"},
		"racelabExit taken":             {"main.go": "package main\n\nfunc main() {\n\tgo println()\n}\n", "b.go": "package main\n\nvar racelabExit int\n"},
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

	// The goroutine that prints the report is never listed, though it
	// runs the learner's main.
	reporter := LeakHeader + "\ngoroutine 1 [running]:\nracelabexit.Report()\n\t/usr/local/go/src/racelabexit/report.go:40 +0x1\n" +
		"main.main()\n\t/work/main.go:12 +0x2\n\n" + strings.TrimPrefix(stderr, LeakHeader+"\n")
	if gs := ExitGoroutines(reporter, mainGo, "/work"); len(gs) != 1 || gs[0].ID != 5 {
		t.Errorf("with the reporting goroutine: %+v, want goroutine 5 alone", gs)
	}
	// The timeout and deadlock parser does not take the exit report for
	// its own.
	if cause, _ := Goroutines(stderr, mainGo, "/work"); cause != "" {
		t.Errorf("Goroutines cause = %q, want none", cause)
	}
	if gs := ExitGoroutines("goroutine 5 [chan send]:\nmain.f()\n\t/work/main.go:3 +0x1\n", mainGo, "/work"); gs != nil {
		t.Errorf("without the header: %+v, want nil", gs)
	}
	noUser := LeakHeader + "\ngoroutine 1 [running]:\nracelabexit.Report()\n\t/usr/local/go/src/racelabexit/report.go:40 +0x1\n\n" +
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

// The wrapper's import is aliased and its code is in its own package, so
// a program whose package-level names are those of the wrapper's packages
// still builds once wrapped; built as the race mode builds it (the exit
// package from the overlay) and run, it reports the goroutine it leaves
// blocked, on the learner's line, and nothing else.
func TestWrappedProgramReportsLeaks(t *testing.T) {
	main := "package main\n\nvar os, runtime, strings, time = 1, 2, 3, 4\n\nfunc main() { // the brace may carry a comment\n\tc := make(chan int)\n\tgo func() { c <- os + runtime + strings + time }()\n}\n"
	goroot := strings.TrimSpace(goEnv(t, "GOROOT"))
	files := Source(map[string]string{"main.go": main}, sandbox.ModeRace, Tracing{}, goroot)
	if !strings.Contains(files["main.go"], "racelabExit.Report()") {
		t.Fatalf("Source did not wrap the program:\n%s", files["main.go"])
	}
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	plan := PlanFor(sandbox.ModeRace, filepath.Join(dir, "prog"))
	cmd := exec.Command(plan.Build[0], plan.Build[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false", "GOTOOLCHAIN=local", "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the wrapped program does not build: %v\n%s", err, out)
	}
	var stderr strings.Builder
	run := exec.Command(plan.Binary)
	run.Env, run.Stderr = []string{"GORACE=atexit_sleep_ms=0"}, &stderr
	if err := run.Run(); err != nil {
		t.Fatalf("the wrapped program failed: %v\n%s", err, stderr.String())
	}
	gs := ExitGoroutines(stderr.String(), mainGo, dir)
	if len(gs) != 1 || gs[0].Top == nil || gs[0].Top.Line != 7 || gs[0].State != "chan send" {
		t.Errorf("exit goroutines = %+v, want one, in chan send on main.go:7; stderr:\n%s", gs, stderr.String())
	}
	if strings.Count("\n"+stderr.String(), "\ngoroutine ") != 1 {
		t.Errorf("the report lists more than the leaked goroutine:\n%s", stderr.String())
	}
}

// goEnv returns the go command's value of the environment variable key.
func goEnv(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", key, err)
	}
	return string(out)
}
