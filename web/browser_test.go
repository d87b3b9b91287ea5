package web_test

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/racelab/racelab/lessons"
	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/runc"
	"github.com/racelab/racelab/sandbox/tracing"
	"github.com/racelab/racelab/server"
)

// The browser tests drive Debian's Chromium through chromedp against the
// racelab server, by default on the real runc sandbox with the built-in
// lessons: what a learner sees of web/src, from the key press to the
// container and back. Each test file is named for what it tests
// (browser_race_test.go, browser_asm_test.go, …); this one holds their one
// setup, newBrowserTest, and the files browser_chromium_test.go and
// browser_page_test.go what it uses.

// The limits of the browser tests. Every wait is bounded by one of them.
const (
	browserWait = 30 * time.Second       // a page to load, a run to finish, a tab to open
	pollEvery   = 20 * time.Millisecond  // how often a wait looks at the page
	stopWithin  = 2 * time.Second        // Stop ends the run, and then the container goes
	streamGap   = 700 * time.Millisecond // the first line comes at least this long before the end
)

// The lesson and cells the tests use (lessons/builtin/00-first-race.md).
const (
	lessonSlug = "first-race"
	cellHello  = "first-race-1" // the tests replace its program through localStorage
	cellStream = "first-race-2" // prints, sleeps a second, prints
	cellRacy   = "first-race-3" // a racy counter, in race mode
)

// browserTest is a browser context of the shared Chromium and one server,
// shared by the subtests of a browser test. The subtests run in order and
// each opens its own tab; the tabs share the browser context, and so its
// localStorage.
type browserTest struct {
	ctx    context.Context // the test's browser context's first tab; tabs are opened under it
	url    string
	runner *runc.Runner // the real sandbox the site runs on; nil on a fake
	lib    *lessons.Library
}

// site is what a browser test serves. The zero site is what racelab serve
// serves: the built-in lessons on the real runc sandbox.
type site struct {
	lessons fs.FS            // the lessons; nil for the built-in ones
	config  server.Config    // the server's configuration
	runner  sandbox.Runner   // the sandbox; nil for the real runc sandbox
	ws      http.HandlerFunc // if set, answers /api/ws in place of the server
}

// newBrowserTest is the setup of every browser test: it serves s through
// httptest and opens a browser context of its own (a fresh profile's
// storage) in the shared Chromium, and ends both, with every tab, when t
// ends (TestMain ends Chromium and checks that none of its processes and
// goroutines outlive it). Outside CI it
// skips t when Chromium, or the runc sandbox s needs, is missing; with
// CI=true it fails t. The tabs opened with open check their console.
func newBrowserTest(t *testing.T, s site) *browserTest {
	t.Helper()
	path := chromiumPath(t)
	bt := serveSite(t, s)
	bt.ctx = startChromium(t, path)
	return bt
}

// serve serves another site to the same browser, for a subtest that needs
// a server of its own (other lessons, another configuration).
func (bt *browserTest) serve(t *testing.T, s site) *browserTest {
	t.Helper()
	other := serveSite(t, s)
	other.ctx = bt.ctx
	return other
}

func serveSite(t *testing.T, s site) *browserTest {
	t.Helper()
	lib, err := builtinLessons()
	if s.lessons != nil {
		lib, err = lessons.Load(s.lessons)
	}
	if err != nil {
		t.Fatal(err)
	}
	bt := &browserTest{lib: lib}
	r := s.runner
	if r == nil {
		bt.runner = realSandbox(t)
		r = bt.runner
	}
	srv, err := server.New(s.config, lib, r)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = srv
	if s.ws != nil {
		mux := http.NewServeMux()
		mux.Handle("/", srv)
		mux.HandleFunc("/api/ws", s.ws)
		h = mux
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	bt.url = ts.URL
	return bt
}

// builtinLessons is the built-in lessons, loaded once for all the tests
// that serve them: a Library is read-only once loaded, and loading it
// takes 2.5 s under -race (some 25 sites are served).
var builtinLessons = sync.OnceValues(func() (*lessons.Library, error) {
	return lessons.Load(lessons.Builtin())
})

// The browser tests share one runc sandbox, in a state directory of their
// own under RACELAB_TEST_STATE_DIR (default /var/lib/racelab-test), so
// that they can run beside the other packages' tests. Outside CI they skip
// when runc or root is missing; with CI=true they fail.
var (
	realOnce   sync.Once
	realRunner *runc.Runner
	realErr    error
)

func realSandbox(t testing.TB) *runc.Runner {
	t.Helper()
	realOnce.Do(func() {
		if os.Geteuid() != 0 {
			realErr = fmt.Errorf("not root")
			return
		}
		if _, err := exec.LookPath("runc"); err != nil {
			realErr = fmt.Errorf("runc is not installed (apt-get install runc)")
			return
		}
		base := os.Getenv("RACELAB_TEST_STATE_DIR")
		if base == "" {
			base = "/var/lib/racelab-test"
		}
		lim := sandbox.DefaultLimits()
		lim.RunTimeout = 5 * time.Second
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		realRunner, realErr = runc.New(ctx, runc.Config{
			StateDir: filepath.Join(base, "web"), CacheDir: filepath.Join(base, "cache"),
			Limits: lim, Seccomp: true,
			Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		})
	})
	if realErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("runc sandbox unavailable in CI: %v", realErr)
		}
		t.Skipf("runc sandbox unavailable: %v", realErr)
	}
	return realRunner
}

func TestMain(m *testing.M) {
	// The real sandbox parses a traced run's trace in a child process of
	// the executable that runs it (see tracing.Run): this test binary.
	tracing.RunIfChild()
	code := m.Run()
	if left := shared.close(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: the browser tests left behind:\n%s\n", strings.Join(left, "\n"))
		code = 1
	}
	if realRunner != nil {
		if left := realRunner.Leftovers(); len(left) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: the browser tests left behind: %s\n", strings.Join(left, ", "))
			code = 1
		}
		realRunner.Close()
	}
	os.Exit(code)
}

// waitNoLeftovers waits up to limit for the sandbox to hold nothing, and
// returns what it still holds.
func waitNoLeftovers(r *runc.Runner, limit time.Duration) []string {
	deadline := time.Now().Add(limit)
	for {
		left := r.Leftovers()
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(pollEvery)
	}
}

// subtest is a step of a browser test. The subtests of a test run in
// order, in its one browser.
type subtest struct {
	name string
	run  func(*testing.T, *browserTest)
}
