package lessons

import (
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	fsys := mapFS(map[string]string{
		"10-zeta.md":   "---\ntitle: Zeta\nsummary: Z.\norder: 2\n---\nText.\n",
		"02-alpha.md":  "---\ntitle: Alpha\nsummary: A.\norder: 2\n---\n",
		"first.md":     "---\ntitle: First\nsummary: F.\norder: -5\n---\n",
		"notes.txt":    "not a lesson",
		"sub/inner.md": "not loaded: only the root counts",
		"03-cells.md": lesson("Intro.\n\n" +
			"```go\npackage main // plain\n```\n\n" +
			"```go {mode=race gomaxprocs=2 repeat=3 expect=race expect=exit=66}\npackage main\n\nfunc main() {}\n```\n\n" +
			"```go {mode=test}\n-- main_test.go --\npackage main\n-- main.go --\npackage main\n```\n"),
	})
	lib, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var slugs []string
	for _, l := range lib.Lessons() {
		slugs = append(slugs, l.Slug)
	}
	if want := []string{"first", "cells", "alpha", "zeta"}; !reflect.DeepEqual(slugs, want) {
		t.Errorf("Lessons() slugs = %q, want %q (by order, then slug)", slugs, want)
	}
	ls, ok := lib.Lesson("cells")
	if !ok {
		t.Fatal(`Lesson("cells") not found`)
	}
	if ls.File != "03-cells.md" || ls.Title != "T" || ls.Summary != "S" || ls.Order != 1 {
		t.Errorf("Lesson(cells) = %+v", ls)
	}
	want := []*Cell{{
		ID: "cells-1", Lesson: "cells", File: "03-cells.md", Line: 12, Mode: "race",
		Files:      []File{{"main.go", "package main\n\nfunc main() {}\n"}},
		GOMAXPROCS: 2, Repeat: 3,
		Expect: []Expect{{Kind: "race"}, {Kind: "exit", Value: "66"}},
	}, {
		ID: "cells-2", Lesson: "cells", File: "03-cells.md", Line: 18, Mode: "test",
		Files:    []File{{"main.go", "package main\n"}, {"main_test.go", "package main\n"}},
		HasTests: true,
	}}
	if !reflect.DeepEqual(ls.Cells, want) {
		t.Errorf("cells =\n%+v\n%+v\nwant\n%+v\n%+v", ls.Cells[0], ls.Cells[1], want[0], want[1])
	}
	for _, c := range ls.Cells {
		if got, ok := lib.Cell(c.ID); !ok || got != c {
			t.Errorf("Cell(%q) = %v, %v; want the lesson's cell", c.ID, got, ok)
		}
	}
	if _, ok := lib.Cell("cells-3"); ok {
		t.Error(`Cell("cells-3") found; the plain go block must not be a cell`)
	}
	if _, ok := lib.Lesson("inner"); ok {
		t.Error(`Lesson("inner") found; files in subdirectories must be ignored`)
	}
	if got, want := ls.Cells[1].FileMap(), map[string]string{"main.go": "package main\n", "main_test.go": "package main\n"}; !reflect.DeepEqual(got, want) {
		t.Errorf("FileMap() = %q, want %q", got, want)
	}
}

func TestLessonsIsACopy(t *testing.T) {
	lib, err := Load(mapFS(map[string]string{"a.md": lesson(""), "b.md": lesson("")}))
	if err != nil {
		t.Fatal(err)
	}
	got := lib.Lessons()
	got[0], got[1] = got[1], got[0]
	if lib.Lessons()[0].Slug != "a" {
		t.Error("reordering the result of Lessons() changed the library")
	}
}

func TestSlug(t *testing.T) {
	tests := []struct{ file, want string }{
		{"01-first-race.md", "first-race"},
		{"first-race.md", "first-race"},
		{"2024-01-x.md", "01-x"},
		{"007-go_mod.md", "go_mod"},
	}
	for _, tt := range tests {
		got, err := slugOf(tt.file)
		if err != nil || got != tt.want {
			t.Errorf("slugOf(%q) = %q, %v; want %q", tt.file, got, err, tt.want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"no lessons", map[string]string{"README.txt": "x"}, "no lessons: the directory has no *.md file"},
		{"duplicate slug", map[string]string{"01-a.md": lesson(""), "02-a.md": lesson("")}, `02-a.md: slug "a" is already taken by 01-a.md`},
		{"bad slug", map[string]string{"01-First Race.md": lesson("")}, `01-First Race.md: file name gives the slug "First Race"`},
		{"only a number", map[string]string{"01-.md": lesson("")}, `01-.md: file name gives the slug ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLoadError(t, tt.files, tt.want)
		})
	}
}

func TestLoadReadError(t *testing.T) {
	fsys := fstest.MapFS{"a.md": &fstest.MapFile{Mode: fs.ModeDir}}
	_, err := Load(fsys)
	if err == nil || !strings.HasPrefix(err.Error(), "lessons: a.md: read: ") {
		t.Fatalf("Load of a directory named a.md: error %v, want lessons: a.md: read: …", err)
	}
}

func TestBuiltinLoads(t *testing.T) {
	lib, err := Load(Builtin())
	if err != nil {
		t.Fatalf("Load(Builtin()): %v", err)
	}
	ls, ok := lib.Lesson("first-race")
	if !ok {
		t.Fatal(`the built-in lessons have no "first-race"`)
	}
	if ls.Title != "Your first data race" || ls.Order != 0 {
		t.Errorf("first-race: title %q, order %d", ls.Title, ls.Order)
	}
	modes := map[string]int{}
	for _, c := range ls.Cells {
		modes[c.Mode]++
	}
	for _, m := range []string{"run", "race", "test", "asm"} {
		if modes[m] == 0 {
			t.Errorf("first-race has no cell in mode %s", m)
		}
	}
}

func BenchmarkLoadBuiltin(b *testing.B) {
	for b.Loop() {
		if _, err := Load(Builtin()); err != nil {
			b.Fatal(err)
		}
	}
}
