package server

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/racelab/racelab/sandbox"
)

// recorder is the fake runner, noting the order in which runs start by
// the marker of their main.go (see src).
type recorder struct {
	*fakeRunner
	mu    sync.Mutex
	order []string
}

func (r *recorder) Run(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
	m := req.Files["main.go"]
	m = m[strings.Index(m, "// ")+3:]
	r.mu.Lock()
	r.order = append(r.order, m[:strings.Index(m, "\n")])
	r.mu.Unlock()
	return r.fakeRunner.Run(ctx, req, emit)
}

func (r *recorder) started() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.order)
}

// One client may have ClientRuns runs going and ClientQueue waiting; one
// more is refused at once, over either API, with words that say what to
// do, and other clients are not held up by it.
func TestClientLimits(t *testing.T) {
	ts := newTestServer(t, Config{MaxRuns: 4, TrustProxy: true}, newFake())
	const a, b = "192.0.2.1", "192.0.2.2"
	first := dialAs(t, ts, a)
	send(t, first, sandbox.Request{Files: src("BLOCK")})
	recvUntil(t, first, sandbox.KindStdout)

	// Slots are free, but a's one run is going: its second waits behind it,
	// told why rather than a place.
	second := dialAs(t, ts, a)
	send(t, second, sandbox.Request{Files: src("x")})
	if e := recv(t, second); e.Kind != sandbox.KindQueued || e.Position != 0 || !strings.Contains(e.Msg, "Waiting for your other run") {
		t.Fatalf("a's second run: %+v, want queued without a place, waiting for its other run", e)
	}

	// A third is refused at once, on a websocket and over HTTP.
	start := time.Now()
	third := dialAs(t, ts, a)
	send(t, third, sandbox.Request{Files: src("x")})
	const words = "You already have 2 runs going or waiting"
	if e := recv(t, third); e.Kind != sandbox.KindError || e.Reason != sandbox.ReasonRateLimited || !strings.Contains(e.Msg, words) {
		t.Errorf("a's third run over the websocket: %+v, want a rate-limited error saying %q", e, words)
	}
	resp, evs := postRunWith(t, ts.URL, reqJSON(t, sandbox.Request{Files: src("x")}), http.Header{"X-Forwarded-For": {a}})
	if resp.StatusCode != http.StatusTooManyRequests || len(evs) != 1 || !strings.Contains(evs[0].Msg, words) {
		t.Errorf("a's third run over HTTP: %d %+v, want 429 saying %q", resp.StatusCode, evs, words)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the refusals took %v, want them at once", d)
	}

	// Another client runs at once meanwhile.
	resp, evs = postRunWith(t, ts.URL, reqJSON(t, sandbox.Request{Files: src("x")}), http.Header{"X-Forwarded-For": {b}})
	if resp.StatusCode != 200 || kinds(evs) != "build stdout exit" {
		t.Errorf("b's run: %d %q, want it run at once", resp.StatusCode, kinds(evs))
	}

	// a's first ends: its second runs, and a may send another.
	send(t, first, map[string]bool{"stop": true})
	recvUntil(t, first, sandbox.KindExit)
	if got := kinds(recvUntil(t, second, sandbox.KindExit)); got != "build stdout exit" {
		t.Errorf("a's second run once its first ended: %q", got)
	}
	resp, _ = postRunWith(t, ts.URL, reqJSON(t, sandbox.Request{Files: src("x")}), http.Header{"X-Forwarded-For": {a}})
	if resp.StatusCode != 200 {
		t.Errorf("a's run after both ended: %d, want 200", resp.StatusCode)
	}
}

// Clients take turns in line: with three runs of client A in line before
// B's one, B's run is second, not fourth, and starts second; the places
// told are the order in which the runs start. Repeated, since the runs
// are served by goroutines of their own.
func TestFairQueue(t *testing.T) {
	for _, clientRuns := range []int{1, 2} {
		t.Run(fmt.Sprintf("client-runs=%d", clientRuns), func(t *testing.T) {
			for i := range 5 {
				if testFairQueue(t, clientRuns); t.Failed() {
					t.Fatalf("attempt %d of 5 failed", i+1)
				}
			}
		})
	}
}

