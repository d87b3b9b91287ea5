package tracing

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/internal/gotool"
)

// program is a learner's program built as a traced run builds it.
type program struct {
	dir string
}

// build builds src with racelab's wrapper for tr, as a traced run's
// build does.
func build(t *testing.T, src string, tr gotool.Tracing) program {
	t.Helper()
	dir := t.TempDir()
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	files := gotool.Source(map[string]string{"main.go": src}, sandbox.ModeRun, tr, strings.TrimSpace(string(goroot)))
	if _, ok := files[gotool.TraceWrapFile]; !ok {
		t.Fatal("the program was not wrapped for tracing")
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	argv := gotool.PlanFor(sandbox.ModeRun, "prog").Build
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return program{dir: dir}
}

// run runs the program and returns its trace. A program that runs on
// after its tracer stopped (one that never returns from main) is killed
// once its trace file is closed, which the tracer's goroutine does after
// the tracer's stop; so it ends when its trace is complete, however slow
// the machine, or after runFor at the latest.
func (p program) run(t *testing.T, env ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runFor)
	defer cancel()
	cmd := exec.CommandContext(ctx, "./prog")
	cmd.WaitDelay = time.Second
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("run: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	opened := false
	var err error
wait:
	for {
		select {
		case err = <-done:
			break wait
		case <-tick.C:
			open := holds(cmd.Process.Pid, filepath.Join(p.dir, gotool.TraceFile))
			if opened && !open {
				cmd.Process.Kill()
			}
			opened = opened || open
		}
	}
	if err != nil && !opened {
		t.Logf("run: %v\n%s", err, out.String())
	}
	data, cut, err := gotool.ReadTrace(filepath.Join(p.dir, gotool.TraceFile), sandbox.DefaultTraceBytes)
	if err != nil || cut {
		t.Fatalf("ReadTrace: cut %v, %v", cut, err)
	}
	return data
}

// holds reports whether process pid has the file at path open.
func holds(pid int, path string) bool {
	fds := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(fds)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(fds, e.Name())); err == nil && l == path {
			return true
		}
	}
	return false
}

// timeline runs the program and parses its trace with the default limits.
func (p program) timeline(t *testing.T, env ...string) *sandbox.Timeline {
	t.Helper()
	tl, err := Parse(bytes.NewReader(p.run(t, env...)), p.opts())
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

func (p program) opts() Options {
	return Options{Dir: p.dir, Files: []string{"main.go"}, MaxEvents: sandbox.DefaultTraceEvents, MaxSpans: sandbox.DefaultTraceSpans}
}

// runFor is how long a test's program may run at most: run ends it
// sooner, once its tracer has stopped.
const runFor = 30 * time.Second

var lessonTracing = gotool.Tracing{Bytes: sandbox.DefaultTraceBytes, Time: sandbox.DefaultTraceTime}

// edgeString writes an edge as lessons declare it: "send@12->receive@8".
func edgeString(e sandbox.TraceEdge) string {
	line := func(p *sandbox.TracePos) string {
		if p == nil {
			return "?"
		}
		return fmt.Sprint(p.Line)
	}
	return e.FromOp + "@" + line(e.FromAt) + "->" + e.ToOp + "@" + line(e.ToAt)
}

func edgeStrings(tl *sandbox.Timeline) string {
	var s []string
	for _, e := range tl.Edges {
		s = append(s, edgeString(e))
	}
	return strings.Join(s, " ")
}
