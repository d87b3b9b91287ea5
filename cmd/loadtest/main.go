// Command loadtest plays a classroom against a running racelab: N learners
// open a websocket at once and each runs a race-mode cell and a repeat=10
// cell, as a class does when the instructor says "press Run". It reports
// successes, the queue positions seen, percentiles of the time to the
// first output and to the exit, and the server's memory.
//
//	racelab serve --trust-proxy --rate 1000 --burst 100 &
//	go run ./cmd/loadtest -url http://127.0.0.1:8080 -clients 60 -pid $!
//
// Each learner sends its own X-Forwarded-For, so that the per-client rate
// limit sees N learners, as it does behind a reverse proxy.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/racelab/racelab/sandbox"
)

const racy = "package main\n\nimport (\n\t\"fmt\"\n\t\"sync\"\n)\n\nfunc main() {\n\tvar wg sync.WaitGroup\n\tn := 0\n\tfor i := 0; i < 2; i++ {\n\t\twg.Add(1)\n\t\tgo func() {\n\t\t\tdefer wg.Done()\n\t\t\tfor j := 0; j < 1000; j++ {\n\t\t\t\tn++\n\t\t\t}\n\t\t}()\n\t}\n\twg.Wait()\n\tfmt.Println(n)\n}\n"

// result is one run as a learner saw it.
type result struct {
	ok         bool
	err        string
	firstOut   time.Duration
	exit       time.Duration
	maxQueued  int
	wasQueued  bool
	lastReason sandbox.Reason
}

func main() {
	url := flag.String("url", "http://127.0.0.1:8080", "racelab's `address`")
	clients := flag.Int("clients", 60, "learners at once")
	pid := flag.Int("pid", 0, "the server's `pid`, to report its memory")
	flag.Parse()
	ws := "ws" + strings.TrimPrefix(*url, "http") + "/api/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rssBefore := rss(*pid)
	results := make([][]result, *clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range *clients {
		wg.Go(func() { results[i] = learner(ctx, ws, i) })
	}
	wg.Wait()
	report(results, time.Since(start), rssBefore, rss(*pid))
}

// learner runs the two cells one after the other on one socket.
func learner(ctx context.Context, url string, i int) []result {
	h := http.Header{}
	h.Set("X-Forwarded-For", fmt.Sprintf("10.0.%d.%d", i/250, i%250+1))
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return []result{{err: err.Error()}, {err: err.Error()}}
	}
	defer c.CloseNow()
	files := map[string]string{"main.go": racy}
	return []result{
		runOne(ctx, c, sandbox.Request{Mode: sandbox.ModeRace, Files: files}),
		runOne(ctx, c, sandbox.Request{Mode: sandbox.ModeRun, Repeat: 10, Files: files}),
	}
}

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

func report(results [][]result, took time.Duration, rssBefore, rssAfter int64) {
	for k, name := range []string{"race-mode cell", "repeat=10 cell"} {
		var ok, queued, maxPos int
		var first, exit []time.Duration
		errs := map[string]int{}
		for _, rs := range results {
			r := rs[k]
			if r.ok {
				ok++
				first = append(first, r.firstOut)
				exit = append(exit, r.exit)
			} else {
				errs[r.err+string(r.lastReason)]++
			}
			if r.wasQueued {
				queued++
			}
			maxPos = max(maxPos, r.maxQueued)
		}
		fmt.Printf("%s: %d/%d succeeded; %d waited in line (deepest place %d)\n", name, ok, len(results), queued, maxPos)
		fmt.Printf("  time to first output  p50 %v  p95 %v  p99 %v\n", pct(first, 50), pct(first, 95), pct(first, 99))
		fmt.Printf("  time to exit          p50 %v  p95 %v  p99 %v\n", pct(exit, 50), pct(exit, 95), pct(exit, 99))
		for e, n := range errs {
			fmt.Printf("  failed ×%d: %s\n", n, e)
		}
	}
	fmt.Printf("all done in %v; server RSS %d MiB before, %d MiB after\n", took.Round(time.Millisecond), rssBefore>>20, rssAfter>>20)
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)].Round(time.Millisecond)
}

// rss returns the resident memory of process pid in bytes (0 if unknown).
func rss(pid int) int64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kb)
			return kb << 10
		}
	}
	return 0
}
