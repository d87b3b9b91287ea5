// Package lessons loads racelab's lessons: markdown files with a small front
// matter, whose fenced Go blocks with attributes are runnable cells.
//
// A Library is built once, at start-up, by Load; it parses and renders every
// lesson and keeps the results in memory, so serving a page costs nothing
// but a map look-up. A Library is never modified after Load returns and is
// safe for concurrent use. The file format is described in README.md.
package lessons

import (
	"cmp"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
)

// builtinFiles holds the lessons shipped inside the binary.
//
//go:embed builtin/*.md
var builtinFiles embed.FS

// Builtin returns the built-in lessons, the *.md files of lessons/builtin.
func Builtin() fs.FS {
	sub, err := fs.Sub(builtinFiles, "builtin")
	if err != nil {
		// fs.Sub fails only on an invalid path, and "builtin" is valid.
		panic(err)
	}
	return sub
}

// A Library is a loaded, rendered set of lessons.
type Library struct {
	lessons []*Lesson          // sorted by Order, then Slug
	bySlug  map[string]*Lesson // every lesson by its slug
	cells   map[string]*Cell   // every runnable cell by its ID
}

// A Lesson is one markdown file, parsed and rendered. Its fields must not be
// modified: a Lesson is shared by every request that shows it.
type Lesson struct {
	Slug    string        // file name without ".md" and without a leading "NN-" number prefix: "01-first-race.md" → "first-race"
	File    string        // file name in the loaded fs.FS
	Title   string        // front matter: title
	Summary string        // front matter: summary, one line
	Order   int           // front matter: order; the index lists lessons by it
	HTML    template.HTML // the rendered body, without the title
	Cells   []*Cell       // the runnable cells, in the order they appear
}

// A Cell is a runnable code block of a lesson and what it is meant to show.
// Like a Lesson, it is shared and must not be modified.
type Cell struct {
	ID         string   // Slug + "-" + its number from 1 in the lesson: "first-race-2"
	Lesson     string   // the lesson's slug
	File       string   // the lesson's file name
	Line       int      // line of the opening fence in File
	Mode       string   // run, race, asm, test, bench or vet (default run)
	Files      []File   // main.go first (when the cell has one), then in source order
	GOMAXPROCS int      // 0 means the Go default
	Repeat     int      // how many runs; 0 (not given) or 1 means once
	Trace      bool     // trace=true: run with the execution tracer on, and claims about its timeline (edge=)
	Expect     []Expect // what the cell demonstrates, in the order written
	HasTests   bool     // some file ends in _test.go, hidden or not
	GOARCH     string   // mode asm: the architecture to compile for, "" for the default (amd64)

	// Exercise is the name from exercise=NAME, unique in the lesson, or ""
	// for a cell that is not an exercise. An exercise's Files are the
	// starting code, which must fail its Expect; with Solution in place of
	// the same-named files it must meet them.
	Exercise string
	// Hidden names the files of Files, from hidden=FILE[,FILE…] in the
	// order written, that the page does not show or let the learner edit
	// but sends with every run: typically the check, check_test.go. It is
	// nil when every file is shown, and always nil unless Exercise is set.
	Hidden []string
	// Tries is how many runs racelab check gives the exercise's check to
	// reject its starting code (tries=; 0 when not given, meaning 1), as
	// Wrong.Tries for a known-wrong solution.
	Tries int
	// Solution is the reference solution of an exercise, as written in its
	// ```go {solution=NAME} block: each file replaces the same-named file of
	// Files (never a hidden one). SolutionFileMap gives the files to run.
	// It is nil when Exercise is "".
	Solution []File
	// SolutionLine is the line in File of the solution block's opening
	// fence, or 0 when there is no solution.
	SolutionLine int
	// Wrong lists the exercise's known-wrong solutions, from its
	// ```go {wrong=NAME why="…"} blocks in the order written: typical
	// mistakes its check must reject. The page does not show them.
	Wrong []Wrong
}

// A File is one source file of a cell.
type File struct {
	Name string // plain base name: "main.go", "main_test.go", "go.mod"
	Body string // contents, ending in a newline unless empty
}

// FileMap returns the cell's files by name, the shape of a run request.
func (c *Cell) FileMap() map[string]string {
	m := make(map[string]string, len(c.Files))
	for _, f := range c.Files {
		m[f.Name] = f.Body
	}
	return m
}

// Shown reports whether the page shows the file of the given name in the
// cell's editor: true for every file but the Hidden ones.
func (c *Cell) Shown(name string) bool { return !slices.Contains(c.Hidden, name) }

// SolutionFileMap returns the files that check an exercise's solution:
// FileMap with the files of Solution in place of the same-named ones. It
// returns nil when the cell has no solution.
func (c *Cell) SolutionFileMap() map[string]string {
	if c.Solution == nil {
		return nil
	}
	return withFiles(c.FileMap(), c.Solution)
}

