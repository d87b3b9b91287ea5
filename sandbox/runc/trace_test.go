package runc

import (
	"context"
	"strings"
	"testing"

	"github.com/racelab/racelab/sandbox"
)

// handoff is lesson 03's unbuffered hand-off, in small: main's send
// meets the receive of the goroutine it started.
const handoff = `package main

import (
	"fmt"
	"time"
)

func main() {
	ch := make(chan string)
	go func() {
		msg := <-ch
		fmt.Println("got", msg)
	}()
	time.Sleep(20 * time.Millisecond)
	ch <- "hello"
	time.Sleep(10 * time.Millisecond)
}
`

// TestTrace: a traced run in a container sends its timeline before its
// exit: main and its goroutine as lanes, and the edge from main's send
// at line 15 to the receive at line 11. A cached binary is traced too.
func TestTrace(t *testing.T) {
	t.Parallel() // checks only its own runs (see TestMain)
	for i := range 3 {
		res := runReq(t, context.Background(), &sandbox.Request{Files: map[string]string{"main.go": handoff}, Trace: true})
		ex := res.exit(t)
		if ex.Reason != sandbox.ReasonExited || ex.Code != 0 {
			t.Fatalf("run %d: exit %s %d: %s", i, ex.Reason, ex.Code, res.dump())
		}
		var tl *sandbox.Timeline
		for j, e := range res.events {
			if e.Kind == sandbox.KindTimeline {
				tl = e.Timeline
				if res.events[j+1].Kind != sandbox.KindExit {
					t.Errorf("run %d: the timeline is followed by %s, want the exit", i, res.events[j+1].Kind)
				}
			}
		}
		if tl == nil {
			t.Fatalf("run %d: no timeline event: %s", i, res.dump())
		}
		if tl.Cut != "" || len(tl.Goroutines) != 2 {
			t.Fatalf("run %d: timeline with %d lanes, cut %q; want 2, none", i, len(tl.Goroutines), tl.Cut)
		}
		found := false
		for _, e := range tl.Edges {
			found = found || e.From == 1 && e.FromOp == "send" && e.FromAt != nil && e.FromAt.Line == 15 &&
				e.ToOp == "receive" && e.ToAt != nil && e.ToAt.Line == 11 && e.ToAt.File == "main.go"
		}
		if !found {
			t.Errorf("run %d: edges %+v, want main's send at 15 to the receive at 11", i, tl.Edges)
		}
		if !strings.Contains(res.text(sandbox.KindStdout), "got hello") {
			t.Errorf("run %d: stdout %q", i, res.text(sandbox.KindStdout))
		}
	}
}

// TestTraceRefused: a trace of a repeated run is a bad request.
func TestTraceRefused(t *testing.T) {
	res := runReq(t, context.Background(), &sandbox.Request{Files: map[string]string{"main.go": handoff}, Trace: true, Repeat: 2})
	if res.err == nil || !strings.Contains(res.err.Error(), "trace works with one run") {
		t.Errorf("Run(trace, repeat 2) = %v, want a bad request about trace", res.err)
	}
}
