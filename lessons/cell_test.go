package lessons

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

// frontLines is the number of lines lesson puts before the body: the first
// body line is line frontLines+1 of the file.
const frontLines = 5

// lesson returns a lesson file with a valid front matter and body.
func lesson(body string) string {
	return "---\ntitle: T\nsummary: S\norder: 1\n---\n" + body
}

func mapFS(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, body := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(body)}
	}
	return fsys
}

func TestCellInfo(t *testing.T) {
	tests := []struct {
		info      string
		wantAttrs string
		wantOK    bool
		wantErr   string
	}{
		{"go", "", false, ""},
		{"", "", false, ""},
		{"go title", "", false, ""},
		{"sh", "", false, ""},
		{"go {}", "", true, ""},
		{"go  {mode=race}  ", "mode=race", true, ""},
		{"go\t{mode=race expect=race}", "mode=race expect=race", true, ""},
		{"go{mode=race}", "", false, `put a space between go and {: "go{mode=race}"`},
		{"sh {mode=run}", "", false, `only go blocks can be runnable cells, but this "sh" block has attributes`},
		{"go {mode=race", "", false, "cell attributes {mode=race do not end with }"},
	}
	for _, tt := range tests {
		attrs, ok, err := cellInfo(tt.info)
		if attrs != tt.wantAttrs || ok != tt.wantOK || errText(err) != tt.wantErr {
			t.Errorf("cellInfo(%q) = %q, %v, %q; want %q, %v, %q", tt.info, attrs, ok, errText(err), tt.wantAttrs, tt.wantOK, tt.wantErr)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestParseAttrs(t *testing.T) {
	tests := []struct {
		in   string
		want []attr
	}{
		{"", nil},
		{"   ", nil},
		{"mode=race", []attr{{"mode", "race"}}},
		{"mode=race expect=race expect=exit=66", []attr{{"mode", "race"}, {"expect", "race"}, {"expect", "exit=66"}}},
		{`expect="output=hello, world\n"`, []attr{{"expect", "output=hello, world\n"}}},
		{`expect="asm~=LOCK XADDQ"  mode=asm`, []attr{{"expect", "asm~=LOCK XADDQ"}, {"mode", "asm"}}},
		{`expect="output=tab\there \"quoted\" \u00e9"`, []attr{{"expect", "output=tab\there \"quoted\" é"}}},
		{`mode=""`, []attr{{"mode", ""}}},
	}
	for _, tt := range tests {
		got, err := parseAttrs(tt.in)
		if err != nil {
			t.Errorf("parseAttrs(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseAttrs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseExpect(t *testing.T) {
	tests := []struct {
		in     string
		want   Expect
		String string
	}{
		{"race", Expect{Kind: "race"}, "race"},
		{"no-race", Expect{Kind: "no-race"}, "no-race"},
		{"deadlock", Expect{Kind: "deadlock"}, "deadlock"},
		{"timeout", Expect{Kind: "timeout"}, "timeout"},
		{"compile-error", Expect{Kind: "compile-error"}, "compile-error"},
		{"exit=66", Expect{Kind: "exit", Value: "66"}, "exit=66"},
		{"exit=007", Expect{Kind: "exit", Value: "7"}, "exit=7"},
		{"output=hi\n", Expect{Kind: "output", Value: "hi\n"}, "output=hi\n"},
		{"output=a=b", Expect{Kind: "output", Value: "a=b"}, "output=a=b"},
		{"output=", Expect{Kind: "output"}, "output="},
		{"asm~=LOCK XADDQ", Expect{Kind: "asm", Value: "LOCK XADDQ"}, "asm~=LOCK XADDQ"},
		{"output~=counter = \\d+", Expect{Kind: "output-match", Value: "counter = \\d+"}, "output~=counter = \\d+"},
		{"output~=a=b", Expect{Kind: "output-match", Value: "a=b"}, "output~=a=b"},
		{"output=~x", Expect{Kind: "output", Value: "~x"}, "output=~x"},
		{"output=a~=b", Expect{Kind: "output", Value: "a~=b"}, "output=a~=b"},
		{"some-output~=^1\\d{3}$", Expect{Kind: "some-output", Value: "^1\\d{3}$"}, "some-output~=^1\\d{3}$"},
		{"no-output~=r1=1 r2=0", Expect{Kind: "no-output", Value: "r1=1 r2=0"}, "no-output~=r1=1 r2=0"},
		{"outputs>=2", Expect{Kind: "outputs", Value: "2"}, "outputs>=2"},
		{"edge=send@12->receive@08", Expect{Kind: "edge", Value: "send@12->receive@8"}, "edge=send@12->receive@8"},
		{"edge=12->Lock@8", Expect{Kind: "edge", Value: "12->Lock@8"}, "edge=12->Lock@8"},
		{"outputs>=010", Expect{Kind: "outputs", Value: "10"}, "outputs>=10"},
		{"stderr~=copies lock", Expect{Kind: "stderr", Value: "copies lock"}, "stderr~=copies lock"},
		{"stderr~=(?m)^fatal error: all goroutines", Expect{Kind: "stderr", Value: "(?m)^fatal error: all goroutines"}, "stderr~=(?m)^fatal error: all goroutines"},
	}
	for _, tt := range tests {
		got, err := parseExpect(tt.in)
		if err != nil {
			t.Errorf("parseExpect(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("parseExpect(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if s := got.String(); s != tt.String {
			t.Errorf("%+v.String() = %q, want %q", got, s, tt.String)
		}
	}
}

func TestSplitFiles(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []File
	}{{
		name: "one file",
		text: "package main\n",
		want: []File{{"main.go", "package main\n"}},
	}, {
		name: "main and test",
		text: "package main\n-- main_test.go --\npackage main\n",
		want: []File{{"main.go", "package main\n"}, {"main_test.go", "package main\n"}},
	}, {
		name: "named files only, main.go moved first",
		text: "\n-- a_test.go --\npackage main\n-- go.mod --\nmodule m\n-- main.go --\npackage main\n",
		want: []File{{"main.go", "package main\n"}, {"a_test.go", "package main\n"}, {"go.mod", "module m\n"}},
	}, {
		name: "no main.go",
		text: "-- counter.go --\npackage counter\n-- counter_test.go --\npackage counter\n",
		want: []File{{"counter.go", "package counter\n"}, {"counter_test.go", "package counter\n"}},
	}, {
		name: "not separators",
		text: "package main\n// -- x.go --\n--  --\n-- x.go\n",
		want: []File{{"main.go", "package main\n// -- x.go --\n--  --\n-- x.go\n"}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lines []srcLine
			for i, l := range strings.SplitAfter(strings.TrimSuffix(tt.text, "\n"), "\n") {
				lines = append(lines, srcLine{text: l, line: 11 + i})
			}
			lines[len(lines)-1].text += "\n"
			got, err := splitFiles(lines, 10)
			if err != nil {
				t.Fatalf("splitFiles(%q): %v", tt.text, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("splitFiles(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

// TestCellErrors checks that every broken cell is refused with its file and
// exact line. The body starts on line 6: the fence of the first cell below is
// on line 6 unless the body begins with other lines.
func TestCellErrors(t *testing.T) {
	const main = "package main\n\nfunc main() {}\n"
	tests := []struct {
		name, body, want string
	}{
		{"unknown attribute", "```go {mod=race}\n" + main + "```\n",
			`x.md:6: unknown cell attribute "mod" (want one of mode, expect, gomaxprocs, repeat, goarch, trace, exercise, hidden, tries, solution)`},
		{"fence line after prose", "Text.\n\nMore text.\n\n```go {mod=race}\n" + main + "```\n",
			`x.md:10: unknown cell attribute "mod"`},
		{"fence in a list", "- item\n\n  ```go {mod=race}\n  package main\n  ```\n",
			`x.md:8: unknown cell attribute "mod"`},
		{"tilde fence", "~~~go {mod=race}\n" + main + "~~~\n", `x.md:6: unknown cell attribute "mod"`},
		{"bad mode", "```go {mode=rcae}\n" + main + "```\n",
			`x.md:6: unknown mode "rcae" (want one of run, race, asm, test, bench, vet)`},
		{"fmt is not a cell mode", "```go {mode=fmt}\n" + main + "```\n", `x.md:6: unknown mode "fmt"`},
		{"attribute twice", "```go {mode=race mode=run}\n" + main + "```\n", `x.md:6: cell attribute "mode" is given twice`},
		{"no value", "```go {race}\n" + main + "```\n", `x.md:6: cell attribute "race" has no value (write race=VALUE)`},
		{"bad quoting", "```go {expect=\"output=hi}\n" + main + "```\n", `x.md:6: cell attribute expect: bad quoted value`},
		{"half quoted", "```go {expect=output=\"hi\"}\n" + main + "```\n", `x.md:6: cell attribute expect=output="hi": quote the whole value`},
		{"no space after quote", "```go {expect=\"race\"mode=race}\n" + main + "```\n", `x.md:6: cell attribute expect: put a space after its value`},
		{"gomaxprocs not a number", "```go {gomaxprocs=two}\n" + main + "```\n", `x.md:6: cell attribute gomaxprocs=two is not a number`},
		{"gomaxprocs zero", "```go {gomaxprocs=0}\n" + main + "```\n", `x.md:6: cell attribute gomaxprocs=0 is out of range: use 1 to 64`},
		{"gomaxprocs too big", "```go {gomaxprocs=65}\n" + main + "```\n", `x.md:6: cell attribute gomaxprocs=65 is out of range: use 1 to 64`},
		{"repeat not a number", "```go {repeat=1.5}\n" + main + "```\n", `x.md:6: cell attribute repeat=1.5 is not a number`},
		{"repeat too big", "```go {repeat=101}\n" + main + "```\n", `x.md:6: cell attribute repeat=101 is out of range: use 1 to 100`},
		{"goarch unknown", "```go {mode=asm goarch=386}\n" + main + "```\n", `x.md:6: goarch=386: racelab compiles for amd64 or arm64`},
		{"goarch in run mode", "```go {goarch=arm64}\n" + main + "```\n", `x.md:6: goarch works only with mode asm, not run: programs run on the server's own architecture`},
		{"repeat in asm mode", "```go {mode=asm repeat=2}\n" + main + "```\n", `x.md:6: repeat works only with mode run or race, not asm`},
		{"trace not true", "```go {trace=yes}\n" + main + "```\n", `x.md:6: cell attribute trace=yes: write trace=true, or leave it out`},
		{"trace in race mode", "```go {mode=race trace=true}\n" + main + "```\n", `x.md:6: trace=true needs mode run and one run`},
		{"trace repeated", "```go {repeat=2 trace=true}\n" + main + "```\n", `x.md:6: trace=true needs mode run and one run (the tracer records one execution), not mode run, repeat 2`},
		{"edge without trace", "```go {expect=edge=3->5}\n" + main + "```\n", `x.md:6: expect=edge= is a claim about the timeline: give the cell trace=true`},
		{"edge without arrow", "```go {trace=true expect=edge=3}\n" + main + "```\n", `x.md:6: expect=edge=3: write edge=[OP@]LINE->[OP@]LINE`},
		{"edge unknown op", "```go {trace=true expect=edge=put@3->5}\n" + main + "```\n", `x.md:6: expect=edge=put@3->5: unknown operation "put" in an edge`},
		{"edge line 0", "```go {trace=true expect=edge=3->receive@0}\n" + main + "```\n", `x.md:6: expect=edge=3->receive@0: "0" is not a line number`},
		{"unknown expectation", "```go {expect=races}\n" + main + "```\n",
			`x.md:6: unknown expectation "races" (want one of output=TEXT, output~=REGEX, some-output~=REGEX, no-output~=REGEX, outputs>=N, stderr~=REGEX, race, no-race, deadlock, timeout, exit=N, compile-error, asm~=REGEX, edge=[OP@]LINE->[OP@]LINE)`},
		{"output without text", "```go {expect=output}\n" + main + "```\n", `x.md:6: expect=output needs a value: write expect=output=TEXT or expect=output~=REGEX`},
		{"exit not a number", "```go {expect=exit=x}\n" + main + "```\n", `x.md:6: expect=exit=x: the exit status must be a number from 0 to 255`},
		{"exit too big", "```go {expect=exit=256}\n" + main + "```\n", `x.md:6: expect=exit=256: the exit status must be a number`},
		{"race with a value", "```go {mode=race expect=race=1}\n" + main + "```\n", `x.md:6: expect=race=1 takes no value`},
		{"asm without tilde", "```go {mode=asm expect=asm=LOCK}\n" + main + "```\n", `x.md:6: expect=asm=LOCK: write expect=asm~=REGEX`},
		{"bad regexp", "```go {mode=asm expect=\"asm~=LOCK (\"}\n" + main + "```\n", `x.md:6: expect=asm~=LOCK (: bad regular expression: error parsing regexp`},
		{"empty regexp", "```go {mode=asm expect=asm~=}\n" + main + "```\n", `x.md:6: expect=asm~= needs a regular expression`},
		{"output-match without a regexp", "```go {expect=output~=}\n" + main + "```\n", `x.md:6: expect=output~= needs a regular expression after ~=`},
		{"output-match bad regexp", "```go {expect=output~=a(}\n" + main + "```\n", `x.md:6: expect=output~=a(: bad regular expression: error parsing regexp: missing closing ): ` + "`a(`"},
		{"output-match unknown operator", "```go {expect=output~x}\n" + main + "```\n", `x.md:6: unknown expectation "output~x" (want one of output=TEXT, output~=REGEX,`},
		{"output-match in asm mode", "```go {mode=asm expect=output~=x}\n" + main + "```\n", `x.md:6: expect=output~=x cannot happen in mode asm: the program is built, not run`},
		{"some-output without repeat", "```go {expect=some-output~=x}\n" + main + "```\n",
			`x.md:6: expect=some-output~=x compares runs: give the cell repeat=N with N at least 2`},
		{"some-output with repeat=1", "```go {repeat=1 expect=some-output~=x}\n" + main + "```\n", `x.md:6: expect=some-output~=x compares runs`},
		{"some-output without a regexp", "```go {repeat=2 expect=some-output~=}\n" + main + "```\n", `x.md:6: expect=some-output~= needs a regular expression after ~=`},
		{"some-output bad regexp", "```go {repeat=2 expect=some-output~=*}\n" + main + "```\n", `x.md:6: expect=some-output~=*: bad regular expression: error parsing regexp: missing argument to repetition operator`},
		{"no-output in mode asm", "```go {mode=asm expect=no-output~=x}\n" + main + "```\n", `x.md:6: expect=no-output~=x cannot happen in mode asm`},
		{"no-output without a regexp", "```go {expect=no-output~=}\n" + main + "```\n", `x.md:6: expect=no-output~= needs a regular expression after ~=`},
		{"some-output with =", "```go {repeat=2 expect=some-output=x}\n" + main + "```\n", `x.md:6: expect=some-output=x: write expect=some-output~=REGEX`},
		{"outputs without repeat", "```go {expect=outputs>=2}\n" + main + "```\n", `x.md:6: expect=outputs>=2 compares runs: give the cell repeat=N with N at least 2`},
		{"outputs more than runs", "```go {repeat=3 expect=outputs>=4}\n" + main + "```\n", `x.md:6: expect=outputs>=4 cannot happen in 3 runs`},
		{"outputs one", "```go {repeat=3 expect=outputs>=1}\n" + main + "```\n", `x.md:6: expect=outputs>=1: the number of different outputs must be a number from 2 to 100`},
		{"outputs not a number", "```go {repeat=3 expect=outputs>=two}\n" + main + "```\n", `x.md:6: expect=outputs>=two: the number of different outputs must be a number from 2 to 100`},
		{"outputs with =", "```go {repeat=3 expect=outputs=2}\n" + main + "```\n", `x.md:6: expect=outputs=2: write expect=outputs>=N`},
		{"outputs twice", "```go {repeat=3 expect=outputs>=2 expect=outputs>=3}\n" + main + "```\n", `x.md:6: expect=outputs is given twice`},
		{"outputs and exact output", "```go {repeat=3 expect=output=x expect=outputs>=2}\n" + main + "```\n", `x.md:6: expect=output= and expect=outputs>= contradict each other`},
		{"stderr without a value", "```go {expect=stderr}\n" + main + "```\n", `x.md:6: expect=stderr needs a value: write expect=stderr~=REGEX`},
		{"stderr with =", "```go {expect=stderr=x}\n" + main + "```\n", `x.md:6: expect=stderr=x: write expect=stderr~=REGEX`},
		{"stderr without a regexp", "```go {expect=stderr~=}\n" + main + "```\n", `x.md:6: expect=stderr~= needs a regular expression after ~=`},
		{"stderr bad regexp", "```go {expect=stderr~=[a}\n" + main + "```\n", `x.md:6: expect=stderr~=[a: bad regular expression: error parsing regexp: missing closing ]`},
		{"stderr in asm mode", "```go {mode=asm expect=stderr~=x}\n" + main + "```\n", `x.md:6: expect=stderr~=x cannot happen in mode asm`},
		{"stderr with compile-error", "```go {expect=compile-error expect=stderr~=x}\n" + main + "```\n", `x.md:6: expect=compile-error stands alone`},
		{"exit with ~=", "```go {expect=exit~=1}\n" + main + "```\n", `x.md:6: expect=exit~=1: write expect=exit=N`},
		{"race with ~=", "```go {mode=race expect=race~=x}\n" + main + "```\n", `x.md:6: expect=race~=x takes no value: write expect=race`},
		{"race in run mode", "```go {expect=race}\n" + main + "```\n", `x.md:6: expect=race needs mode race or test: the race detector is off in mode run`},
		{"asm in race mode", "```go {mode=race expect=asm~=LOCK}\n" + main + "```\n", `x.md:6: expect=asm~= needs mode asm, not race`},
		{"output in asm mode", "```go {mode=asm expect=output=x}\n" + main + "```\n", `x.md:6: expect=output=x cannot happen in mode asm`},
		{"race and no-race", "```go {mode=race expect=race expect=no-race}\n" + main + "```\n", `x.md:6: expect=race and expect=no-race contradict each other`},
		{"expectation twice", "```go {expect=exit=1 expect=exit=2}\n" + main + "```\n", `x.md:6: expect=exit is given twice`},
		{"compile error and more", "```go {expect=compile-error expect=exit=1}\n" + main + "```\n", `x.md:6: expect=compile-error stands alone`},
		{"test mode without a test", "```go {mode=test}\n" + main + "```\n", `x.md:6: mode test needs a _test.go file in the cell`},
		{"bench mode without a test", "```go {mode=bench}\n" + main + "-- other.go --\npackage main\n```\n", `x.md:6: mode bench needs a _test.go file`},
		{"no package", "```go {}\nfunc main() {}\n```\n", `x.md:7: main.go has no package clause: expected 'package', found 'func'`},
		{"no package after comments", "```go {}\n// Comment.\n\nfunc main() {}\n```\n", `x.md:9: main.go has no package clause`},
		{"empty cell", "```go {}\n```\n", `x.md:6: main.go is empty`},
		{"no package in second file", "```go {}\n" + main + "-- main_test.go --\n\nimport \"testing\"\n```\n",
			`x.md:12: main_test.go has no package clause: expected 'package', found 'import'`},
		{"empty second file", "```go {}\n" + main + "-- main_test.go --\n```\n", `x.md:10: main_test.go is empty`},
		{"duplicate file", "```go {}\n" + main + "-- a.go --\npackage main\n-- a.go --\npackage main\n```\n",
			`x.md:12: file a.go is already in this cell (from line 10)`},
		{"main.go twice", "```go {}\n" + main + "-- main.go --\npackage main\n```\n", `x.md:10: file main.go is already in this cell (from line 6)`},
		{"directory in name", "```go {}\n" + main + "-- sub/a.go --\npackage main\n```\n",
			`x.md:10: bad file name "sub/a.go" (want a plain NAME.go, or go.mod)`},
		{"not a go file", "```go {}\n" + main + "-- notes.txt --\nhi\n```\n", `x.md:10: bad file name "notes.txt"`},
		{"hidden file", "```go {}\n" + main + "-- .a.go --\npackage main\n```\n", `x.md:10: bad file name ".a.go"`},
		{"long name", "```go {}\n" + main + "-- " + strings.Repeat("a", 130) + ".go --\npackage main\n```\n", `x.md:10: file name "aaaa`},
		{"attributes on another language", "```sh {mode=run}\necho\n```\n", `x.md:6: only go blocks can be runnable cells`},
		{"no space before brace", "```go{mode=run}\n" + main + "```\n", `x.md:6: put a space between go and {`},
		{"unclosed braces", "```go {mode=run\n" + main + "```\n", `x.md:6: cell attributes {mode=run do not end with }`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLoadError(t, map[string]string{"x.md": lesson(tt.body)}, tt.want)
		})
	}
}

// TestAllErrorsReported checks that Load reports every broken cell of every
// file, each as an *Error naming its file and line.
func TestAllErrorsReported(t *testing.T) {
	files := map[string]string{
		"01-a.md": lesson("```go {mod=x}\npackage main\n```\n\n```go {mode=y}\npackage main\n```\n"),
		"02-b.md": "no front matter\n",
		"03-c.md": lesson("fine\n"),
	}
	_, err := Load(mapFS(files))
	want := strings.Join([]string{
		`lessons: 01-a.md:6: unknown cell attribute "mod" (want one of mode, expect, gomaxprocs, repeat, goarch, trace, exercise, hidden, tries, solution)`,
		`lessons: 01-a.md:10: unknown mode "y" (want one of run, race, asm, test, bench, vet)`,
		`lessons: 02-b.md:1: missing front matter: the file must start with a "---" line, then title, summary and order`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Fatalf("Load error =\n%v\nwant\n%s", err, want)
	}
	var e *Error
	if !errors.As(err, &e) || e.File != "01-a.md" || e.Line != 6 {
		t.Errorf("errors.As(err, *Error) = %+v, want 01-a.md line 6", e)
	}
}
