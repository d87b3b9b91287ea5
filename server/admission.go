package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// errBusy is returned when the waiting line is full.
var errBusy = errors.New("racelab is busy: every runner is taken and the line is full; try again in a moment")

// errClientFull is wrapped by the error of a client that already has as
// many runs going and waiting as one client may (a *clientFullError).
var errClientFull = errors.New("too many runs of one client")

// clientFullError says what one client may have, and that it has it.
type clientFullError struct{ runs, wait int }

// Unwrap makes the error errClientFull to errors.Is, for the table of codes.
func (e *clientFullError) Unwrap() error { return errClientFull }

// Error says what to do, in words a learner may read.
func (e *clientFullError) Error() string {
	return fmt.Sprintf("You already have %s going or waiting, the most this server allows one learner (%s running, %d waiting). "+
		"Wait for one to finish, or stop it, then press Run again.", plural(e.runs+e.wait, "run"), plural(e.runs, "run"), e.wait)
}

// plural returns "1 run" or "n runs".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// admission lets at most max runs go at once, at most perRun of them one
// client's, and keeps a bounded line of the others, at most perWait of
// them one client's, telling each its place as the line moves.
//
// The line is fair: clients take turns, so that one with many runs in
// line does not get ahead of one with a single run. A waiting run's round
// is the number of runs its client has going plus those of its client
// ahead of it in line; the line is kept sorted by round, and in a round
// by arrival. A run whose client has perRun going (a round of perRun or
// more) is held: it cannot start until one of its client's own runs ends,
// and it sorts after every run that can. The runs that can start are
// told their place (1 is next), and the first of them is always the next
// to start: a place is the truth, not a guess. A held run is told place
// 0, "after your own run", since when it may start depends on that run.
// With perRun 1, runs that come free join the end of the line, so a
// place told never grows; with more, a client with fewer runs going may
// join ahead of one with more, and whoever moves back is told.
type admission struct {
	mu      sync.Mutex
	max     int // runs going at once
	perRun  int // runs of one client going at once
	maxWait int // runs waiting
	perWait int // runs of one client waiting
	running int
	line    []*ticket          // waiting, in the order they will start
	clients map[string]*counts // the clients with runs going or waiting
}

// counts are one client's runs going and waiting.
type counts struct{ running, waiting int }

// ticket is one waiting run.
type ticket struct {
	client   string
	round    int           // see admission; set by sort
	admitted chan struct{} // closed when the run may start
	moved    chan int      // the latest place in line (1 is next, 0 held); holds at most one value
}

func newAdmission(max, perRun, maxWait, perWait int) *admission {
	return &admission{max: max, perRun: perRun, maxWait: maxWait, perWait: perWait, clients: map[string]*counts{}}
}

// acquire waits for a free slot for a run of client, calling onQueued
// with the place in line whenever it changes (0 while the run is held
// behind its client's own runs; not at all when a slot is free at once).
// It returns the slot's release, or at once errBusy when the line is
// full or a *clientFullError when client has all the runs going and
// waiting it may, or the context's error when the caller gave up waiting.
func (a *admission) acquire(ctx context.Context, client string, onQueued func(position int)) (func(), error) {
	t, err := a.enter(client)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return func() { a.release(client) }, nil
	}
	last := -1
	for {
		select {
		case <-t.admitted:
			return func() { a.release(client) }, nil
		case p := <-t.moved:
			if p != last {
				last = p
				onQueued(p)
			}
		case <-ctx.Done():
			if !a.leave(t) {
				// Admitted while giving up: hand the slot on.
				a.release(client)
			}
			return nil, ctx.Err()
		}
	}
}

// enter starts a run of client at once (returning no ticket), or puts it
// in line (returning its ticket, told its place), or refuses it.
func (a *admission) enter(client string) (*ticket, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.clients[client]
	if c == nil {
		c = &counts{}
		a.clients[client] = c
	}
	// A free slot means that no run in line may start (admitNext would
	// have started it), so this one goes ahead of none that may.
	if a.running < a.max && c.running < a.perRun {
		a.running++
		c.running++
		return nil, nil
	}
	switch {
	case c.waiting >= a.perWait:
		a.forget(client)
		return nil, &clientFullError{runs: a.perRun, wait: a.perWait}
	case len(a.line) >= a.maxWait:
		a.forget(client)
		return nil, errBusy
	}
	t := &ticket{client: client, admitted: make(chan struct{}), moved: make(chan int, 1)}
	c.waiting++
	a.line = append(a.line, t)
	a.sort()
	a.renumber()
	return t, nil
}

// release frees a slot of client's and starts the next run in line.
func (a *admission) release(client string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.running--
	a.clients[client].running--
	a.forget(client)
	// The slot goes to the run told it is next, before client's runs in
	// line move up a round (and maybe ahead of it). Then one of them that
	// was held may start if the slot is still free: no one else could.
	a.admitNext()
	a.sort()
	a.admitNext()
	a.renumber()
}

// admitNext starts waiting runs while slots are free and the first in
// line may start; a.mu is held.
func (a *admission) admitNext() {
	for a.running < a.max && len(a.line) > 0 && a.line[0].round < a.perRun {
		t := a.line[0]
		a.line = a.line[1:]
		c := a.clients[t.client]
		c.waiting--
		c.running++
		a.running++
		close(t.admitted)
		// t's client now has one more going and one fewer ahead in line:
		// the rounds of its other runs are unchanged, the order too.
	}
}

// leave takes t out of the line; it reports false when t was admitted in
// the meantime (and so holds a slot). a.mu is not held.
func (a *admission) leave(t *ticket) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	i := slices.Index(a.line, t)
	if i < 0 {
		return false
	}
	a.line = slices.Delete(a.line, i, i+1)
	a.clients[t.client].waiting--
	a.forget(t.client)
	a.sort() // t's client's later runs move up a round
	a.renumber()
	return true
}

// sort computes every waiting run's round and orders the line by round,
// keeping the order of runs of one round; a.mu is held.
func (a *admission) sort() {
	ahead := map[string]int{}
	for _, t := range a.line {
		t.round = a.clients[t.client].running + ahead[t.client]
		ahead[t.client]++
	}
	slices.SortStableFunc(a.line, func(x, y *ticket) int { return x.round - y.round })
}

// forget drops the counts of a client with nothing going or waiting;
// a.mu is held.
func (a *admission) forget(client string) {
	if c := a.clients[client]; c != nil && c.running == 0 && c.waiting == 0 {
		delete(a.clients, client)
	}
}

// renumber tells every waiting run its place, or 0 to a held run;
// a.mu is held.
func (a *admission) renumber() {
	for i, t := range a.line {
		select {
		case <-t.moved: // drop a place not yet read: only the latest matters
		default:
		}
		if t.round < a.perRun {
			t.moved <- i + 1
		} else {
			t.moved <- 0
		}
	}
}

// stats returns the number of running and waiting runs.
func (a *admission) stats() (running, waiting int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.running, len(a.line)
}
