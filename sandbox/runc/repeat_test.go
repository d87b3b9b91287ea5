// Tests of repeated runs: each execution in a fresh container, a bounded
// summary, and stops between executions.

package runc

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/racelab/racelab/sandbox"
)

// Canceling a repeated request while one of its later containers is being
// created makes Run fail with a runtime error (and forwards runc's own
// error line to the learner as stderr) instead of ending with an exit
// event of reason canceled.
func TestCancelDuringRepeatsIsNotABackendError(t *testing.T) {
	t.Parallel() // checks only its own runs (see TestMain)
	r := runner(t)
	for i := 0; i < 60; i++ {
		delay := time.Duration(i) * 600 * time.Microsecond
		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		var evs []sandbox.Event
		exits := 0
		req := &sandbox.Request{Repeat: 20, Files: main(`println("x")`)}
		err := r.Run(ctx, req, func(e sandbox.Event) {
			mu.Lock()
			defer mu.Unlock()
			evs = append(evs, e)
			if e.Kind == sandbox.KindExit {
				if exits++; exits == 2 {
					time.AfterFunc(delay, cancel)
				}
			}
		})
		cancel()
		if err != nil {
			t.Fatalf("cancel %v after the second exit: Run = %v, want nil and an exit event with reason canceled%s",
				delay, err, (&result{events: evs}).dump())
		}
	}
}

// The summary keeps every distinct output in full: 100 repeats that each
// print 1 MiB of distinct text make a single ~100 MiB event (~600 MiB of
// JSON when the bytes need escaping), held in memory until the end.
func TestSummaryIsBounded(t *testing.T) {
	l := runner(t).cfg.Limits
	res := runReq(t, context.Background(), &sandbox.Request{Repeat: 5, Files: main(`b := make([]byte, 70<<10)
	for i := range b {
		b[i] = 1
	}
	b[0] = byte('a' + time.Now().UnixNano()%26)
	os.Stdout.Write(b)`, "os", "time")})
	if res.err != nil {
		t.Fatal(res.err)
	}
	last := res.events[len(res.events)-1]
	if last.Kind != sandbox.KindSummary {
		t.Fatalf("last event is %s, want summary", last.Kind)
	}
	b, _ := json.Marshal(last)
	if int64(len(b)) > l.OutputBytes {
		t.Errorf("summary event is %d bytes of JSON for 5 runs, over one run's output limit (%d)", len(b), l.OutputBytes)
	}
}

// Every repeat gets /work on the run's one shared tmpfs, and what an
// earlier repeat wrote there is never removed: a repeat can find the
// space taken (ENOSPC), and those pages stay on the host, charged to a
// container cgroup that no longer exists.
func TestRepeatStartsWithFreshTmpfs(t *testing.T) {
	l := runner(t).cfg.Limits
	n := l.TmpBytes * 6 / 10
	res := runReq(t, context.Background(), &sandbox.Request{Repeat: 2, Files: main(fmt.Sprintf(`f, err := os.Create("/work/fill")
	if err != nil {
		fmt.Println("create:", err)
		return
	}
	buf := make([]byte, 1<<20)
	for left := %d; left > 0; left -= len(buf) {
		if _, err := f.Write(buf); err != nil {
			fmt.Println("write:", err)
			return
		}
	}
	fmt.Println("wrote all")`, n), "fmt", "os")})
	if res.err != nil {
		t.Fatal(res.err)
	}
	for _, e := range res.events {
		if e.Kind == sandbox.KindStdout && !strings.Contains(e.Data, "wrote all") {
			t.Errorf("run %d: %q, want %q: an earlier repeat's files still fill the tmpfs", e.Run, e.Data, "wrote all")
		}
	}
}

// The run's tmpfs holds both what the program writes to /work and the
// host's own files (the next container's bundle, runc's log). A program
// that fills /work makes the next repeat fail as a backend error.
func TestFullTmpfsIsNotABackendError(t *testing.T) {
	// Race mode: its memory limit is above the tmpfs size, as with the
	// default limits in every mode.
	res := runReq(t, context.Background(), &sandbox.Request{Mode: sandbox.ModeRace, Repeat: 2, Files: main(`f, err := os.Create("/work/fill")
	if err != nil {
		fmt.Println("create:", err)
		return
	}
	buf := make([]byte, 1<<20)
	for {
		if _, err := f.Write(buf); err != nil {
			fmt.Println("filled:", err)
			return
		}
	}`, "fmt", "os")})
	if res.err != nil {
		t.Fatalf("Run = %v, want nil: a program filling its own /work must not break the runner%s", res.err, res.dump())
	}
	if n := len(res.exits()); n != 2 {
		t.Errorf("%d exit events, want 2%s", n, res.dump())
	}
}
