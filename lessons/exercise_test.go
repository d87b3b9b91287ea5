package lessons

import (
	"reflect"
	"strings"
	"testing"
)

// The parts of the exercise lessons below. The body starts on line 6: an
// exercise written first has its fence on line 6, and a solution after it
// and a blank line has its fence on line 14.
const (
	exMain  = "package main\n\nfunc main() {}\n"
	exCheck = "-- check_test.go --\npackage main\n"
	// exercise is a complete exercise cell of 7 lines, fences included.
	exercise = "```go {exercise=fix-it hidden=check_test.go mode=test expect=exit=0 expect=no-race}\n" + exMain + exCheck + "```\n"
	// solution is a solution block of 5 lines: main.go, written bare.
	solution = "```go {solution=fix-it}\n" + exMain + "```\n"
)

// TestCellAccepts checks combinations of attributes that must load: the
// claims that racelab check can prove.
func TestCellAccepts(t *testing.T) {
	const tests = "-- main_test.go --\npackage main\n"
	cases := []struct {
		info  string
		files string
		want  []Expect
	}{
		{"mode=vet expect=exit=1 expect=\"stderr~=copies lock\"", exMain,
			[]Expect{{"exit", "1"}, {"stderr", "copies lock"}}},
		{"mode=bench expect=\"output~=ns/op\"", exMain + tests,
			[]Expect{{"output-match", "ns/op"}}},
		{"mode=test expect=exit=1 expect=race", exMain + tests,
			[]Expect{{"exit", "1"}, {"race", ""}}},
		{"mode=test expect=stderr~=FAIL expect=\"output~=^=== RUN\"", exMain + tests,
			[]Expect{{"stderr", "FAIL"}, {"output-match", "^=== RUN"}}},
		{"repeat=20 expect=\"some-output~=^counter = 1\\\\d{3}$\" expect=some-output~=2000 expect=outputs>=2 expect=output~=counter expect=output~==",
			exMain, []Expect{{"some-output", `^counter = 1\d{3}$`}, {"some-output", "2000"}, {"outputs", "2"}, {"output-match", "counter"}, {"output-match", "="}}},
		{"mode=race repeat=100 expect=race expect=outputs>=100 expect=stderr~=DATA expect=stderr~=RACE", exMain,
			[]Expect{{"race", ""}, {"outputs", "100"}, {"stderr", "DATA"}, {"stderr", "RACE"}}},
		{"repeat=3 expect=deadlock expect=exit=2 expect=\"stderr~=all goroutines are asleep\"", exMain,
			[]Expect{{"deadlock", ""}, {"exit", "2"}, {"stderr", "all goroutines are asleep"}}},
		{"expect=timeout expect=output~=.", exMain, []Expect{{"timeout", ""}, {"output-match", "."}}},
	}
	for _, tt := range cases {
		t.Run(tt.info, func(t *testing.T) {
			ls := loadLesson(t, mapFS(map[string]string{"x.md": lesson("```go {" + tt.info + "}\n" + tt.files + "```\n")}), "x")
			if len(ls.Cells) != 1 {
				t.Fatalf("%d cells, want 1", len(ls.Cells))
			}
			if got := ls.Cells[0].Expect; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Expect = %q, want %q", got, tt.want)
			}
			for _, e := range ls.Cells[0].Expect {
				back, err := parseExpect(e.String())
				if err != nil || back != e {
					t.Errorf("parseExpect(%q) = %+v, %v; want %+v", e.String(), back, err, e)
				}
			}
		})
	}
}

func TestExpectRegexp(t *testing.T) {
	tests := []struct {
		e    Expect
		want string // "" for no regexp
	}{
		{Expect{"output-match", "a+"}, "a+"},
		{Expect{"some-output", "b"}, "b"},
		{Expect{"stderr", "c"}, "c"},
		{Expect{"asm", "LOCK"}, "LOCK"},
		{Expect{"output", "a+"}, ""},
		{Expect{"outputs", "2"}, ""},
		{Expect{"race", ""}, ""},
	}
	for _, tt := range tests {
		re := tt.e.Regexp()
		if got := ""; re != nil {
			got = re.String()
			if got != tt.want {
				t.Errorf("%+v.Regexp() = %q, want %q", tt.e, got, tt.want)
			}
		} else if tt.want != "" {
			t.Errorf("%+v.Regexp() = nil, want %q", tt.e, tt.want)
		}
	}
}

