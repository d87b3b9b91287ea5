package gotool

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/racelab/racelab/sandbox"
)

var update = flag.Bool("update", false,
	"capture testdata/asm.txt with the Go toolchain and rewrite the golden files")

func TestDiagnostics(t *testing.T) {
	ce := func(file string, line, col int, msg string) sandbox.Event {
		return sandbox.Event{Kind: sandbox.KindCompileError, File: file, Line: line, Col: col, Msg: msg}
	}
	tests := []struct {
		name string
		out  string
		want []sandbox.Event
	}{
		{
			name: "build",
			out:  "# prog\n./main.go:7:2: undefined: x\n./main.go:8:2: declared and not used: y\n",
			want: []sandbox.Event{ce("main.go", 7, 2, "undefined: x"), ce("main.go", 8, 2, "declared and not used: y")},
		},
		{
			name: "vet",
			out:  "# prog\n# [prog]\nvet: ./main.go:4:2: undefined: y\n",
			want: []sandbox.Event{ce("main.go", 4, 2, "undefined: y")},
		},
		{
			name: "test file",
			out:  "# prog [prog.test]\n./main_test.go:5:3: (*testing.common).Errorf format %d has arg s of wrong type string\n",
			want: []sandbox.Event{ce("main_test.go", 5, 3, "(*testing.common).Errorf format %d has arg s of wrong type string")},
		},
		{
			name: "absolute path",
			out:  "/work/main.go:3:1: syntax error: non-declaration statement outside function body\n",
			want: []sandbox.Event{ce("main.go", 3, 1, "syntax error: non-declaration statement outside function body")},
		},
		{
			name: "no column",
			out:  "main.go:9: msg",
			want: []sandbox.Event{ce("main.go", 9, 0, "msg")},
		},
		{
			name: "message with colons and a path",
			out:  `./main.go:3:14: cannot use "a" (untyped string constant) as int value in variable declaration: see ./b.go:1:1`,
			want: []sandbox.Event{ce("main.go", 3, 14, `cannot use "a" (untyped string constant) as int value in variable declaration: see ./b.go:1:1`)},
		},
		{
			name: "CRLF",
			out:  "./main.go:1:1: x\r\n",
			want: []sandbox.Event{ce("main.go", 1, 1, "x")},
		},
		{
			name: "indented continuation is not a diagnostic",
			out:  "# prog\n./main.go:6:2: x redeclared in this block\n\t./main.go:5:2: other declaration of x\n",
			want: []sandbox.Event{ce("main.go", 6, 2, "x redeclared in this block")},
		},
		{
			name: "nothing to place",
			out:  "# prog\ngo: updates to go.mod needed\nexit status 1\n",
			want: nil,
		},
		{name: "empty", out: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Diagnostics(tt.out)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Diagnostics(%q) =\n%+v\nwant\n%+v", tt.out, got, tt.want)
			}
		})
	}
}

func TestEmitDiagnostics(t *testing.T) {
	tests := []struct {
		name      string
		text      string
		truncated bool
		want      []sandbox.Event
	}{
		{"empty", "", false, nil},
		{
			name: "placed and not",
			text: "# prog\n./main.go:7:2: undefined: x\n",
			want: []sandbox.Event{
				{Kind: sandbox.KindCompileError, File: "main.go", Line: 7, Col: 2, Msg: "undefined: x"},
				{Kind: sandbox.KindStderr, Data: "# prog\n./main.go:7:2: undefined: x\n"},
			},
		},
		{
			name: "truncated", text: "# prog\n", truncated: true,
			want: []sandbox.Event{{Kind: sandbox.KindStderr, Data: "# prog\n\n[output truncated]\n"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []sandbox.Event
			EmitDiagnostics(func(e sandbox.Event) { got = append(got, e) }, tt.text, tt.truncated)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("EmitDiagnostics(%q, %v) emitted\n%+v\nwant\n%+v", tt.text, tt.truncated, got, tt.want)
			}
		})
	}
}

