package server

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/racelab/racelab/lessons"
)

const (
	lessonOne = "---\ntitle: %s\nsummary: The first lesson.\norder: 1\n---\n\nText.\n\n```go\npackage main\n\nfunc main() {}\n```\n"
	// brokenOne has an unknown mode on line 9, its cell's opening fence.
	brokenOne = "---\ntitle: Lesson One\nsummary: The first lesson.\norder: 1\n---\n\nText.\n\n```go {mode=warp}\npackage main\n```\n"
)

// liveSite is a live server of the lessons in a temporary directory, and
// the directory, to edit.
type liveSite struct {
	dir string
	s   *Server
	ts  *httptest.Server
}

func newLiveSite(t *testing.T) *liveSite {
	t.Helper()
	ls := &liveSite{dir: t.TempDir()}
	ls.write(t, "01-one.md", strings.Replace(lessonOne, "%s", "Lesson One", 1))
	ls.write(t, "02-two.md", "---\ntitle: Lesson Two\nsummary: The second.\norder: 2\n---\n\nMore.\n")
	lib, err := lessons.Load(os.DirFS(ls.dir))
	if err != nil {
		t.Fatal(err)
	}
	ls.s, err = New(Config{Live: true}, lib, newFake())
	if err != nil {
		t.Fatal(err)
	}
	ls.ts = httptest.NewServer(ls.s)
	t.Cleanup(ls.ts.Close)
	return ls
}

func (ls *liveSite) write(t *testing.T, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(ls.dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// reload does what racelab serve's watcher does after a change.
func (ls *liveSite) reload() {
	lib, err := lessons.Load(os.DirFS(ls.dir))
	ls.s.Reload(lib, err)
}

// A change on disk shows after Reload; a broken lesson shows its error,
// file and line, on the index and every lesson page with status 500
// (the server keeps running); fixing it brings the pages back.
func TestReloadPages(t *testing.T) {
	ls := newLiveSite(t)
	type check struct {
		path   string
		status int
		want   []string
	}
	steps := []struct {
		name   string
		edit   string // the new body of 01-one.md
		checks []check
	}{
		{"start", "", []check{
			{"/lessons/one", 200, []string{"Lesson One", `<meta name="racelab-live" content="1">`}},
			{"/", 200, []string{"Lesson One", "racelab-live"}},
		}},
		{"retitled", strings.Replace(lessonOne, "%s", "Lesson Uno", 1), []check{
			{"/lessons/one", 200, []string{"<h1>Lesson Uno</h1>"}},
			{"/lessons/two", 200, []string{"Lesson Uno"}}, // the link to the previous lesson
			{"/", 200, []string{"Lesson Uno"}},
		}},
		{"broken", brokenOne, []check{
			{"/lessons/one", 500, []string{"01-one.md:9", "warp", "racelab-live"}},
			{"/lessons/two", 500, []string{"01-one.md:9"}},
			{"/", 500, []string{"01-one.md:9"}},
			{"/healthz", 200, []string{"lessons 2"}},
			{"/nope", 404, nil},
		}},
		{"fixed", strings.Replace(lessonOne, "%s", "Lesson Fixed", 1), []check{
			{"/lessons/one", 200, []string{"<h1>Lesson Fixed</h1>"}},
			{"/", 200, []string{"Lesson Fixed"}},
		}},
	}
	for _, st := range steps {
		if st.edit != "" {
			ls.write(t, "01-one.md", st.edit)
			ls.reload()
		}
		for _, c := range st.checks {
			resp, body := get(t, ls.ts.URL+c.path)
			if resp.StatusCode != c.status {
				t.Errorf("%s: GET %s: status %d, want %d", st.name, c.path, resp.StatusCode, c.status)
			}
			for _, w := range c.want {
				if !strings.Contains(body, w) {
					t.Errorf("%s: GET %s: body lacks %q", st.name, c.path, w)
				}
			}
		}
	}
}

// Without Config.Live, pages carry no live marker and /api/reload is
// not there.
func TestReloadNotLive(t *testing.T) {
	ts := newTestServer(t, Config{}, newFake())
	if _, body := get(t, ts.URL+"/lessons/one"); strings.Contains(body, "racelab-live") {
		t.Errorf("GET /lessons/one has the live marker without Config.Live")
	}
	if resp, _ := get(t, ts.URL+"/api/reload"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /api/reload: status %d, want 404", resp.StatusCode)
	}
}

// sseStream is an open GET /api/reload.
type sseStream struct {
	resp   *http.Response
	lines  chan string
	cancel context.CancelFunc
}

func openSSE(t *testing.T, url, lastID string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/api/reload", nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q, want text/event-stream", ct)
	}
	st := &sseStream{resp: resp, lines: make(chan string), cancel: cancel}
	go func() {
		defer close(st.lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			st.lines <- sc.Text()
		}
	}()
	t.Cleanup(st.close)
	return st
}

func (st *sseStream) close() {
	st.cancel()
	st.resp.Body.Close()
	for range st.lines {
	}
}

// message returns the next message's lines, without the blank line that
// ends it, or fails after 5 s; closed reports the end of the stream.
func (st *sseStream) message(t *testing.T) (lines []string, closed bool) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case l, ok := <-st.lines:
			if !ok {
				return lines, true
			}
			if l == "" {
				return lines, false
			}
			lines = append(lines, l)
		case <-timeout:
			t.Fatalf("no message in 5 s; so far %q", lines)
		}
	}
}

func TestReloadSSE(t *testing.T) {
	ls := newLiveSite(t)
	st := openSSE(t, ls.ts.URL, "")
	first, _ := st.message(t)
	if len(first) == 0 || !strings.HasPrefix(first[0], ":") || !contains(first, "id: 1") {
		t.Errorf("first message %q, want a comment and id: 1", first)
	}
	ls.write(t, "01-one.md", brokenOne)
	ls.reload()
	if got, want := strings.Join(mustMessage(t, st), "|"), "event: reload|id: 2|data: 2"; got != want {
		t.Errorf("after a change: %q, want %q", got, want)
	}
	ls.reload()
	if got, want := strings.Join(mustMessage(t, st), "|"), "event: reload|id: 3|data: 3"; got != want {
		t.Errorf("after a second change: %q, want %q", got, want)
	}
	// A client that saw another version is told to reload at once.
	again := openSSE(t, ls.ts.URL, "2")
	if got, want := strings.Join(mustMessage(t, again), "|"), "event: reload|id: 3|data: 3"; got != want {
		t.Errorf("reconnected with Last-Event-ID 2: %q, want %q", got, want)
	}
	current := openSSE(t, ls.ts.URL, "3")
	if got, _ := current.message(t); contains(got, "event: reload") {
		t.Errorf("reconnected with the current Last-Event-ID: %q, want no reload", got)
	}
}

func mustMessage(t *testing.T, st *sseStream) []string {
	t.Helper()
	lines, closed := st.message(t)
	if closed {
		t.Fatalf("stream ended; got %q", lines)
	}
	return lines
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if l == s {
			return true
		}
	}
	return false
}

// Shutting the server down ends the event stream, and Serve returns long
// before the shutdown grace: the handler returned.
func TestReloadSSEShutdown(t *testing.T) {
	_, addr, stop, served := serveOn(t, Config{Live: true, ShutdownGrace: 30 * time.Second})
	st := openSSE(t, "http://"+addr, "")
	st.message(t)
	stop()
	for {
		lines, closed := st.message(t)
		if closed {
			break
		}
		t.Logf("message before the end: %q", lines)
	}
	select {
	case err := <-served:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
}