func TestExercise(t *testing.T) {
	body := "## Exercise\n\n" + exercise + "\nStuck?\n\n" + solution + "\n```go {}\n" + exMain + "```\n"
	lib, err := Load(mapFS(map[string]string{"01-x.md": lesson(body), "02-y.md": lesson("```go {}\n" + exMain + "```\n")}))
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := lib.Lesson("x")
	if len(ls.Cells) != 2 {
		t.Fatalf("%d cells, want 2: a solution is not a cell", len(ls.Cells))
	}
	c := ls.Cells[0]
	want := &Cell{
		ID: "x-1", Lesson: "x", File: "01-x.md", Line: 8, Mode: "test",
		Files:    []File{{"main.go", exMain}, {"check_test.go", "package main\n"}},
		Expect:   []Expect{{"exit", "0"}, {"no-race", ""}},
		HasTests: true,
		Exercise: "fix-it", Hidden: []string{"check_test.go"},
		Solution: []File{{"main.go", exMain}}, SolutionLine: 18,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("exercise cell =\n%+v\nwant\n%+v", c, want)
	}
	if c.Shown("check_test.go") || !c.Shown("main.go") {
		t.Errorf("Shown(check_test.go), Shown(main.go) = %v, %v; want false, true", c.Shown("check_test.go"), c.Shown("main.go"))
	}
	if got, want := c.SolutionFileMap(), map[string]string{"main.go": exMain, "check_test.go": "package main\n"}; !reflect.DeepEqual(got, want) {
		t.Errorf("SolutionFileMap() = %q, want %q", got, want)
	}
	if other := ls.Cells[1]; other.Exercise != "" || other.Hidden != nil || other.Solution != nil || other.SolutionFileMap() != nil {
		t.Errorf("plain cell = %+v, want no exercise, hidden files or solution", other)
	}
	var ids []string
	for _, c := range lib.AllCells() {
		ids = append(ids, c.ID)
	}
	if want := []string{"x-1", "x-2", "y-1"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("AllCells() IDs = %q, want %q", ids, want)
	}
}

// TestSolutionReplacesNamedFiles checks a txtar solution of a several-file
// exercise: it replaces only the files it names.
func TestSolutionReplacesNamedFiles(t *testing.T) {
	body := "```go {exercise=e hidden=check_test.go mode=test expect=exit=0}\n" + exMain +
		"-- counter.go --\npackage main // buggy\n" + exCheck + "```\n\n" +
		"```go {solution=e}\n-- counter.go --\npackage main // fixed\n```\n"
	ls := loadLesson(t, mapFS(map[string]string{"x.md": lesson(body)}), "x")
	got := ls.Cells[0].SolutionFileMap()
	want := map[string]string{"main.go": exMain, "counter.go": "package main // fixed\n", "check_test.go": "package main\n"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SolutionFileMap() = %q, want %q", got, want)
	}
}

