package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/racelab/racelab/sandbox"
)

// racy is the project's racy counter (examples/racy.go), printing tag as
// well: a different tag is a different program, which no build cache
// holds yet.
func racy(tag string) string {
	return fmt.Sprintf(`package main

import (
	"fmt"
	"sync"
)

const tag = %q

func main() {
	var wg sync.WaitGroup
	n := 0
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				n++
			}
		}()
	}
	wg.Wait()
	fmt.Println("n =", n, tag)
}
`, tag)
}

// result is one run as a learner saw it.
type result struct {
	ok         bool
	err        string
	firstOut   time.Duration // from sending the request to the first stdout
	exit       time.Duration // to the exit event (the summary, for a repeat)
	buildMs    int64         // the build event's Ms: container start and build
	runMs      int64         // the (first) exit event's Ms: the program's run
	maxQueued  int
	wasQueued  bool
	lastReason sandbox.Reason
}

// The cells every learner runs, in order.
var cellNames = []string{"race-mode cell", "repeat=10 cell"}

// The shapes of a class.
const (
	// shapeSame: everyone runs the same cell, as a lesson's class does
	// when the instructor says "press Run" (new to the server: the first
	// press builds it).
	shapeSame = "same"
	// shapeFresh: everyone has edited the cell, so every program differs.
	shapeFresh = "fresh"
)

// class opens n websockets at once, each a learner running both cells one
// after the other, and waits for all of them. The programs are new to the
// server (tagged with id), the same for everyone or, fresh, each learner's
// own.
func class(ctx context.Context, ws string, n int, shape, id string) ([][]result, time.Duration) {
	results := make([][]result, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		tag := "class " + id
		if shape == shapeFresh {
			tag = fmt.Sprintf("learner %d of class %s", i, id)
		}
		wg.Go(func() { results[i] = learner(ctx, ws, i, tag) })
	}
	wg.Wait()
	return results, time.Since(start)
}

// learner runs the two cells one after the other on one socket.
func learner(ctx context.Context, url string, i int, tag string) []result {
	c, err := dial(ctx, url, fmt.Sprintf("10.0.%d.%d", i/250, i%250+1))
	if err != nil {
		return []result{{err: err.Error()}, {err: err.Error()}}
	}
	defer c.CloseNow()
	files := map[string]string{"main.go": racy(tag)}
	return []result{
		runOne(ctx, c, sandbox.Request{Mode: sandbox.ModeRace, Files: files}),
		runOne(ctx, c, sandbox.Request{Mode: sandbox.ModeRun, Repeat: 10, Files: files}),
	}
}

// dial opens a websocket as the client at address from (the server takes
// it from X-Forwarded-For when it trusts a proxy).
func dial(ctx context.Context, url, from string) (*websocket.Conn, error) {
	h := http.Header{}
	h.Set("X-Forwarded-For", from)
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
	return c, err
}

// runOne sends req and reads its events up to the exit (or, for a
// repeat, the summary).
func runOne(ctx context.Context, c *websocket.Conn, req sandbox.Request) result {
	var r result
	b, _ := json.Marshal(req)
	start := time.Now()
	if err := c.Write(ctx, websocket.MessageText, b); err != nil {
		r.err = err.Error()
		return r
	}
	exits := 0
	for {
		_, msg, err := c.Read(ctx)
		if err != nil {
			r.err = err.Error()
			return r
		}
		var e sandbox.Event
		if err := json.Unmarshal(msg, &e); err != nil {
			r.err = err.Error()
			return r
		}
		switch e.Kind {
		case sandbox.KindQueued:
			r.wasQueued = true
			r.maxQueued = max(r.maxQueued, e.Position)
		case sandbox.KindBuild:
			r.buildMs = e.Ms
		case sandbox.KindStdout:
			if r.firstOut == 0 {
				r.firstOut = time.Since(start)
			}
		case sandbox.KindError:
			r.err = string(e.Reason) + ": " + e.Msg
			return r
		case sandbox.KindExit:
			exits++
			r.lastReason = e.Reason
			if exits == 1 {
				r.runMs = e.Ms
			}
			if req.Repeat <= 1 {
				r.exit, r.ok = time.Since(start), e.Reason == sandbox.ReasonExited
				return r
			}
		case sandbox.KindSummary:
			r.exit = time.Since(start)
			r.ok = exits == req.Repeat && e.Summary != nil && e.Summary.Reasons[sandbox.ReasonExited] == req.Repeat
			return r
		}
	}
}

// cellStats is how one cell went for the whole class.
type cellStats struct {
	Name     string
	OK       int              // learners whose run succeeded
	Total    int              // learners
	Queued   int              // learners told a place in line
	Deepest  int              // the deepest place in line told
	First    [3]time.Duration // time to first output, p50 p95 p99 (of the successes)
	Exit     [3]time.Duration // time to exit, p50 p95 p99
	Failures map[string]int   // by error and last exit reason
}

var percentiles = [3]int{50, 95, 99}

func cells(results [][]result) []cellStats {
	var stats []cellStats
	for k, name := range cellNames {
		s := cellStats{Name: name, Total: len(results), Failures: map[string]int{}}
		var first, exit []time.Duration
		for _, rs := range results {
			r := rs[k]
			if r.ok {
				s.OK++
				first = append(first, r.firstOut)
				exit = append(exit, r.exit)
			} else {
				s.Failures[r.err+string(r.lastReason)]++
			}
			if r.wasQueued {
				s.Queued++
			}
			s.Deepest = max(s.Deepest, r.maxQueued)
		}
		for i, p := range percentiles {
			s.First[i], s.Exit[i] = pct(first, p), pct(exit, p)
		}
		stats = append(stats, s)
	}
	return stats
}

func (r *classReport) print(out io.Writer) {
	fmt.Fprintf(out, "a class of %d, %s cell:\n", r.Cells[0].Total, map[string]string{shapeSame: "everyone on the same", shapeFresh: "everyone on their own edited"}[r.Shape])
	for _, s := range r.Cells {
		fmt.Fprintf(out, "%s: %d/%d succeeded; %d waited in line (deepest place %d)\n", s.Name, s.OK, s.Total, s.Queued, s.Deepest)
		fmt.Fprintf(out, "  time to first output  p50 %v  p95 %v  p99 %v\n", s.First[0], s.First[1], s.First[2])
		fmt.Fprintf(out, "  time to exit          p50 %v  p95 %v  p99 %v\n", s.Exit[0], s.Exit[1], s.Exit[2])
		for e, n := range s.Failures {
			fmt.Fprintf(out, "  failed ×%d: %s\n", n, e)
		}
	}
	fmt.Fprintf(out, "all done in %v", r.Took.Round(time.Millisecond))
	if r.RSSBefore > 0 {
		fmt.Fprintf(out, "; server RSS %d MiB before, %d MiB after", r.RSSBefore>>20, r.RSSAfter>>20)
	}
	if r.CacheBytes > 0 {
		fmt.Fprintf(out, "; the cache of built programs holds %d MiB", r.CacheBytes>>20)
	}
	fmt.Fprintln(out)
}

// pct returns the p-th percentile of ds (nearest rank), rounded to the
// millisecond; 0 for none.
func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)].Round(time.Millisecond)
}
