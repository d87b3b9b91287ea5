package lessons

import (
	"reflect"
	"strings"
	"testing"
)

// wrongBlock is a known-wrong solution of fix-it: 5 lines, fences included.
const wrongBlock = "```go {wrong=fix-it why=\"forgets the lock\"}\npackage main // wrong\n\nfunc main() {}\n```\n"

// TestWrongSolutions checks that known-wrong solutions load in order, run
// with the exercise's other files, and never reach the page.
func TestWrongSolutions(t *testing.T) {
	second := "```go {wrong=fix-it tries=3 why=\"  unlocks twice \"}\npackage main // twice\n```\n"
	body := exercise + "\n" + wrongBlock + "\n" + solution + "\n" + second
	ls := loadLesson(t, mapFS(map[string]string{"x.md": lesson(body)}), "x")
	if len(ls.Cells) != 1 {
		t.Fatalf("%d cells, want 1: a wrong solution is not a cell", len(ls.Cells))
	}
	c := ls.Cells[0]
	want := []Wrong{
		{Why: "forgets the lock", Files: []File{{"main.go", "package main // wrong\n\nfunc main() {}\n"}}, Line: 14, Tries: 1},
		{Why: "unlocks twice", Files: []File{{"main.go", "package main // twice\n"}}, Line: 26, Tries: 3},
	}
	if !reflect.DeepEqual(c.Wrong, want) {
		t.Errorf("Wrong = %+v, want %+v", c.Wrong, want)
	}
	if got, want := c.WrongFileMap(1), map[string]string{"main.go": "package main // twice\n", "check_test.go": "package main\n"}; !reflect.DeepEqual(got, want) {
		t.Errorf("WrongFileMap(1) = %q, want %q", got, want)
	}
	if c.SolutionLine != 20 || c.FileMap()["main.go"] != exMain {
		t.Errorf("the wrong solutions changed the exercise: solution line %d, main.go %q", c.SolutionLine, c.FileMap()["main.go"])
	}
	for _, s := range []string{"// wrong", "// twice", "forgets the lock", "unlocks twice"} {
		if strings.Contains(string(ls.HTML), s) {
			t.Errorf("the page shows %q of a wrong solution:\n%s", s, ls.HTML)
		}
	}
}

// TestWrongErrors checks that every broken wrong-solution block is refused
// at its line.
func TestWrongErrors(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
	}{
		{"no why", exercise + "\n" + solution + "\n```go {wrong=fix-it}\n" + exMain + "```\n",
			[]string{`x.md:20: wrong=fix-it needs why="…": say what the mistake is`}},
		{"blank why", exercise + "\n" + solution + "\n```go {wrong=fix-it why=\" \"}\n" + exMain + "```\n",
			[]string{`x.md:20: wrong=fix-it needs why="…"`}},
		{"other attribute", exercise + "\n" + solution + "\n```go {wrong=fix-it why=x mode=run}\n" + exMain + "```\n",
			[]string{`x.md:20: a wrong-solution block has no attribute but wrong, why, tries, not mode`}},
		{"tries not a number", exercise + "\n" + solution + "\n```go {wrong=fix-it why=x tries=some}\n" + exMain + "```\n",
			[]string{`x.md:20: tries=some: give a number of runs from 1 to 10`}},
		{"tries zero", exercise + "\n" + solution + "\n```go {wrong=fix-it why=x tries=0}\n" + exMain + "```\n",
			[]string{`x.md:20: tries=0: give a number of runs from 1 to 10`}},
		{"tries too many", exercise + "\n" + solution + "\n```go {wrong=fix-it why=x tries=11}\n" + exMain + "```\n",
			[]string{`x.md:20: tries=11: give a number of runs from 1 to 10`}},
		{"why twice", exercise + "\n" + solution + "\n```go {wrong=fix-it why=x why=y}\n" + exMain + "```\n",
			[]string{`x.md:20: cell attribute "why" is given twice`}},
		{"bad name", exercise + "\n" + solution + "\n```go {wrong=Fix why=x}\n" + exMain + "```\n",
			[]string{`x.md:20: wrong=Fix: exercise names are lower-case letters, digits and '-'`}},
		{"before its exercise", wrongBlock + "\n" + exercise + "\n" + solution,
			[]string{`x.md:6: wrong=fix-it: no exercise fix-it before this block (a wrong solution follows its exercise)`}},
		{"replaces the hidden check", exercise + "\n" + solution + "\n```go {wrong=fix-it why=x}\n" + exMain + exCheck + "```\n",
			[]string{`x.md:20: wrong solution file check_test.go is hidden in exercise fix-it: the solution must pass the exercise's own check`}},
		{"file not in the exercise", exercise + "\n" + solution + "\n```go {wrong=fix-it why=x}\n-- other.go --\npackage main\n```\n",
			[]string{`x.md:20: wrong solution file other.go is not a file of exercise fix-it (line 6)`}},
		{"broken exercise: no error about its wrong solution", "```go {exercise=fix-it mode=nope}\n" + exMain + "```\n\n" + solution + "\n" + wrongBlock,
			[]string{`x.md:6: unknown mode "nope"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLoadErrors(t, map[string]string{"x.md": lesson(tt.body)}, tt.want)
		})
	}
}