// asmProgram is compiled for testdata/asm.txt. It has an atomic add, a
// channel send, inlined standard-library code (sync.Mutex), generic
// instantiations whose names hold spaces, and data symbols (a global
// array, string literals) that must not leak into the listing.
const asmProgram = `package main

import (
	"sync"
	"sync/atomic"
)

var table = [4]int64{1, 2, 3, 4}

type point struct{ X, Y int }

func first[T any](s []T) T { return s[0] }

func main() {
	var n int64
	var mu sync.Mutex
	ch := make(chan int64, 1)
	v := atomic.AddInt64(&n, table[1])
	mu.Lock()
	ch <- v
	mu.Unlock()
	println("total", <-ch, first([]point{{1, 2}}).X, first([]any{3}) != nil)
}
`

// asmDir is where the listing says the program was compiled; the capture
// writes it in place of the temporary directory, so that asm.txt does not
// change with every -update.
const asmDir = "/work"

// captureAsm compiles asmProgram as the asm mode does and returns the
// compiler's listing.
func captureAsm(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"go.mod": GoMod, "main.go": asmProgram} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	argv := PlanFor(sandbox.ModeAsm, "").Build
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOPROXY=off", "GOFLAGS=-buildvcs=false", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	s := string(out)
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		s = strings.ReplaceAll(s, real+"/", asmDir+"/")
	}
	return strings.ReplaceAll(s, dir+"/", asmDir+"/")
}

// asmListing returns testdata/asm.txt, capturing it first with -update.
func asmListing(t *testing.T) string {
	t.Helper()
	path := filepath.Join("testdata", "asm.txt")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(captureAsm(t)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to capture it)", err)
	}
	return string(b)
}

// marshalLines writes one line of the listing per line of JSON, so that a
// change shows as a readable diff.
func marshalLines(t *testing.T, lines []sandbox.AsmLine) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("[\n")
	for i, l := range lines {
		j, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
		if i < len(lines)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]\n")
	return b.Bytes()
}

func TestAsmGolden(t *testing.T) {
	got := marshalLines(t, Asm(asmListing(t), "/work"))
	golden := filepath.Join("testdata", "asm.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Asm(testdata/asm.txt) differs from %s; run go test -update if the change is intended\ngot:\n%s", golden, got)
	}
	var lines []sandbox.AsmLine
	if err := json.Unmarshal(want, &lines); err != nil {
		t.Errorf("%s is not a JSON list of AsmLine: %v", golden, err)
	}
}

