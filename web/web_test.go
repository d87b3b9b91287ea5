package web

import (
	"bytes"
	"compress/gzip"
	"html/template"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

// The page data the server passes; these mirror its structs field for
// field, which is the contract the templates are written against.
type (
	indexLesson struct {
		Slug, Title, Summary string
		Order                int
		Cells                int
	}
	indexPage struct {
		Title   string
		Lessons []indexLesson
		Live    bool
	}
	lessonBody struct {
		Slug, Title, Summary string
		Order                int
		HTML                 template.HTML
	}
	lessonLink struct{ Slug, Title string }
	lessonPage struct {
		Title      string
		Lesson     lessonBody
		Prev, Next *lessonLink
		Live       bool
	}
	notFoundPage struct {
		Title, Path string
		Live        bool
	}
	errorPage struct {
		Title, Message string
		Live           bool
	}
)

func samplePages(t *testing.T) map[string]any {
	t.Helper()
	cells, err := os.ReadFile("testdata/lesson.html")
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{
		"index.html": indexPage{Title: "Lessons", Lessons: []indexLesson{
			{Slug: "first-race", Title: "Your first race", Summary: "Two goroutines, one variable.", Order: 1, Cells: 2},
			{Slug: "happens-before", Title: "Happens before", Summary: "What a channel promises.", Order: 2, Cells: 3},
		}},
		"index.html (empty)": indexPage{Title: "Lessons"},
		"lesson.html": lessonPage{
			Title:  "Your first race",
			Lesson: lessonBody{Slug: "first-race", Title: "Your first race", Summary: "Two goroutines.", Order: 1, HTML: template.HTML(cells)},
			Prev:   &lessonLink{Slug: "intro", Title: "Introduction"},
			Next:   &lessonLink{Slug: "happens-before", Title: "Happens before"},
		},
		"lesson.html (first)": lessonPage{
			Title:  "Introduction",
			Lesson: lessonBody{Slug: "intro", Title: "Introduction", Order: 0, HTML: "<p>Hello.</p>"},
		},
		"404.html":          notFoundPage{Title: "Not found", Path: `/lessons/<b>nope</b>`},
		"error.html":        errorPage{Title: "This lesson could not be loaded", Message: "lessons: parse x.md: line 3: bad attribute"},
		"error.html (live)": errorPage{Title: "This lesson could not be loaded", Message: "lessons: x.md:3: bad attribute", Live: true},
	}
}

var (
	scriptRE    = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script\s*>`)
	styleAttrRE = regexp.MustCompile(`(?i)<[^>]*\sstyle\s*=`)
	styleElemRE = regexp.MustCompile(`(?i)<style\b`)
	handlerRE   = regexp.MustCompile(`(?i)<[^>]*\son[a-z]+\s*=`)
)

// checkCSP fails for anything the page's Content-Security-Policy would
// block: inline script code, event handler attributes, style attributes
// and style elements.
func checkCSP(t *testing.T, page string) {
	t.Helper()
	for _, m := range scriptRE.FindAllStringSubmatch(page, -1) {
		attrs, body := m[1], strings.TrimSpace(m[2])
		switch {
		case strings.Contains(attrs, "src="):
			if body != "" {
				t.Errorf("script with src has a body: %s", m[0])
			}
		case strings.Contains(attrs, `type="application/json"`):
			// Data, not code: CSP does not run it.
		default:
			t.Errorf("inline script code: %.120s", m[0])
		}
	}
	if m := styleAttrRE.FindString(page); m != "" {
		t.Errorf("style attribute: %.120s", m)
	}
	if styleElemRE.MatchString(page) {
		t.Errorf("<style> element in the page")
	}
	if m := handlerRE.FindString(page); m != "" {
		t.Errorf("event handler attribute: %.120s", m)
	}
}

func TestTemplatesExecute(t *testing.T) {
	tmpl, err := Templates(testFuncs)
	if err != nil {
		t.Fatalf("Templates() error: %v", err)
	}
	for name, data := range samplePages(t) {
		t.Run(name, func(t *testing.T) {
			page, _, _ := strings.Cut(name, " ")
			var b bytes.Buffer
			if err := tmpl.ExecuteTemplate(&b, page, data); err != nil {
				t.Fatalf("ExecuteTemplate(%q) error: %v", page, err)
			}
			out := b.String()
			checkCSP(t, out)
			for _, want := range []string{
				`<link rel="stylesheet" href="/static/app.css">`,
				`<link rel="stylesheet" href="/static/chroma.css">`,
				`<script src="/static/app.js" defer></script>`,
				`<a class="site-name" href="/">racelab</a>`,
				`<footer class="site-footer">`,
			} {
				if !strings.Contains(out, want) {
					t.Errorf("ExecuteTemplate(%q) lacks %s", page, want)
				}
			}
		})
	}
}

func TestPageContents(t *testing.T) {
	tmpl, err := Templates(testFuncs)
	if err != nil {
		t.Fatal(err)
	}
	pages := samplePages(t)
	tests := []struct {
		name     string
		contains []string
		lacks    []string
	}{
		{"index.html", []string{
			`<li class="lesson-item" data-lesson="first-race">`,
			`<a class="lesson-link" href="/lessons/first-race">Your first race</a>`,
			`Two goroutines, one variable.`,
			`<span class="lesson-progress" data-cells="2"></span>`,
			`<title>Lessons · racelab</title>`,
		}, nil},
		{"lesson.html", []string{
			`<link rel="prev" href="/lessons/intro">`,
			`<link rel="next" href="/lessons/happens-before">`,
			`id="prev-lesson"`,
			`id="next-lesson"`,
			`<article class="lesson" data-lesson="first-race">`,
			`<figure class="cell" id="cell-first-race-2"`, // the trusted HTML, unescaped
		}, nil},
		{"lesson.html (first)", []string{`<h1>Introduction</h1>`}, []string{`rel="prev"`, `rel="next"`, `prev-lesson`, `next-lesson`}},
		{"404.html", []string{`/lessons/&lt;b&gt;nope&lt;/b&gt;`}, []string{`<b>nope</b>`}},
		{"error.html", []string{`This lesson could not be loaded`, `line 3: bad attribute`}, []string{`racelab-live`}},
		{"error.html (live)", []string{`<meta name="racelab-live" content="1">`, `x.md:3: bad attribute`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, _, _ := strings.Cut(tt.name, " ")
			var b bytes.Buffer
			if err := tmpl.ExecuteTemplate(&b, page, pages[tt.name]); err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.contains {
				if !strings.Contains(b.String(), s) {
					t.Errorf("%s: output lacks %q", tt.name, s)
				}
			}
			for _, s := range tt.lacks {
				if strings.Contains(b.String(), s) {
					t.Errorf("%s: output contains %q", tt.name, s)
				}
			}
		})
	}
}

func TestStatic(t *testing.T) {
	static := Static()
	for _, name := range []string{"app.js", "app.css"} {
		b, err := fs.ReadFile(static, name)
		if err != nil {
			t.Errorf("Static(): %v", err)
			continue
		}
		if len(b) == 0 {
			t.Errorf("Static(): %s is empty", name)
		}
	}
	// Only static/ is served: the templates and sources are not.
	for _, name := range []string{"templates/base.html", "base.html", "../web.go"} {
		if _, err := fs.Stat(static, name); err == nil {
			t.Errorf("Static() serves %s", name)
		}
	}
}

// testFuncs link each static file by its plain name, as the server would
// without content hashes.
var testFuncs = template.FuncMap{"asset": func(name string) string { return "/static/" + name }}

// The compressed forms build.mjs writes beside the static files (which
// the server sends to browsers that take them) hold exactly those files:
// a file changed without make web would send its old self.
func TestCompressedStatic(t *testing.T) {
	names, _ := fs.Glob(Static(), "*")
	checked := 0
	for _, name := range names {
		dec := map[string]func(io.Reader) (io.Reader, error){
			".gz": func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) },
			".br": func(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil },
		}[path.Ext(name)]
		if dec == nil {
			continue
		}
		raw, err := fs.ReadFile(Static(), strings.TrimSuffix(name, path.Ext(name)))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		f, _ := Static().Open(name)
		r, err := dec(f)
		var got []byte
		if err == nil {
			got, err = io.ReadAll(r)
		}
		f.Close()
		if err != nil || !bytes.Equal(got, raw) {
			t.Errorf("%s does not decompress to the file beside it (%v): run make web and commit", name, err)
		}
		checked++
	}
	if checked < 4 {
		t.Errorf("%d compressed static files checked, want app.js's and app.css's .br and .gz at least", checked)
	}
}
