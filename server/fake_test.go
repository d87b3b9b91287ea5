package server

import (
	"context"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/racelab/racelab/lessons"
	"github.com/racelab/racelab/sandbox"
)

// fakeRunner stands in for the sandbox in the protocol tests. The text of
// main.go says what the "program" does:
//
//	SLEEP   prints "first", waits 300 ms, prints "second"
//	BLOCK   prints "started", then waits until it is cancelled
//	SCRIPT  prints "<script>alert(1)</script>"
//	FLOOD   prints 16 KiB lines as fast as it can until it is cancelled
//
// Anything else prints "hello". It records when each run's context ended.
type fakeRunner struct {
	mu       sync.Mutex
	runs     int
	canceled chan time.Time // a value per run that saw its context end, the first 100
}

func newFake() *fakeRunner {
	return &fakeRunner{canceled: make(chan time.Time, 100)}
}

var _ sandbox.Runner = (*fakeRunner)(nil)

func (f *fakeRunner) Run(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
	req.Normalize() // as every backend does first
	if err := req.Validate(sandbox.DefaultLimits()); err != nil {
		return err
	}
	f.mu.Lock()
	f.runs++
	f.mu.Unlock()
	src := req.Files["main.go"]
	out := func(s string) { emit(sandbox.Event{Kind: sandbox.KindStdout, Data: s}) }
	exit := sandbox.Event{Kind: sandbox.KindExit, Reason: sandbox.ReasonExited, Msg: "The program exited with status 0."}
	emit(sandbox.Event{Kind: sandbox.KindBuild, Ms: 3, StartMs: 1})
	switch {
	case strings.Contains(src, "SLEEP"):
		out("first\n")
		select {
		case <-time.After(300 * time.Millisecond):
		case <-ctx.Done():
		}
		out("second\n")
	case strings.Contains(src, "BLOCK"):
		out("started\n")
		<-ctx.Done()
	case strings.Contains(src, "SCRIPT"):
		out("<script>alert(1)</script>\n")
	case strings.Contains(src, "FLOOD"):
		// Chunks of 16 KiB, as a real program's output is read: they fill
		// a client's socket buffers (megabytes on loopback) in a few
		// hundred events, whatever the machine's load.
		line := strings.Repeat("x", 16<<10-1) + "\n"
		for ctx.Err() == nil {
			out(line)
		}
	default:
		out("hello\n")
	}
	if ctx.Err() != nil {
		select { // never blocks a run: a test reads the first few at most
		case f.canceled <- time.Now():
		default:
		}
		exit.Reason, exit.Code, exit.Msg = sandbox.ReasonCanceled, -1, "The run was stopped before it finished."
	}
	emit(exit)
	return nil
}

func (f *fakeRunner) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.runs
}

// testLessons is a small library: two lessons, one with a runnable cell.
func testLessons(t testing.TB) *lessons.Library {
	t.Helper()
	fsys := fstest.MapFS{
		"01-one.md": {Data: []byte("---\ntitle: Lesson One\nsummary: The first lesson.\norder: 1\n---\n\n## Start\n\nText.\n\n```go {expect=\"output=hello\\n\"}\npackage main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n```\n")},
		"02-two.md": {Data: []byte("---\ntitle: Lesson Two\nsummary: The second lesson.\norder: 2\n---\n\nMore text.\n")},
	}
	lib, err := lessons.Load(fs.FS(fsys))
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

func src(marker string) map[string]string {
	return map[string]string{"main.go": "package main\n\n// " + marker + "\nfunc main() {}\n"}
}