// sourceLine returns the 1-based line of asmProgram that contains s.
func sourceLine(t *testing.T, s string) int {
	t.Helper()
	for i, l := range strings.Split(asmProgram, "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("asmProgram has no line containing %q", s)
	return 0
}

func TestAsmMain(t *testing.T) {
	lines := Asm(asmListing(t), "/work")
	var main []sandbox.AsmLine
	for _, l := range lines {
		if l.Func == "main.main" {
			main = append(main, l)
		}
	}
	if len(main) == 0 {
		t.Fatalf("Asm found no main.main among %d lines", len(lines))
	}
	if l := main[0]; !strings.HasPrefix(l.Text, "TEXT main.main(SB)") || l.Offset != 0 ||
		l.File != "main.go" || l.Line != sourceLine(t, "func main()") {
		t.Errorf("first line of main.main = %+v, want its TEXT header at offset 0, main.go:%d", l, sourceLine(t, "func main()"))
	}
	nlines := strings.Count(asmProgram, "\n")
	for i, l := range main {
		if l.File == "main.go" && (l.Line < 1 || l.Line > nlines) {
			t.Errorf("main.main line %+v is outside main.go's %d lines", l, nlines)
		}
		if i > 0 && l.Offset < main[i-1].Offset {
			t.Errorf("main.main offsets go back: %+v after %+v", l, main[i-1])
		}
	}

	addLine := sourceLine(t, "atomic.AddInt64")
	// The listing prints LOCK on a line of its own; Asm joins it to the
	// instruction it prefixes.
	if !slices.ContainsFunc(main, func(l sandbox.AsmLine) bool {
		return strings.HasPrefix(l.Text, "LOCK XADDQ ") && l.Line == addLine
	}) {
		t.Errorf("main.main has no LOCK XADDQ at main.go:%d (the atomic add)", addLine)
	}
	if slices.ContainsFunc(main, func(l sandbox.AsmLine) bool { return l.Text == "LOCK" }) {
		t.Errorf("a LOCK prefix was left on a line of its own")
	}
	sendLine := sourceLine(t, "ch <- v")
	if !slices.ContainsFunc(main, func(l sandbox.AsmLine) bool {
		return l.Text == "CALL runtime.chansend1(SB)" && l.File == "main.go" && l.Line == sendLine
	}) {
		t.Errorf("main.main has no CALL runtime.chansend1(SB) at main.go:%d (the channel send)", sendLine)
	}
}

func TestAsmNoise(t *testing.T) {
	lines := Asm(asmListing(t), "/work")
	var noisy int
	for _, l := range lines {
		op, _, _ := strings.Cut(l.Text, " ")
		want := op == "PCDATA" || op == "FUNCDATA"
		if l.Noise != want {
			t.Errorf("%+v: Noise = %v, want %v", l, l.Noise, want)
		}
		if l.Noise {
			noisy++
		}
		if l.Text != strings.Join(strings.Fields(l.Text), " ") {
			t.Errorf("%+v: text is not single-spaced", l)
		}
	}
	if noisy == 0 {
		t.Errorf("no line of the listing is noise; want the PCDATA and FUNCDATA lines marked")
	}
}

// symbols returns the names of the function (STEXT) and data symbols of a
// listing.
func symbols(listing string) (funcs, data map[string]bool) {
	header := regexp.MustCompile(`^(.+?) (S[A-Z]+)\b`)
	funcs, data = map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(listing, "\n") {
		m := header.FindStringSubmatch(l)
		if m == nil || l[0] == '\t' || l[0] == '#' {
			continue
		}
		if m[2] == "STEXT" {
			funcs[m[1]] = true
		} else {
			data[m[1]] = true
		}
	}
	return funcs, data
}

func TestAsmNoData(t *testing.T) {
	listing := asmListing(t)
	funcs, data := symbols(listing)
	for _, want := range []string{"main.table", `go:string."total"`} {
		if !data[want] {
			t.Fatalf("the listing has no data symbol %s; the test needs one to mean anything", want)
		}
	}
	for _, l := range Asm(listing, "/work") {
		if !funcs[l.Func] || data[l.Func] {
			t.Errorf("%+v is not in a function of the listing", l)
		}
		if strings.HasPrefix(l.Text, "rel ") || regexp.MustCompile(`^[0-9a-f]{2} [0-9a-f]{2} `).MatchString(l.Text) {
			t.Errorf("%+v is a relocation or a hex dump, not an instruction", l)
		}
	}
}

// TestAsmEveryFunction checks that each function of the listing has its
// instructions, including generic instantiations such as
// "main.first[go.shape.struct { X int; Y int }]", whose names hold spaces.
func TestAsmEveryFunction(t *testing.T) {
	listing := asmListing(t)
	funcs, _ := symbols(listing)
	got := map[string]int{}
	for _, l := range Asm(listing, "/work") {
		got[l.Func]++
	}
	for _, fn := range slices.Sorted(maps.Keys(funcs)) {
		if got[fn] == 0 {
			t.Errorf("Asm dropped every instruction of %s", fn)
		}
	}
}

// TestAsmForeignFiles checks what Asm's doc promises: an instruction from
// outside the submitted files (here sync.Mutex.Lock, inlined from GOROOT)
// carries no file, so that it is never shown against a user's file of the
// same base name.
func TestAsmForeignFiles(t *testing.T) {
	listing := asmListing(t)
	if !strings.Contains(listing, "/src/sync/mutex.go:") {
		t.Fatal("the listing has no instruction inlined from sync/mutex.go; the test needs one")
	}
	foreign := map[string]int{}
	var example sandbox.AsmLine
	for _, l := range Asm(listing, "/work") {
		if l.File != "" && l.File != "main.go" {
			foreign[l.File]++
			example = l
		}
	}
	if len(foreign) > 0 {
		t.Errorf("Asm gave lines files that were not submitted (%v), such as %+v; want no file", foreign, example)
	}
}

func TestAsmSynthetic(t *testing.T) {
	listing := "# prog\n" +
		"main.f STEXT nosplit size=1 args=0x0 locals=0x0 funcid=0x0 align=0x0\n" +
		"\t0x0000 00000 (<autogenerated>:1)\tTEXT\tmain.f(SB), NOSPLIT, $0-0\n" +
		"\t0x0000 00000 (/work/a.go:3)\tFUNCDATA\t$0, gclocals·x(SB)\n" +
		"\t0x0000 00000 (/work/a.go:4)\tMOVQ\t$1,   AX\n" +
		"\t0x0000 c3                                               .\n" +
		"\trel 3+4 t=R_PCREL runtime.x+0\n" +
		"main.data SRODATA size=8\n" +
		"\t0x0000 00000 (/work/a.go:9)\tMOVQ\tAX, BX\n" +
		"\t0x0000 01 00 00 00 00 00 00 00                          ........\n"
	want := []sandbox.AsmLine{
		{Func: "main.f", Text: "TEXT main.f(SB), NOSPLIT, $0-0"},
		{Func: "main.f", File: "a.go", Line: 3, Text: "FUNCDATA $0, gclocals·x(SB)", Noise: true},
		{Func: "main.f", File: "a.go", Line: 4, Text: "MOVQ $1, AX"},
	}
	if got := Asm(listing, "/work"); !reflect.DeepEqual(got, want) {
		t.Errorf("Asm(%q) =\n%+v\nwant\n%+v", listing, got, want)
	}
}

func TestHasRace(t *testing.T) {
	tests := []struct {
		stderr string
		want   bool
	}{
		{"==================\nWARNING: DATA RACE\nWrite at 0x00c000012345 by goroutine 7:\n", true},
		{"Found 1 data race(s)\nexit status 66\n", false},
		{"warning: data race", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := HasRace(tt.stderr); got != tt.want {
			t.Errorf("HasRace(%q) = %v, want %v", tt.stderr, got, tt.want)
		}
	}
}

func TestCheckGoMod(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // a part of the error; "" for none
	}{
		{"default", GoMod, ""},
		{"module and go", "module example.com/lesson\n\ngo 1.26.0\n", ""},
		{"comments", "// require example.com/x v1.0.0\nmodule prog // replace me\ngo 1.26\n", ""},
		{"empty", "", ""},
		{"require", "module prog\n\ngo 1.26\n\nrequire example.com/x v1.0.0\n", `go.mod:5: "require"`},
		{"require block", "module prog\ngo 1.26\nrequire (\n\texample.com/x v1.0.0\n)\n", `go.mod:3: "require"`},
		{"indented", "module prog\n\t require example.com/x v1.0.0\n", `"require"`},
		{"replace", "module prog\nreplace example.com/x => ../x\n", `"replace"`},
		{"toolchain", "module prog\ngo 1.26\ntoolchain go1.99.0\n", `"toolchain"`},
		{"godebug", "module prog\ngo 1.26\ngodebug panicnil=1\n", `"godebug"`},
		{"godebug block", "module prog\ngodebug (\n\tpanicnil=1\n)\n", `"godebug"`},
		{"tool", "module prog\ntool example.com/x\n", `"tool"`},
		{"ignore", "module prog\nignore ./node_modules\n", `"ignore"`},
		{"CRLF", "module prog\r\nrequire example.com/x v1.0.0\r\n", `"require"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckGoMod(tt.src)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckGoMod(%q) = %v, want nil", tt.src, err)
			case tt.want != "" && err == nil:
				t.Errorf("CheckGoMod(%q) = nil, want an error containing %q", tt.src, tt.want)
			case tt.want != "" && !errors.Is(err, sandbox.ErrBadRequest):
				t.Errorf("CheckGoMod(%q) = %v, want it to wrap ErrBadRequest", tt.src, err)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("CheckGoMod(%q) = %q, want it to contain %q", tt.src, err, tt.want)
			}
		})
	}
}

// TestCheckGoModBlockWithoutSpace covers a block opened with no space
// before the parenthesis, which the go command accepts as a block. With
// go 1.26, "godebug(\n\tpanicnil=1\n)" takes effect (panic(nil) then
// recovers nil), and "require(" with "replace(" to ../x builds a program
// that imports a package from outside the work directory.
func TestCheckGoModBlockWithoutSpace(t *testing.T) {
	for _, src := range []string{
		"module prog\n\ngo 1.26\n\ngodebug(\n\tpanicnil=1\n)\n",
		"module prog\n\ngo 1.26\n\nrequire(\n\texample.com/x v1.0.0\n)\n",
		"module prog\n\ngo 1.26\n\nreplace(\n\texample.com/x => ../x\n)\n",
	} {
		if err := CheckGoMod(src); !errors.Is(err, sandbox.ErrBadRequest) {
			t.Errorf("CheckGoMod(%q) = %v, want an error wrapping ErrBadRequest", src, err)
		}
	}
}

func TestShellQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"go", `'go'`},
		{"", `''`},
		{"a b", `'a b'`},
		{"it's", `'it'\''s'`},
		{"''", `''\'''\'''`},
	}
	for _, tt := range tests {
		if got := ShellQuote(tt.in); got != tt.want {
			t.Errorf("ShellQuote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if got := ShellJoin(nil); got != "" {
		t.Errorf("ShellJoin(nil) = %q, want %q", got, "")
	}
}

func TestShellJoinRoundTrip(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("no sh to check the quoting with: %v", err)
	}
	tests := [][]string{
		{"go", "build", "-o", "/tmp/x", "."},
		{"it's", `"double"`, "a b", "  two  spaces  "},
		{"", "'", "''", `\`, `\'`, "$HOME", "${x}", "`id`", "$(id)", "*", "?", "~", "a;b", "a|b", "a&b", "#c", "-n", "%s"},
		{"line\nbreak", "tab\there", "é ✓ 😀"},
	}
	for _, argv := range tests {
		cmd := exec.Command(sh, "-c", `printf "%s\n" `+ShellJoin(argv))
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("sh -c %q: %v", ShellJoin(argv), err)
			continue
		}
		want := strings.Join(argv, "\n") + "\n"
		if string(out) != want {
			t.Errorf("sh -c 'printf \"%%s\\n\" %s' printed %q, want %q", ShellJoin(argv), out, want)
		}
	}
}

func TestPlanFor(t *testing.T) {
	const bin = "/tmp/prog"
	tests := []struct {
		mode   sandbox.Mode
		prefix []string
		binary string
		race   bool
		args   []string
		output BuildOutput
	}{
		{sandbox.ModeRun, []string{"go", "build"}, bin, false, nil, CompilerErrors},
		{sandbox.ModeRace, []string{"go", "build", "-race"}, bin, true, nil, CompilerErrors},
		{sandbox.ModeAsm, []string{"go", "build", "-gcflags=-S"}, "", false, nil, AsmListing},
		{sandbox.ModeTest, []string{"go", "test", "-c", "-race"}, bin, true, []string{"-test.v"}, CompilerErrors},
		{sandbox.ModeBench, []string{"go", "test", "-c"}, bin, false, []string{"-test.run=^$", "-test.bench=.", "-test.benchmem"}, CompilerErrors},
		{sandbox.ModeVet, []string{"go", "vet"}, "", false, nil, VetReport},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			p := PlanFor(tt.mode, bin)
			if !slices.Equal(p.Build[:min(len(tt.prefix), len(p.Build))], tt.prefix) {
				t.Errorf("PlanFor(%s).Build = %q, want it to start with %q", tt.mode, p.Build, tt.prefix)
			}
			if p.Build[len(p.Build)-1] != "." {
				t.Errorf("PlanFor(%s).Build = %q, want it to end with the package \".\"", tt.mode, p.Build)
			}
			if p.Binary != tt.binary || p.Race != tt.race || p.Output != tt.output || !slices.Equal(p.Args, tt.args) {
				t.Errorf("PlanFor(%s) = Binary %q, Race %v, Output %v, Args %q; want %q, %v, %v, %q",
					tt.mode, p.Binary, p.Race, p.Output, p.Args, tt.binary, tt.race, tt.output, tt.args)
			}
			out := outputOf(p.Build)
			switch {
			case tt.binary != "" && out != bin:
				t.Errorf("PlanFor(%s).Build = %q, want it to write %s", tt.mode, p.Build, bin)
			case tt.mode == sandbox.ModeAsm && out != "/dev/null":
				t.Errorf("PlanFor(%s).Build = %q, want it to write /dev/null", tt.mode, p.Build)
			}
			if tt.mode == sandbox.ModeBench && slices.Contains(p.Build, "-race") {
				t.Errorf("PlanFor(%s).Build = %q, want no -race: it slows benchmarks down", tt.mode, p.Build)
			}
		})
	}
}

// outputOf returns the argument of -o in argv.
func outputOf(argv []string) string {
	if i := slices.Index(argv, "-o"); i >= 0 && i+1 < len(argv) {
		return argv[i+1]
	}
	return ""
}

func TestEnv(t *testing.T) {
	build := BuildEnv("/usr/local/go", "/home/u", "/cache", "/tmp")
	for _, want := range []string{"GOPROXY=off", "GOTOOLCHAIN=local", "GOSUMDB=off", "GOCACHE=/cache", "GOROOT=/usr/local/go"} {
		if !slices.Contains(build, want) {
			t.Errorf("BuildEnv = %q, want it to hold %s", build, want)
		}
	}
	tests := []struct {
		req  sandbox.Request
		mode sandbox.Mode
		want []string
		not  []string
	}{
		{sandbox.Request{}, sandbox.ModeRun, nil, []string{"GORACE=atexit_sleep_ms=0", "GOMAXPROCS="}},
		{sandbox.Request{GOMAXPROCS: 4}, sandbox.ModeRun, []string{"GOMAXPROCS=4"}, []string{"GORACE=atexit_sleep_ms=0"}},
		{sandbox.Request{}, sandbox.ModeRace, []string{"GORACE=atexit_sleep_ms=0"}, []string{"GOMAXPROCS="}},
	}
	for _, tt := range tests {
		env := RunEnv(&tt.req, PlanFor(tt.mode, "/p"), "/home/u", "/tmp")
		for _, want := range tt.want {
			if !slices.Contains(env, want) {
				t.Errorf("RunEnv(%+v, %s) = %q, want it to hold %s", tt.req, tt.mode, env, want)
			}
		}
		for _, not := range tt.not {
			if slices.ContainsFunc(env, func(v string) bool { return strings.HasPrefix(v, not) }) {
				t.Errorf("RunEnv(%+v, %s) = %q, want no %s", tt.req, tt.mode, env, not)
			}
		}
	}
}

func TestReadSource(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{"main.go": "", "util.go": ""}
	for name, body := range map[string]string{"main.go": "package main\n\nfunc main() {}\n", "util.go": "package main\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, cut, err := ReadSource(dir, files, 1<<10)
	if err != nil || cut || got["main.go"] != "package main\n\nfunc main() {}\n" || got["util.go"] != "package main\n" {
		t.Errorf("ReadSource = %q, %v, %v; want both files", got, cut, err)
	}
	if got, cut, err := ReadSource(dir, files, 40); err != nil || !cut || got != nil {
		t.Errorf("ReadSource within 40 bytes = %q, %v, %v; want none, cut", got, cut, err)
	}
	if err := os.Remove(filepath.Join(dir, "util.go")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "util.go")); err != nil {
		t.Fatal(err)
	}
	if got, _, err := ReadSource(dir, files, 1<<20); err == nil {
		t.Errorf("ReadSource followed a symbolic link: %q", got)
	}
}

// reasons returns every Reason constant declared in the sandbox package,
// read from its source so that a new reason cannot be forgotten here.
func reasons(t *testing.T) []sandbox.Reason {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join("..", "..", "event.go"), nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var rs []sandbox.Reason
	ast.Inspect(f, func(n ast.Node) bool {
		if gd, ok := n.(*ast.GenDecl); ok && gd.Doc != nil && strings.Contains(gd.Doc.Text(), "error event") {
			return false // the reasons of error events end no run
		}
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Reason" {
			return true
		}
		for _, v := range vs.Values {
			if lit, ok := v.(*ast.BasicLit); ok {
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				rs = append(rs, sandbox.Reason(s))
			}
		}
		return true
	})
	if len(rs) < 7 {
		t.Fatalf("found %d Reason constants in event.go (%v), want at least 7", len(rs), rs)
	}
	return rs
}