// TestExerciseErrors checks that every broken exercise or solution is
// refused at its exact line, with no error about its partner besides.
func TestExerciseErrors(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
	}{
		{"bad exercise name", "```go {exercise=Fix_It}\n" + exMain + "```\n",
			[]string{`x.md:6: exercise name "Fix_It": use lower-case letters, digits and '-'`}},
		{"empty exercise name", "```go {exercise=\"\"}\n" + exMain + "```\n",
			[]string{`x.md:6: exercise name "": use lower-case letters, digits and '-'`}},
		{"hidden without exercise", "```go {hidden=check_test.go mode=test}\n" + exMain + exCheck + "```\n",
			[]string{`x.md:6: hidden= is for exercises: give the cell exercise=NAME too`}},
		{"hidden file not in the cell", "```go {exercise=e hidden=check.go}\n" + exMain + "```\n\n```go {solution=e}\n" + exMain + "```\n",
			[]string{`x.md:6: hidden file check.go is not a file of this cell`}},
		{"hidden hides everything", "```go {exercise=e hidden=main.go,check_test.go}\n" + exMain + exCheck + "```\n\n```go {solution=e}\n" + exMain + "```\n",
			[]string{`x.md:6: hidden= hides every file of the cell: the learner would have nothing to edit`}},
		{"hidden names a file twice", "```go {exercise=e hidden=check_test.go,check_test.go}\n" + exMain + exCheck + "```\n",
			[]string{`x.md:6: hidden=check_test.go,check_test.go names check_test.go twice`}},
		{"hidden with an empty name", "```go {exercise=e hidden=check_test.go,}\n" + exMain + exCheck + "```\n",
			[]string{`x.md:6: hidden=check_test.go,: name the files, separated by commas and no spaces`}},
		{"hidden given twice", "```go {exercise=e hidden=a.go hidden=b.go}\n" + exMain + "```\n",
			[]string{`x.md:6: cell attribute "hidden" is given twice`}},
		{"tries without exercise", "```go {tries=3}\n" + exMain + "```\n",
			[]string{`x.md:6: tries= is for exercises (their starting code) and known-wrong solutions: give the cell exercise=NAME too`}},
		{"tries out of range", "```go {exercise=e tries=11}\n" + exMain + "```\n\n```go {solution=e}\n" + exMain + "```\n",
			[]string{`x.md:6: cell attribute tries=11 is out of range: use 1 to 10`}},
		{"exercise without solution", "Intro.\n\n" + exercise,
			[]string{`x.md:8: exercise fix-it has no solution: add a ` + "```go {solution=fix-it}" + ` block after it`}},
		{"solution without exercise", "```go {solution=nope}\n" + exMain + "```\n",
			[]string{`x.md:6: solution=nope: the lesson has no exercise nope (a cell with exercise=nope)`}},
		{"solution before its exercise", solution + "\n" + exercise,
			[]string{`x.md:6: solution=fix-it comes before its exercise at line 12: put it after`}},
		{"two solutions", exercise + "\n" + solution + "\n" + solution,
			[]string{`x.md:20: exercise fix-it already has a solution, at line 14`}},
		{"solution with other attributes", exercise + "\n```go {solution=fix-it mode=run}\n" + exMain + "```\n",
			[]string{`x.md:14: a solution block has no attribute but solution=NAME, not mode`}},
		{"solution attribute twice", exercise + "\n```go {solution=fix-it solution=fix-it}\n" + exMain + "```\n",
			[]string{`x.md:14: cell attribute "solution" is given twice`}},
		{"solution bad name", "```go {solution=A}\n" + exMain + "```\n",
			[]string{`x.md:6: solution=A: exercise names are lower-case letters, digits and '-'`}},
		{"solution file not in the exercise", exercise + "\n```go {solution=fix-it}\n-- other.go --\npackage main\n```\n",
			[]string{`x.md:14: solution file other.go is not a file of exercise fix-it (line 6): a solution replaces the exercise's files`}},
		{"solution replaces the hidden check", exercise + "\n```go {solution=fix-it}\n" + exMain + exCheck + "```\n",
			[]string{`x.md:14: solution file check_test.go is hidden in exercise fix-it: the solution must pass the exercise's own check`}},
		{"empty solution", exercise + "\n```go {solution=fix-it}\n```\n",
			[]string{`x.md:14: main.go is empty: a cell file needs at least a package clause`}},
		{"solution without package clause", exercise + "\n```go {solution=fix-it}\nfunc main() {}\n```\n",
			[]string{`x.md:15: main.go has no package clause`}},
		{"exercise name twice", exercise + "\n" + solution + "\n" + exercise + "\n" + solution,
			[]string{`x.md:20: exercise fix-it is already the name of the cell at line 6`, `x.md:28: exercise fix-it already has a solution, at line 14`}},
		{"broken exercise: no error about its solution", "```go {exercise=fix-it mode=nope}\n" + exMain + "```\n\n" + solution,
			[]string{`x.md:6: unknown mode "nope"`}},
		{"broken exercise after its solution", solution + "\n```go {exercise=fix-it expect=race}\n" + exMain + "```\n",
			[]string{`x.md:12: expect=race needs mode race or test`}},
		{"broken exercise files", "```go {exercise=fix-it}\n" + exMain + "-- a.go --\n```\n\n" + solution,
			[]string{`x.md:10: a.go is empty`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLoadErrors(t, map[string]string{"x.md": lesson(tt.body)}, tt.want)
		})
	}
}

// checkLoadErrors checks that Load fails with exactly len(want) errors, one
// a line, each starting "lessons: " and its want.
func checkLoadErrors(t *testing.T, files map[string]string, want []string) {
	t.Helper()
	_, err := Load(mapFS(files))
	if err == nil {
		t.Fatalf("Load succeeded, want errors %q", want)
	}
	got := strings.Split(err.Error(), "\n")
	if len(got) != len(want) {
		t.Fatalf("Load errors =\n%s\nwant %d:\n%s", err, len(want), strings.Join(want, "\n"))
	}
	for i := range got {
		if !strings.HasPrefix(got[i], "lessons: "+want[i]) {
			t.Errorf("Load error %d = %q, want prefix %q", i+1, got[i], "lessons: "+want[i])
		}
	}
}

// tries=N on an exercise is how many runs racelab check gives its check to
// reject the starting code.
func TestExerciseTries(t *testing.T) {
	body := strings.Replace(exercise, "mode=test", "mode=test tries=3", 1) + "\n" + solution
	ls := loadLesson(t, mapFS(map[string]string{"x.md": lesson(body)}), "x")
	if got := ls.Cells[0].Tries; got != 3 {
		t.Errorf("Tries = %d, want 3", got)
	}
}
