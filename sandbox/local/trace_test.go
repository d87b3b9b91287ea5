package local

import (
	"os"
	"testing"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/tracing"
)

func TestMain(m *testing.M) {
	tracing.RunIfChild() // this binary parses the traced runs' traces
	os.Exit(m.Run())
}

// TestTrace: the local backend traces through the same driver: the
// timeline comes just before the exit, with the Unlock→Lock edge.
func TestTrace(t *testing.T) {
	src := map[string]string{"main.go": `package main

import (
	"sync"
	"time"
)

func main() {
	var mu sync.Mutex
	mu.Lock()
	done := make(chan bool)
	go func() {
		mu.Lock()
		done <- true
	}()
	time.Sleep(20 * time.Millisecond)
	mu.Unlock()
	<-done
}
`}
	evs := record(t, t.Context(), newRunner(t, testLimits()), &sandbox.Request{Files: src, Trace: true})
	i := evs.index(sandbox.KindTimeline)
	if i < 0 || i != len(evs)-2 {
		t.Fatalf("the timeline is event %d of %d, want the one before the exit:\n%s", i, len(evs), evs)
	}
	tl := evs[i].Timeline
	for _, e := range tl.Edges {
		if e.FromOp == "Unlock" && e.FromAt != nil && e.FromAt.Line == 17 && e.ToOp == "Lock" && e.ToAt != nil && e.ToAt.Line == 13 {
			return
		}
	}
	t.Errorf("edges %+v (cut %q), want Unlock at 17 to Lock at 13", tl.Edges, tl.Cut)
}