func TestExplain(t *testing.T) {
	l := sandbox.DefaultLimits()
	for _, r := range reasons(t) {
		for _, m := range sandbox.Modes() {
			for _, code := range []int{0, 1, 2, 66, 137} {
				if got := Explain(r, code, m, l); got == "" {
					t.Errorf("Explain(%s, %d, %s) = \"\", want a sentence", r, code, m)
				}
			}
			if got := ExplainBuild(r, m, l); got == "" {
				t.Errorf("ExplainBuild(%s, %s) = \"\", want a sentence", r, m)
			}
		}
	}
	tests := []struct {
		got, want string
	}{
		{Explain(sandbox.ReasonExited, 66, sandbox.ModeRace, l), "data race"},
		{Explain(sandbox.ReasonExited, 66, sandbox.ModeRun, l), "status 66."},
		{Explain(sandbox.ReasonExited, 2, sandbox.ModeRun, l), "panic"},
		{Explain(sandbox.ReasonTimeout, 0, sandbox.ModeRun, l), "after 10s"},
		{Explain(sandbox.ReasonMemory, 0, sandbox.ModeRun, l), "512 MiB"},
		{Explain(sandbox.ReasonMemory, 0, sandbox.ModeRace, l), "1024 MiB"},
		{Explain(sandbox.ReasonOutput, 0, sandbox.ModeRun, l), "1024 KiB"},
		{Explain(sandbox.ReasonOutput, 0, sandbox.ModeAsm, l), "4096 KiB"},
		{Explain(sandbox.ReasonKilled, 137, sandbox.ModeRun, l), "status 137"},
		{ExplainBuild(sandbox.ReasonTimeout, sandbox.ModeRun, l), "longer than 30s"},
		{ExplainBuild(sandbox.ReasonMemory, sandbox.ModeTest, l), "1024 MiB"},
		{ExplainBuild(sandbox.ReasonOutput, sandbox.ModeAsm, l), "4096 KiB"},
		{VetMessage(0), "no problems"},
		{VetMessage(1), "status 1"},
	}
	for _, tt := range tests {
		if !strings.Contains(tt.got, tt.want) {
			t.Errorf("explanation %q, want it to contain %q", tt.got, tt.want)
		}
	}
}

