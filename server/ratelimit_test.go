package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/racelab/racelab/lessons"
	"github.com/racelab/racelab/sandbox"
)

// repeater stands in for the sandbox in the rate tests: it runs a request
// repeat times as a backend does (an exit per execution, numbered when it
// repeats, then a summary). A main.go saying BLOCK waits after its second
// execution until it is cancelled.
var repeater = sandbox.RunnerFunc(func(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
	req.Normalize()
	emit(sandbox.Event{Kind: sandbox.KindBuild, Ms: 3})
	n := 0
	for n < req.Repeat {
		n++
		if n == 3 && strings.Contains(req.Files["main.go"], "BLOCK") {
			<-ctx.Done()
		}
		exit := sandbox.Event{Kind: sandbox.KindExit, Reason: sandbox.ReasonExited}
		if ctx.Err() != nil {
			exit.Reason = sandbox.ReasonCanceled
		}
		if req.Repeat > 1 {
			exit.Run = n
		}
		emit(exit)
		if exit.Reason == sandbox.ReasonCanceled {
			break
		}
	}
	if req.Repeat > 1 {
		emit(sandbox.Event{Kind: sandbox.KindSummary, Summary: &sandbox.Summary{Runs: n}})
	}
	return nil
})

// The rate counts executions, not requests: a request repeated N times
// costs N, charged as its executions happen. A repeat larger than the
// burst still runs (once), and its client then waits until it is paid
// for; a repeat stopped early costs what ran.
func TestRateChargesRepeats(t *testing.T) {
	ts := newTestServer(t, Config{RunsPerMinute: 1, Burst: 5, TrustProxy: true}, repeater)
	run := func(from string, repeat int) (*http.Response, []sandbox.Event) {
		t.Helper()
		return postRunWith(t, ts.URL, reqJSON(t, sandbox.Request{Files: src("x"), Repeat: repeat}), http.Header{"X-Forwarded-For": {from}})
	}
	retryIn := regexp.MustCompile(`try again in (\d+) s`)
	wait := func(evs []sandbox.Event) int {
		if len(evs) != 1 || evs[0].Reason != sandbox.ReasonRateLimited {
			return -1
		}
		m := retryIn.FindStringSubmatch(evs[0].Msg)
		if m == nil {
			return -1
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}

	// a spends its whole burst on one repeat=5: the next request waits
	// for a token (60 s at 1 a minute).
	if resp, evs := run("192.0.2.1", 5); resp.StatusCode != 200 || len(evs) != 7 {
		t.Fatalf("a's repeat=5: %d %q, want 200 with 5 exits", resp.StatusCode, kinds(evs))
	}
	resp, evs := run("192.0.2.1", 1)
	if w := wait(evs); resp.StatusCode != http.StatusTooManyRequests || w < 55 || w > 61 {
		t.Errorf("a's next run: %d %+v, want 429 saying to try again in about 60 s", resp.StatusCode, evs)
	}

	// b's repeat=20 is four times the burst: it runs, all of it, and b
	// then waits for 16 tokens (20 - 5 + 1).
	if resp, evs := run("192.0.2.2", 20); resp.StatusCode != 200 || len(evs) != 22 {
		t.Fatalf("b's repeat=20 over a burst of 5: %d %q, want 200 with 20 exits", resp.StatusCode, kinds(evs))
	}
	resp, evs = run("192.0.2.2", 1)
	if w := wait(evs); resp.StatusCode != http.StatusTooManyRequests || w < 15*60 || w > 16*60+1 {
		t.Errorf("b's next run: %d %+v, want 429 saying to try again in about 960 s", resp.StatusCode, evs)
	}

	// c stops a repeat=20 in its third execution: 3 charged, 2 left.
	c := dialAs(t, ts, "192.0.2.3")
	send(t, c, sandbox.Request{Files: src("BLOCK"), Repeat: 20})
	recvUntil(t, c, sandbox.KindExit)
	recvUntil(t, c, sandbox.KindExit)
	send(t, c, map[string]bool{"stop": true})
	recvUntil(t, c, sandbox.KindSummary)
	for i := range 2 {
		if resp, evs := run("192.0.2.3", 1); resp.StatusCode != 200 {
			t.Errorf("c's run %d after a stopped repeat: %d %+v, want 200", i+1, resp.StatusCode, evs)
		}
	}
	if resp, _ := run("192.0.2.3", 1); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("c's third run after a stopped repeat: %d, want 429", resp.StatusCode)
	}
}

