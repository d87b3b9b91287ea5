package lessons

import (
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files testdata/*.golden")

// TestGolden compares the rendered HTML of the sample lesson and of the test
// lesson in testdata with testdata/*.golden. After a deliberate change, run
// go test ./lessons -update and review the diff.
func TestGolden(t *testing.T) {
	tests := []struct {
		fsys   fs.FS
		slug   string
		golden string
	}{
		{nil, "first-race", "testdata/first-race.golden"},
		{os.DirFS("testdata"), "kitchen-sink", "testdata/kitchen-sink.golden"},
	}
	for _, tt := range tests {
		t.Run(tt.slug, func(t *testing.T) {
			ls := loadLesson(t, tt.fsys, tt.slug)
			got := string(ls.HTML)
			if *update {
				if err := os.WriteFile(tt.golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(tt.golden)
			if err != nil {
				t.Fatalf("%v (run go test ./lessons -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("HTML of %s differs from %s (run go test ./lessons -update and review the diff):\n%s",
					tt.slug, tt.golden, firstDiff(got, string(want)))
			}
		})
	}
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + g[i] + "\nwant: " + w[i]
		}
	}
	return "got " + strconv.Itoa(len(g)) + " lines, want " + strconv.Itoa(len(w))
}

// builtin is the built-in lessons, loaded once for the tests that read
// them: a Library is read-only once loaded, and loading the built-ins
// takes some 3 s under -race (each cell's source is parsed, its HTML
// highlighted). TestBuiltinLoads loads them itself.
var builtin = sync.OnceValues(func() (*Library, error) { return Load(Builtin()) })

// load is Load(fsys), or the shared load of the built-in lessons when
// fsys is nil.
func load(t *testing.T, fsys fs.FS) *Library {
	t.Helper()
	var lib *Library
	var err error
	if fsys == nil {
		lib, err = builtin()
	} else {
		lib, err = Load(fsys)
	}
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

// loadLesson loads the lessons of fsys (nil: the built-ins) and returns
// the one named slug.
func loadLesson(t *testing.T, fsys fs.FS, slug string) *Lesson {
	t.Helper()
	lib := load(t, fsys)
	ls, ok := lib.Lesson(slug)
	if !ok {
		t.Fatalf("no lesson %q", slug)
	}
	return ls
}

// allLessons returns the built-in lessons and those in testdata.
func allLessons(t *testing.T) []*Lesson {
	t.Helper()
	var all []*Lesson
	for _, fsys := range []fs.FS{nil, os.DirFS("testdata")} {
		all = append(all, load(t, fsys).Lessons()...)
	}
	return all
}

// TestScriptEscaping checks that the files' JSON cannot end its script
// element early, whatever the source holds, and that it decodes back to the
// cell's files.
func TestScriptEscaping(t *testing.T) {
	const src = "package main\n\n// </script><script>alert(1)</script> <!-- & -->\nfunc main() {}\n"
	ls := loadLesson(t, mapFS(map[string]string{"x.md": lesson("```go {}\n" + src + "```\n")}), "x")
	html := string(ls.HTML)
	if n := strings.Count(strings.ToLower(html), "</script"); n != 1 {
		t.Errorf("the HTML has %d </script, want 1 (the cell's own):\n%s", n, html)
	}
	if strings.Contains(html, "<!--") {
		t.Errorf("the HTML has <!-- outside a comment:\n%s", html)
	}
	files := cellJSON(t, html)
	if len(files) != 1 {
		t.Fatalf("%d cells' JSON, want 1", len(files))
	}
	if want := ls.Cells[0].FileMap(); !reflect.DeepEqual(files[0], want) {
		t.Errorf("JSON decodes to %q, want %q", files[0], want)
	}
}

var cellJSONRE = regexp.MustCompile(`<script type="application/json" class="cell-files">(.*?)</script>`)

// cellJSON decodes every cell's files JSON in html.
func cellJSON(t *testing.T, html string) []map[string]string {
	t.Helper()
	var out []map[string]string
	for _, m := range cellJSONRE.FindAllStringSubmatch(html, -1) {
		var files map[string]string
		if err := json.Unmarshal([]byte(m[1]), &files); err != nil {
			t.Fatalf("cell JSON %s: %v", m[1], err)
		}
		out = append(out, files)
	}
	return out
}

// TestCellJSONMatchesFiles checks every cell of every lesson: its JSON is
// its files, and main.go comes first in both the JSON and the page.
func TestCellJSONMatchesFiles(t *testing.T) {
	for _, ls := range allLessons(t) {
		files := cellJSON(t, string(ls.HTML))
		if len(files) != len(ls.Cells) {
			t.Fatalf("%s: %d cells' JSON, %d cells", ls.Slug, len(files), len(ls.Cells))
		}
		for i, c := range ls.Cells {
			if !reflect.DeepEqual(files[i], c.FileMap()) {
				t.Errorf("%s: JSON %q, want %q", c.ID, files[i], c.FileMap())
			}
		}
	}
}

func TestCellHTML(t *testing.T) {
	ls := loadLesson(t, mapFS(map[string]string{"01-x.md": lesson(
		"```go {mode=race gomaxprocs=4 repeat=5 expect=race expect=exit=66}\npackage main\n```\n\n" +
			"```go {mode=test}\npackage main\n-- main_test.go --\npackage main\n```\n\n" +
			"```go {mode=asm goarch=arm64 expect=asm~=STLR}\npackage main\n```\n")}), "x")
	html := string(ls.HTML)
	for _, want := range []string{
		`<figure class="cell" id="cell-x-1" data-cell="x-1" data-mode="race" data-gomaxprocs="4" data-repeat="5" data-tests="false">` + "\n" +
			`  <div class="cell-code">` + "\n" +
			`    <div class="cell-file" data-file="main.go"><pre class="chroma"><code>`,
		`</code></pre></div>` + "\n  </div>\n" +
			`  <script type="application/json" class="cell-files">{"main.go":"package main\n"}</script>` + "\n" +
			`  <figcaption class="cell-expect">Expected: a data race is reported, exit status 66</figcaption>` + "\n</figure>\n",
		`<figure class="cell" id="cell-x-2" data-cell="x-2" data-mode="test" data-gomaxprocs="0" data-repeat="1" data-tests="true">`,
		`<div class="cell-file" data-file="main.go"><div class="cell-file-name">main.go</div><pre class="chroma"><code>`,
		`<div class="cell-file" data-file="main_test.go"><div class="cell-file-name">main_test.go</div><pre class="chroma"><code>`,
		`{"main.go":"package main\n","main_test.go":"package main\n"}</script>` + "\n</figure>\n",
		`<figure class="cell" id="cell-x-3" data-cell="x-3" data-mode="asm" data-gomaxprocs="0" data-repeat="1" data-tests="false" data-goarch="arm64">`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks\n%s\nin\n%s", want, html)
		}
	}
	if n := strings.Count(html, "data-goarch"); n != 1 {
		t.Errorf("%d data-goarch, want 1 (only a cell that names its architecture)", n)
	}
	if n := strings.Count(html, "cell-file-name"); n != 2 {
		t.Errorf("%d .cell-file-name, want 2 (none for a one-file cell)", n)
	}
}

// TestExerciseHTML checks that an exercise's hidden files are in its JSON,
// which every run sends, but not in the code the page shows without script,
// and that its solution is drawn collapsed after it.
func TestExerciseHTML(t *testing.T) {
	body := "```go {exercise=fix hidden=check_test.go,helper_test.go mode=test expect=exit=0}\npackage main\n" +
		"-- check_test.go --\npackage main // SECRET-CHECK\n-- helper_test.go --\npackage main // SECRET-HELPER\n```\n\n" +
		"```go {solution=fix}\npackage main // fixed\n```\n"
	ls := loadLesson(t, mapFS(map[string]string{"x.md": lesson(body)}), "x")
	html := string(ls.HTML)
	fig, after, ok := strings.Cut(html, "</figure>\n")
	if !ok {
		t.Fatalf("no figure in\n%s", html)
	}
	for _, want := range []string{
		`<figure class="cell" id="cell-x-1" data-cell="x-1" data-mode="test" data-gomaxprocs="0" data-repeat="1" data-tests="true" data-exercise="fix" data-hidden="check_test.go,helper_test.go">` + "\n",
		`<div class="cell-file" data-file="main.go"><pre class="chroma">`,
	} {
		if !strings.Contains(fig, want) {
			t.Errorf("exercise HTML lacks\n%s\nin\n%s", want, fig)
		}
	}
	_, code, _ := strings.Cut(fig, `<div class="cell-code">`)
	code, _, _ = strings.Cut(code, `<script type="application/json"`)
	for _, hidden := range []string{"check_test.go", "helper_test.go", "SECRET", "cell-file-name"} {
		if strings.Contains(code, hidden) {
			t.Errorf("the shown code of the exercise contains %q:\n%s", hidden, code)
		}
	}
	files := cellJSON(t, html)
	want := map[string]string{"main.go": "package main\n", "check_test.go": "package main // SECRET-CHECK\n", "helper_test.go": "package main // SECRET-HELPER\n"}
	if len(files) != 1 || !reflect.DeepEqual(files[0], want) {
		t.Errorf("cell JSON = %q, want one cell with %q", files, want)
	}
	wantSolution := "<details class=\"solution\" data-exercise=\"fix\">\n  <summary>Show a solution</summary>\n" +
		`    <div class="solution-file" data-file="main.go"><pre class="chroma"><code>`
	if !strings.HasPrefix(after, wantSolution) || !strings.HasSuffix(after, "</code></pre></div>\n</details>\n") {
		t.Errorf("after the exercise:\n%s\nwant the solution, starting\n%s", after, wantSolution)
	}
	if strings.Contains(after, "SECRET") || strings.Contains(after, "solution-file-name") {
		t.Errorf("the solution shows hidden files or a file name for a one-file exercise:\n%s", after)
	}
}

// TestSolutionFileNames checks that a solution names its files when the
// learner sees several in the exercise.
func TestSolutionFileNames(t *testing.T) {
	body := "```go {exercise=fix}\npackage main\n-- counter.go --\npackage main\n```\n\n" +
		"```go {solution=fix}\n-- counter.go --\npackage main // fixed\n```\n"
	ls := loadLesson(t, mapFS(map[string]string{"x.md": lesson(body)}), "x")
	want := `<div class="solution-file" data-file="counter.go"><div class="solution-file-name">counter.go</div><pre class="chroma">`
	if !strings.Contains(string(ls.HTML), want) {
		t.Errorf("HTML lacks\n%s\nin\n%s", want, ls.HTML)
	}
}

func TestPlainCode(t *testing.T) {
	tests := []struct{ md, want string }{
		{"```go\npackage main\n```\n", `<pre class="chroma"><code><span class="line"><span class="cl"><span class="kn">package</span>`},
		{"```sh\necho hi\n```\n", `<pre class="chroma"><code><span class="line"><span class="cl"><span class="nb">echo</span>`},
		{"```nosuch\n<b>\n```\n", `<pre class="chroma"><code><span class="line"><span class="cl">&lt;b&gt;`},
		{"```\n<b>\n```\n", `<pre class="chroma"><code><span class="line"><span class="cl">&lt;b&gt;`},
		{"    <b>\n", `<pre class="chroma"><code><span class="line"><span class="cl">&lt;b&gt;`},
	}
	for _, tt := range tests {
		ls := loadLesson(t, mapFS(map[string]string{"x.md": lesson(tt.md)}), "x")
		if !strings.HasPrefix(string(ls.HTML), tt.want) {
			t.Errorf("render(%q) = %s, want prefix %s", tt.md, ls.HTML, tt.want)
		}
		if len(ls.Cells) != 0 {
			t.Errorf("render(%q) made a runnable cell", tt.md)
		}
	}
}

func TestExternalLinks(t *testing.T) {
	tests := []struct{ md, want string }{
		{"[mem](https://go.dev/ref/mem)", `<a href="https://go.dev/ref/mem" rel="noreferrer noopener">mem</a>`},
		{"[t](http://example.com/ \"T\")", `<a href="http://example.com/" title="T" rel="noreferrer noopener">t</a>`},
		{"https://go.dev/doc/articles/race_detector", `<a href="https://go.dev/doc/articles/race_detector" rel="noreferrer noopener">https://go.dev/doc/articles/race_detector</a>`},
		{"<https://go.dev/>", `<a href="https://go.dev/" rel="noreferrer noopener">https://go.dev/</a>`},
		{"www.example.com", `<a href="http://www.example.com" rel="noreferrer noopener">www.example.com</a>`},
		{"[local](/lessons/x)", `<a href="/lessons/x">local</a>`},
		{"[section](#fix)", `<a href="#fix">section</a>`},
		{"[relative](other)", `<a href="other">relative</a>`},
		{"[mail](mailto:a@example.com)", `<a href="mailto:a@example.com">mail</a>`},
		{"a@example.com", `<a href="mailto:a@example.com">a@example.com</a>`},
		{"[js](javascript:alert(1))", `<a href="">js</a>`},
	}
	for _, tt := range tests {
		ls := loadLesson(t, mapFS(map[string]string{"x.md": lesson(tt.md + "\n")}), "x")
		if !strings.Contains(string(ls.HTML), tt.want) {
			t.Errorf("render(%q) = %s, want %s", tt.md, ls.HTML, tt.want)
		}
	}
}

func TestHeadingAnchors(t *testing.T) {
	md := "# One\n\n## Two words\n\n### Three `code`\n\n#### Four\n\n## Two words\n"
	ls := loadLesson(t, mapFS(map[string]string{"x.md": lesson(md)}), "x")
	want := `<h1 id="one">One</h1>
<h2 id="two-words">Two words <a class="anchor" href="#two-words" aria-label="Link to this section">#</a></h2>
<h3 id="three-code">Three <code>code</code> <a class="anchor" href="#three-code" aria-label="Link to this section">#</a></h3>
<h4 id="four">Four</h4>
<h2 id="two-words-1">Two words <a class="anchor" href="#two-words-1" aria-label="Link to this section">#</a></h2>
`
	if got := string(ls.HTML); got != want {
		t.Errorf("headings render as\n%s\nwant\n%s", got, want)
	}
}

// TestSafeHTML checks that no lesson's HTML has an inline style (the site's
// CSP forbids them), an event handler, or a script other than the cells'
// JSON; raw HTML in markdown is dropped.
func TestSafeHTML(t *testing.T) {
	lessons := allLessons(t)
	raw := loadLesson(t, mapFS(map[string]string{"x.md": lesson(
		"<div style=\"color:red\" onclick=\"x()\">block</div>\n\nInline <b style=\"x\">b</b> <script>alert(1)</script>\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n")}), "x")
	lessons = append(lessons, raw)
	bad := regexp.MustCompile(`(?i)\sstyle=|\son[a-z]+=|<script(?: type="application/json" class="cell-files">)?|<style|javascript:`)
	for _, ls := range lessons {
		for _, m := range bad.FindAllString(string(ls.HTML), -1) {
			if !strings.Contains(m, "application/json") {
				t.Errorf("%s: the HTML contains %q:\n%s", ls.Slug, m, ls.HTML)
			}
		}
	}
	if !strings.Contains(string(raw.HTML), `<th align="left">a</th>`) {
		t.Errorf("table alignment is not an align attribute:\n%s", raw.HTML)
	}
}

// TestTraceCell: a traced cell says so to the page, and its edge claim
// reads in words.
func TestTraceCell(t *testing.T) {
	ls := loadLesson(t, mapFS(map[string]string{"01-x.md": lesson(
		"```go {trace=true expect=edge=send@9->receive@6}\npackage main\n\nfunc main() {}\n```\n")}), "x")
	c := ls.Cells[0]
	if !c.Trace {
		t.Fatal("Cell.Trace = false, want true")
	}
	html := string(ls.HTML)
	if !strings.Contains(html, `data-trace="true"`) {
		t.Errorf("the cell's HTML has no data-trace: %s", html)
	}
	if got, want := c.Expect[0].Words(), "the timeline shows the send at line 9 unblocks the receive at line 6"; got != want {
		t.Errorf("Words() = %q, want %q", got, want)
	}
	e, _ := ParseEdge("9->6")
	if !e.Matches("close", 9, "receive", 6) || e.Matches("send", 9, "receive", 7) {
		t.Errorf("%v.Matches is wrong", e)
	}
}

func TestCaption(t *testing.T) {
	tests := []struct {
		expects []Expect
		want    string
	}{
		{[]Expect{{"output", "hello\n"}}, "Expected output: hello"},
		{[]Expect{{"output", ""}}, "Expected: no output"},
		{[]Expect{{"race", ""}}, "Expected: a data race is reported"},
		{[]Expect{{"no-race", ""}}, "Expected: no data race"},
		{[]Expect{{"deadlock", ""}}, "Expected: the program deadlocks"},
		{[]Expect{{"timeout", ""}}, "Expected: the program is stopped by the time limit"},
		{[]Expect{{"exit", "66"}}, "Expected: exit status 66"},
		{[]Expect{{"compile-error", ""}}, "Expected: the build fails"},
		{[]Expect{{"asm", "LOCK XADDQ"}}, "Expected in the assembly: LOCK XADDQ"},
		{[]Expect{{"race", ""}, {"exit", "66"}}, "Expected: a data race is reported, exit status 66"},
		{[]Expect{{"no-race", ""}, {"output", "2000\n"}}, "Expected: no data race; Expected output: 2000"},
		{[]Expect{{"asm", "LOCK"}, {"asm", "RET"}}, "Expected in the assembly: LOCK, RET"},
		{[]Expect{{"output-match", `counter = \d+`}}, `Expected: output matching counter = \d+`},
		{[]Expect{{"some-output", "lost"}}, "Expected: at least one of the runs prints output matching lost"},
		{[]Expect{{"no-output", "r1=1 r2=0"}}, "Expected: no run prints output matching r1=1 r2=0"},
		{[]Expect{{"outputs", "2"}}, "Expected: at least 2 different outputs across the runs"},
		{[]Expect{{"stderr", "copies lock"}}, "Expected on stderr: copies lock"},
		{[]Expect{{"stderr", "a"}, {"stderr", "b"}}, "Expected on stderr: a, b"},
		{[]Expect{{"exit", "1"}, {"stderr", "copies lock"}}, "Expected: exit status 1; Expected on stderr: copies lock"},
		{[]Expect{{"race", ""}, {"outputs", "3"}, {"some-output", "x"}}, "Expected: a data race is reported, at least 3 different outputs across the runs, at least one of the runs prints output matching x"},
	}
	for _, tt := range tests {
		if got := caption(tt.expects); got != tt.want {
			t.Errorf("caption(%v) = %q, want %q", tt.expects, got, tt.want)
		}
	}
}

func TestChromaCSS(t *testing.T) {
	css := ChromaCSS()
	light, dark, ok := strings.Cut(css, "@media (prefers-color-scheme: dark) {")
	if !ok {
		t.Fatalf("ChromaCSS has no dark section:\n%s", css)
	}
	if !strings.HasSuffix(dark, "}\n") {
		t.Errorf("the dark section is not closed:\n%s", dark)
	}
	for _, want := range []string{".chroma .kn { ", ".chroma .s { ", ".chroma { "} {
		if !strings.Contains(light, "\n"+want) || !strings.Contains(dark, "\n  "+want) {
			t.Errorf("ChromaCSS lacks a light and a dark %q rule", want)
		}
	}
	// Every light rule has a dark one, so no light colour shows through.
	for line := range strings.Lines(light) {
		sel, _, ok := strings.Cut(line, " { ")
		if ok && !strings.Contains(dark, "  "+sel+" { ") {
			t.Errorf("light rule %q has no dark counterpart", sel)
		}
	}
	if strings.Contains(css, "#0d1117") == strings.Contains(light, "#0d1117") {
		t.Error("the dark background #0d1117 of github-dark is not in the dark section only")
	}
}

// A pattern reads as the text it looks for: escapes dropped, what it
// leaves open shown as "…".
func TestPlainPattern(t *testing.T) {
	for re, want := range map[string]string{
		`goroutine 1 \[chan receive\]`:              "goroutine 1 [chan receive]",
		`counter = \d+`:                             "counter = …",
		`^n = [0-9]+$`:                              "n = …",
		`all goroutines are asleep - deadlock!`:     "all goroutines are asleep - deadlock!",
		`sync\.\(\*Mutex\)\.Lock`:                   "sync.(*Mutex).Lock",
		`LOCK (XADDQ|CMPXCHGQ)`:                     "LOCK XADDQ or CMPXCHGQ",
		`goroutine 1 (gp=\S+ m=\S+ )?\[select .*\]`: "goroutine 1 …[select …]",
	} {
		if got := plainPattern(re); got != want {
			t.Errorf("plainPattern(%q) = %q, want %q", re, got, want)
		}
	}
}