func TestQuietBuild(t *testing.T) {
	in := "go: finding module for package golang.org/x/sync/errgroup\ngo: downloading golang.org/x/sync v0.25.0\ngo: found golang.org/x/sync/errgroup in golang.org/x/sync v0.25.0\n# runtime/cgo\nwarning: something real\n"
	if got, want := QuietBuild(in), "# runtime/cgo\nwarning: something real\n"; got != want {
		t.Errorf("QuietBuild = %q, want %q", got, want)
	}
	if got := QuietBuild(""); got != "" {
		t.Errorf("QuietBuild(\"\") = %q", got)
	}
}

// An asm event names each function once, on its first line, and stops
// before its JSON passes the budget: a function with a very long name and
// many instructions must not multiply into hundreds of megabytes.
func TestAsmLines(t *testing.T) {
	name := "main." + strings.Repeat("x", 4000)
	var b strings.Builder
	fmt.Fprintf(&b, "%s STEXT size=1 args=0x0 locals=0x0\n", name)
	for i := range 5000 {
		fmt.Fprintf(&b, "\t0x%04x %05d (/work/main.go:%d)\tMOVQ\tAX, BX\n", i, i, 3+i%50)
	}
	fmt.Fprintf(&b, "main.g STEXT size=1 args=0x0 locals=0x0\n\t0x0000 00000 (/work/main.go:60)\tRET\n")
	lines, cut := AsmLines(b.String(), "/work", 1<<20)
	if cut || len(lines) != 5001 {
		t.Fatalf("AsmLines = %d lines, cut %v; want 5001, not cut", len(lines), cut)
	}
	for i, l := range lines {
		want := ""
		switch i {
		case 0:
			want = name
		case 5000:
			want = "main.g"
		}
		if l.Func != want {
			t.Fatalf("line %d has func %.20q, want %.20q: a name goes on a function's first line only", i, l.Func, want)
		}
	}
	const budget = 64 << 10
	lines, cut = AsmLines(b.String(), "/work", budget)
	enc, _ := json.Marshal(lines)
	if !cut || int64(len(enc)) > budget || int64(len(enc)) < budget*9/10 {
		t.Errorf("with a %d-byte budget: %d lines, %d bytes of JSON, cut %v; want cut, within the budget, and the budget used", budget, len(lines), len(enc), cut)
	}
}
