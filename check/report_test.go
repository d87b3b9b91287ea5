package check

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/racelab/racelab/lessons"
	"github.com/racelab/racelab/sandbox"
)

// TestAllCount checks --count's rule with a runner whose third run of
// every request prints the wrong thing: a job passes only when all its
// runs pass, and its line gives each run's time.
func TestAllCount(t *testing.T) {
	cell := &lessons.Cell{ID: "x-1", Mode: "run", Expect: []lessons.Expect{{Kind: "output", Value: "ok"}},
		Files: []lessons.File{{Name: "main.go", Body: "package main\n"}}}
	for _, tt := range []struct {
		count      int
		verdict    string
		times      string
		passed     int
		wantCalls  int64
		wantReturn int
	}{
		{1, "PASS", "(0.00s)", 1, 1, 0},
		{2, "PASS", "(2/2 passed: 0.00s 0.00s)", 1, 2, 0},
		{5, "FAIL", "(4/5 passed: ", 0, 5, 1},
	} {
		var calls atomic.Int64
		r := sandbox.RunnerFunc(func(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
			out := "ok"
			if calls.Add(1) == 3 {
				out = "flaky"
			}
			emit(sandbox.Event{Kind: sandbox.KindStdout, Data: out})
			emit(sandbox.Event{Kind: sandbox.KindExit, Reason: sandbox.ReasonExited})
			return nil
		})
		var w bytes.Buffer
		failed := All(context.Background(), r, []Job{{Cell: cell, Variant: Plain}}, Options{Parallel: 2, Count: tt.count}, &w)
		out := w.String()
		if failed != tt.wantReturn || calls.Load() != tt.wantCalls {
			t.Errorf("count %d: All = %d after %d runs, want %d after %d; report:\n%s", tt.count, failed, calls.Load(), tt.wantReturn, tt.wantCalls, out)
		}
		if !strings.HasPrefix(out, tt.verdict+"  x-1") || !strings.Contains(out, tt.times) {
			t.Errorf("count %d: report\n%s\nwant a %s line ending %q", tt.count, out, tt.verdict, tt.times)
		}
		if tt.verdict == "FAIL" && (!strings.Contains(out, `got exited 0, stdout "flaky"`) || !strings.Contains(out, "✗0.00s")) {
			t.Errorf("count %d: report\n%s\nwant the failing run shown and marked", tt.count, out)
		}
	}
}

// TestWrongJobs checks that a known-wrong solution passes only when the
// check rejects it, and that the report names the mistake when it does not
// or when the build rejects it instead.
func TestWrongJobs(t *testing.T) {
	lib, err := lessons.Load(lessonFS("```go {exercise=e mode=run expect=output=ok}\npackage main\n```\n\n" +
		"```go {solution=e}\npackage main // right\n```\n\n" +
		"```go {wrong=e why=\"prints the wrong word\"}\npackage main // wrong\n```\n\n" +
		"```go {wrong=e why=\"looks wrong, is right\"}\npackage main // right too\n```\n\n" +
		"```go {wrong=e why=\"does not build\"}\npackage main // broken\n```\n"))
	if err != nil {
		t.Fatal(err)
	}
	jobs := Jobs(lib)
	if len(jobs) != 5 || jobs[2].Variant != Wrong || jobs[4].Wrong != 2 {
		t.Fatalf("Jobs = %+v, want start, solution and three wrong solutions", jobs)
	}
	r := sandbox.RunnerFunc(func(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
		src := req.Files["main.go"]
		switch {
		case strings.Contains(src, "broken"):
			emit(sandbox.Event{Kind: sandbox.KindExit, Reason: sandbox.ReasonBuildFailed, Code: 1})
			return nil
		case strings.Contains(src, "right"):
			emit(sandbox.Event{Kind: sandbox.KindStdout, Data: "ok"})
		}
		emit(sandbox.Event{Kind: sandbox.KindExit, Reason: sandbox.ReasonExited})
		return nil
	})
	var w bytes.Buffer
	failed := All(context.Background(), r, jobs, Options{Parallel: 1, Count: 1}, &w)
	lines := strings.Split(w.String(), "\n")
	want := []string{"PASS  x-1", "PASS  x-1", "PASS  x-1                          wrong-1", "FAIL  x-1                          wrong-2",
		"      the check accepts a known-wrong solution (01-x.md:18): looks wrong, is right",
		"FAIL  x-1                          wrong-3", "3 passed, 2 failed"}
	if failed != 2 || len(lines) < len(want) {
		t.Fatalf("All = %d, report:\n%s", failed, w.String())
	}
	for i, p := range want {
		if !strings.HasPrefix(lines[i], p) {
			t.Errorf("line %d = %q, want prefix %q", i+1, lines[i], p)
		}
	}
	if !strings.Contains(lines[5], "a wrong solution must build") {
		t.Errorf("line 6 = %q, want the build failure named", lines[5])
	}
}

func lessonFS(body string) fstest.MapFS {
	return fstest.MapFS{"01-x.md": {Data: []byte("---\ntitle: X\nsummary: x\norder: 1\n---\n" + body)}}
}
