package lessons

import (
	"strings"
	"testing"
)

func TestParseFrontMatter(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		want     frontMatter
		wantBody string
		wantLine int // lines before the body
	}{{
		name:     "plain",
		src:      "---\ntitle: Hello\nsummary: One line.\norder: 3\n---\nbody\n",
		want:     frontMatter{Title: "Hello", Summary: "One line.", Order: 3},
		wantBody: "body\n",
		wantLine: 5,
	}, {
		name:     "quoted, comments, blank lines, any order",
		src:      "---\n# a comment\norder: -1\n\nsummary: \"a: b \\\"c\\\"\"\ntitle:   spaced   \n---\n",
		want:     frontMatter{Title: "spaced", Summary: `a: b "c"`, Order: -1},
		wantBody: "",
		wantLine: 7,
	}, {
		name:     "no newline after closing line",
		src:      "---\ntitle: T\nsummary: S\norder: 0\n---",
		want:     frontMatter{Title: "T", Summary: "S"},
		wantBody: "",
		wantLine: 5,
	}, {
		name:     "value with a colon",
		src:      "---\ntitle: Go: the memory model\nsummary: S\norder: 1\n---\n",
		want:     frontMatter{Title: "Go: the memory model", Summary: "S", Order: 1},
		wantLine: 5,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fm, start, line, err := parseFrontMatter([]byte(tt.src))
			if err != nil {
				t.Fatalf("parseFrontMatter(%q): %v", tt.src, err)
			}
			if fm != tt.want {
				t.Errorf("parseFrontMatter(%q) = %+v, want %+v", tt.src, fm, tt.want)
			}
			if body := tt.src[start:]; body != tt.wantBody {
				t.Errorf("body = %q, want %q", body, tt.wantBody)
			}
			if line != tt.wantLine {
				t.Errorf("body line = %d, want %d", line, tt.wantLine)
			}
		})
	}
}

// TestFrontMatterErrors checks each error through Load, so that the message
// names the file and the exact line.
func TestFrontMatterErrors(t *testing.T) {
	const ok = "title: T\nsummary: S\norder: 1\n"
	tests := []struct {
		name, src, want string
	}{
		{"empty file", "", `x.md:1: missing front matter`},
		{"no front matter", "# Title\n", `x.md:1: missing front matter`},
		{"not at the top", "\n---\n" + ok + "---\n", `x.md:1: missing front matter`},
		{"not closed", "---\n" + ok, `x.md:1: front matter has no closing "---" line`},
		{"unknown key", "---\ntitle: T\nsumary: S\norder: 1\n---\n", `x.md:3: unknown front matter key "sumary" (want one of title, summary, order)`},
		{"no colon", "---\n" + ok + "just text\n---\n", `x.md:5: front matter line "just text" is not "key: value"`},
		{"duplicate", "---\n" + ok + "title: U\n---\n", `x.md:5: front matter key "title" is given twice (first on line 2)`},
		{"missing title", "---\nsummary: S\norder: 1\n---\n", `x.md:4: front matter has no "title"`},
		{"missing summary", "---\ntitle: T\norder: 1\n---\n", `x.md:4: front matter has no "summary"`},
		{"missing order", "---\ntitle: T\nsummary: S\n\n---\n", `x.md:5: front matter has no "order"`},
		{"order not a number", "---\ntitle: T\nsummary: S\norder: first\n---\n", `x.md:4: front matter order "first" is not an integer`},
		{"empty value", "---\ntitle:\nsummary: S\norder: 1\n---\n", `x.md:2: front matter title is empty`},
		{"empty quoted value", "---\ntitle: T\nsummary: \"\"\norder: 1\n---\n", `x.md:3: front matter summary is empty`},
		{"bad quotes", "---\ntitle: \"T\nsummary: S\norder: 1\n---\n", `x.md:2: front matter title: bad quoted value "T: invalid syntax`},
		{"single quotes", "---\ntitle: 'T'\nsummary: S\norder: 1\n---\n", `x.md:2: front matter title: quote values with double quotes`},
		{"two lines", "---\ntitle: T\nsummary: \"a\\nb\"\norder: 1\n---\n", `x.md:3: front matter summary must be one line`},
		{"CRLF keeps lines", "---\r\ntitle: T\r\nsummary: S\r\norder: x\r\n---\r\n", `x.md:4: front matter order "x" is not an integer`},
		{"not UTF-8", "---\ntitle: T\nsummary: S\xff\norder: 1\n---\n", `x.md:3: the file is not valid UTF-8 text`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLoadError(t, map[string]string{"x.md": tt.src}, tt.want)
		})
	}
}

// checkLoadError loads files and checks that the error starts with
// "lessons: " and then want.
func checkLoadError(t *testing.T, files map[string]string, want string) {
	t.Helper()
	_, err := Load(mapFS(files))
	if err == nil {
		t.Fatalf("Load(%q) succeeded, want error %q", files, want)
	}
	if got := err.Error(); !strings.HasPrefix(got, "lessons: "+want) {
		t.Errorf("Load error = %q, want prefix %q", got, "lessons: "+want)
	}
}