// AllCells returns every runnable cell of every lesson: the lessons in the
// order of Lessons, the cells of each in the order they appear. The slice is
// the caller's; the cells are shared.
func (l *Library) AllCells() []*Cell {
	var all []*Cell
	for _, ls := range l.lessons {
		all = append(all, ls.Cells...)
	}
	return all
}

// Lessons returns every lesson, sorted by Order and then by Slug. The slice
// is the caller's; the lessons are shared.
func (l *Library) Lessons() []*Lesson { return slices.Clone(l.lessons) }

// Lesson returns the lesson with the given slug.
func (l *Library) Lesson(slug string) (*Lesson, bool) {
	ls, ok := l.bySlug[slug]
	return ls, ok
}

// Cell returns the runnable cell with the given ID, such as "first-race-2".
func (l *Library) Cell(id string) (*Cell, bool) {
	c, ok := l.cells[id]
	return c, ok
}

// An Error is a problem in a lesson file. Load returns one for each broken
// file (joined with errors.Join when there are several); its text names the
// file and line, as in
//
//	lessons: 02-leaks.md:14: unknown cell attribute "mod" (want one of mode, expect, gomaxprocs, repeat, goarch, trace, exercise, hidden, tries, solution)
type Error struct {
	File string // file name in the loaded fs.FS
	Line int    // 1-based line; 0 when the problem is not on one line
	Err  error  // what is wrong
}

// Error returns "lessons: FILE:LINE: problem", or "lessons: FILE: problem"
// when the problem is not on one line.
func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("lessons: %s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("lessons: %s:%d: %v", e.File, e.Line, e.Err)
}

// Unwrap returns the underlying problem, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// errorAt returns an *Error at line of a file not yet known; Load fills in
// the file name.
func errorAt(line int, format string, args ...any) error {
	return &Error{Line: line, Err: fmt.Errorf(format, args...)}
}

// inFile sets the file name of every *Error in err, a single error or a
// join of them, and wraps any other error in one.
func inFile(err error, name string) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs := j.Unwrap()
		out := make([]error, len(errs))
		for i, e := range errs {
			out[i] = inFile(e, name)
		}
		return errors.Join(out...)
	}
	if e, ok := err.(*Error); ok {
		e.File = name
		return e
	}
	return &Error{File: name, Err: err}
}

// slugPrefix is the optional number that orders files in a directory listing.
var slugPrefix = regexp.MustCompile(`^[0-9]+-`)

// validSlug is what may appear in a URL path and an HTML id without escaping.
var validSlug = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// slugOf returns the slug of a lesson file name: "01-first-race.md" → "first-race".
func slugOf(name string) (string, error) {
	slug := slugPrefix.ReplaceAllString(strings.TrimSuffix(name, ".md"), "")
	if !validSlug.MatchString(slug) {
		return "", fmt.Errorf("file name gives the slug %q: use lower-case letters, digits, '-' and '_' (as in 01-first-race.md)", slug)
	}
	return slug, nil
}

// Load parses and renders every *.md file at the root of fsys (directories
// and other files are ignored) and returns the library. A broken lesson is an
// error naming its file and line; every broken file is reported, not only
// the first. It is meant to run once at start-up: a server should refuse to
// start on an error.
func Load(fsys fs.FS) (*Library, error) {
	names, err := fs.Glob(fsys, "*.md")
	if err != nil {
		return nil, fmt.Errorf("lessons: list lessons: %w", err)
	}
	if len(names) == 0 {
		return nil, errors.New("lessons: no lessons: the directory has no *.md file")
	}
	r := newRenderer()
	lib := &Library{bySlug: map[string]*Lesson{}, cells: map[string]*Cell{}}
	var errs []error
	for _, name := range names {
		ls, err := loadFile(fsys, name, r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, ok := lib.bySlug[ls.Slug]; ok {
			errs = append(errs, &Error{File: name, Err: fmt.Errorf("slug %q is already taken by %s", ls.Slug, prev.File)})
			continue
		}
		lib.add(ls)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.SortFunc(lib.lessons, func(a, b *Lesson) int {
		return cmp.Or(cmp.Compare(a.Order, b.Order), strings.Compare(a.Slug, b.Slug))
	})
	return lib, nil
}

func (l *Library) add(ls *Lesson) {
	l.lessons = append(l.lessons, ls)
	l.bySlug[ls.Slug] = ls
	for _, c := range ls.Cells {
		l.cells[c.ID] = c
	}
}

// loadFile reads, parses and renders one lesson.
func loadFile(fsys fs.FS, name string, r *mdRenderer) (*Lesson, error) {
	slug, err := slugOf(path.Base(name))
	if err != nil {
		return nil, &Error{File: name, Err: err}
	}
	src, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, &Error{File: name, Err: fmt.Errorf("read: %w", err)}
	}
	ls, err := parseLesson(src, slug, name, r)
	if err != nil {
		return nil, inFile(err, name)
	}
	return ls, nil
}