func testFairQueue(t *testing.T, clientRuns int) {
	rec := &recorder{fakeRunner: newFake()}
	ts := newTestServer(t, Config{MaxRuns: 1, QueueSize: 10, ClientRuns: clientRuns, ClientQueue: 3, TrustProxy: true}, rec)
	holder := dialAs(t, ts, "192.0.2.9")
	send(t, holder, sandbox.Request{Files: src("BLOCK X")})
	recvUntil(t, holder, sandbox.KindStdout)

	// A's runs: the first of them may start next; with ClientRuns 1 the
	// others wait behind it (no place), with 2 the second has a place.
	wantA := []int{1, 0, 0}
	if clientRuns == 2 {
		wantA = []int{1, 2, 0}
	}
	as := make([]*websocket.Conn, 3)
	for i := range as {
		as[i] = dialAs(t, ts, "192.0.2.1")
		send(t, as[i], sandbox.Request{Files: src(fmt.Sprintf("A%d", i+1))})
		if e := recv(t, as[i]); e.Kind != sandbox.KindQueued || e.Position != wantA[i] {
			t.Fatalf("A%d: %+v, want queued at %d", i+1, e, wantA[i])
		}
	}
	b := dialAs(t, ts, "192.0.2.2")
	send(t, b, sandbox.Request{Files: src("B1")})
	if e := recv(t, b); e.Kind != sandbox.KindQueued || e.Position != 2 {
		t.Fatalf("B1: %+v, want queued at 2 (after A1, before A's others)", e)
	}
	if clientRuns == 2 {
		// A2 was told it moved back to 3.
		if e := recv(t, as[1]); e.Kind != sandbox.KindQueued || e.Position != 3 {
			t.Errorf("A2 after B1 came: %+v, want queued at 3", e)
		}
	}

	send(t, holder, map[string]bool{"stop": true})
	recvUntil(t, holder, sandbox.KindExit)
	for _, c := range append([]*websocket.Conn{b}, as...) {
		recvUntil(t, c, sandbox.KindExit)
	}
	if got, want := rec.started(), []string{"BLOCK X", "A1", "B1", "A2", "A3"}; !slices.Equal(got, want) {
		t.Errorf("runs started in the order %q, want %q", got, want)
	}
}

// The places told are the truth, under random arrivals, leavings and runs
// ending, with random limits: a run starts only when it was told it is
// next (1), or while held (0) when no run with a place waits; no slot
// idles while a run that may start waits; no limit is passed.
func TestAdmissionPlacesTruthful(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 1))
	for round := range 300 {
		a := newAdmission(1+rng.IntN(3), 1+rng.IntN(3), 1+rng.IntN(8), 1+rng.IntN(3))
		sim := &admissionSim{a: a, told: map[*ticket]int{}}
		for step := range 60 {
			if msg := sim.step(rng); msg != "" {
				t.Fatalf("round %d step %d (%d slots, %d per client; %d waiting, %d per client): %s",
					round, step, a.max, a.perRun, a.maxWait, a.perWait, msg)
			}
		}
	}
}

// admissionSim drives an admission from one goroutine through its
// methods, as acquire and a run's end would.
type admissionSim struct {
	a       *admission
	running []string // the client of each run going
	waiting []*ticket
	told    map[*ticket]int // the last place each waiting run read
}

// step does one random thing and returns what went wrong, or "".
func (s *admissionSim) step(rng *rand.Rand) string {
	before := maps.Clone(s.told)
	switch op := rng.IntN(4); {
	case op <= 1:
		client := fmt.Sprint(rng.IntN(4))
		t, err := s.a.enter(client)
		switch {
		case err != nil:
		case t == nil:
			s.running = append(s.running, client)
		default:
			s.waiting = append(s.waiting, t)
		}
	case op == 2 && len(s.running) > 0:
		i := rng.IntN(len(s.running))
		s.a.release(s.running[i])
		s.running = slices.Delete(s.running, i, i+1)
	case op == 3 && len(s.waiting) > 0:
		t := s.waiting[rng.IntN(len(s.waiting))]
		if s.a.leave(t) {
			s.waiting = slices.DeleteFunc(s.waiting, func(w *ticket) bool { return w == t })
			delete(s.told, t)
		}
	}
	return s.check(before)
}

// check reads what each waiting run was told and checks the rules.
func (s *admissionSim) check(before map[*ticket]int) string {
	var started []*ticket
	s.waiting = slices.DeleteFunc(s.waiting, func(t *ticket) bool {
		select {
		case <-t.admitted:
			started = append(started, t)
			s.running = append(s.running, t.client)
			return true
		default:
			return false
		}
	})
	for _, t := range s.waiting {
		select {
		case p := <-t.moved:
			s.told[t] = p
		default:
		}
	}
	for _, t := range started {
		if p := before[t]; p != 1 && slices.ContainsFunc(s.waiting, func(w *ticket) bool { return before[w] >= 1 }) {
			return fmt.Sprintf("a run told place %d started while one told a place waits", p)
		}
		delete(s.told, t)
	}
	a := s.a
	per := map[string]int{}
	for _, c := range s.running {
		per[c]++
		if per[c] > a.perRun {
			return fmt.Sprintf("client %s has %d runs going", c, per[c])
		}
	}
	if len(s.running) > a.max || len(s.waiting) > a.maxWait {
		return fmt.Sprintf("%d going, %d waiting", len(s.running), len(s.waiting))
	}
	for i, t := range a.line {
		if p := s.told[t]; p != 0 && p != i+1 {
			return fmt.Sprintf("the run at place %d was told %d", i+1, p)
		}
		if s.told[t] == 0 && per[t.client] < a.perRun && i == slices.IndexFunc(a.line, func(w *ticket) bool { return w.client == t.client }) {
			return fmt.Sprintf("the run at place %d may start but was told it is held", i+1)
		}
	}
	if len(s.running) < a.max && len(a.line) > 0 && s.told[a.line[0]] != 0 {
		return "a slot is free while a run that may start waits"
	}
	return ""
}