// The default rate and burst let a learner work through the built-in
// lessons quickly, repeat cells and all, while a client that loops
// repeat=100 requests is held to a small share. Simulated on the
// limiter with a clock of its own: an execution takes 60 ms and a
// build 400 ms, as in the README's measurements.
func TestRateDefaults(t *testing.T) {
	const exec, build = 60 * time.Millisecond, 400 * time.Millisecond
	lib, err := lessons.Load(lessons.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	// run asks c for a request repeated n times at now and returns when
	// it ends, or the error that refused it.
	run := func(c *clients, who string, now time.Time, n int) (time.Time, error) {
		if err := c.allow(who, now); err != nil {
			return now, err
		}
		now = now.Add(build + exec)
		for range n - 1 {
			now = now.Add(exec)
			c.charge(who, now)
		}
		return now, nil
	}
	// Eager learners: cells one 5 s after the other ends.
	var heavy []*lessons.Cell // the lessons with the most repeat cells, twice
	for range 2 {
		for _, slug := range []string{"memory-model", "data-races", "unbuffered-channels", "atomics"} {
			l, _ := lib.Lesson(slug)
			heavy = append(heavy, l.Cells...)
		}
	}
	for _, tc := range []struct {
		name  string
		cells []*lessons.Cell
	}{
		{"every lesson", lib.AllCells()},
		{"the repeat lessons twice", heavy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClients(DefaultRunsPerMinute, DefaultBurst)
			start := time.Unix(0, 0)
			now := start
			// First a repeat=20 cell three times in a row.
			for range 3 {
				if now, err = run(c, "learner", now, 20); err != nil {
					t.Fatalf("a repeat=20 cell three times: %v", err)
				}
			}
			for _, cell := range tc.cells {
				if now, err = run(c, "learner", now.Add(5*time.Second), max(cell.Repeat, 1)); err != nil {
					t.Fatalf("cell %s (repeat %d) after %v: %v", cell.ID, cell.Repeat, now.Sub(start), err)
				}
			}
		})
	}
	t.Run("looper", func(t *testing.T) {
		c := newClients(DefaultRunsPerMinute, DefaultBurst)
		start := time.Unix(0, 0)
		now, execs := start, 0
		for now.Sub(start) < 10*time.Minute {
			end, err := run(c, "looper", now, 100)
			if err != nil {
				now = now.Add(time.Second) // it retries every second
				continue
			}
			now, execs = end, execs+100
		}
		unlimited := int(10*time.Minute/(build+100*exec)) * 100
		allowed := DefaultRunsPerMinute*10 + DefaultBurst + 100
		t.Logf("repeat=100 in a loop for 10 minutes: %d executions (%d unlimited)", execs, unlimited)
		if execs > allowed {
			t.Errorf("the looper ran %d programs in 10 minutes, want at most %d (%d unlimited)", execs, allowed, unlimited)
		}
	})
}

// A client in debt is not forgotten with the idle clients, or its debt
// would be forgiven; one whose bucket has filled up again is.
func TestRateKeepsDebtors(t *testing.T) {
	c := newClients(1, 5)
	now := time.Unix(0, 0)
	c.allow("debtor", now)
	c.allow("idle", now)
	for range 19 {
		c.charge("debtor", now) // a repeat=20: 15 tokens in debt
	}
	later := now.Add(clientIdleTTL + time.Minute) // 11 tokens back: 4 in debt
	if err := c.allow("other", later); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.buckets["idle"]; ok {
		t.Errorf("an idle client with a full bucket is still kept after %v", clientIdleTTL)
	}
	if err := c.allow("debtor", later); err == nil {
		t.Errorf("a client 15 tokens in debt at 1 a minute may run again after %v idle", later.Sub(now))
	}
}

// clientKey takes the proxy's entry, the last of the last line, however
// the client's own lines come, and stands an IPv6 address for its /64.
func TestClientKey(t *testing.T) {
	for _, tt := range []struct {
		name   string
		remote string
		xff    []string
		trust  bool
		want   string
	}{
		{"direct", "192.0.2.1:5000", nil, false, "192.0.2.1"},
		{"forged header, no proxy trusted", "192.0.2.1:5000", []string{"10.0.0.1"}, false, "192.0.2.1"},
		{"proxy appended to the client's line", "10.9.9.9:80", []string{"10.0.0.1, 192.0.2.1"}, true, "192.0.2.1"},
		{"proxy added a line of its own", "10.9.9.9:80", []string{"10.0.0.1", "192.0.2.1"}, true, "192.0.2.1"},
		{"client sent two lines, proxy appended", "10.9.9.9:80", []string{"10.0.0.1", "10.0.0.2, 192.0.2.1"}, true, "192.0.2.1"},
		{"no header behind the proxy", "10.9.9.9:80", nil, true, "10.9.9.9"},
		{"IPv6 stands for its /64", "[2001:db8:1:2:aaaa::1]:5000", nil, false, "2001:db8:1:2::/64"},
		{"another address of the same /64", "[2001:db8:1:2:bbbb::7]:5000", nil, false, "2001:db8:1:2::/64"},
		{"IPv6 through the proxy", "10.9.9.9:80", []string{"2001:db8:5:6::9"}, true, "2001:db8:5:6::/64"},
		{"IPv4-mapped IPv6", "[::ffff:192.0.2.7]:5000", nil, false, "192.0.2.7"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			for _, l := range tt.xff {
				r.Header.Add("X-Forwarded-For", l)
			}
			if got := clientKey(r, tt.trust); got != tt.want {
				t.Errorf("clientKey = %q, want %q", got, tt.want)
			}
		})
	}
}
