package server

import (
	"context"
	"errors"
	"sync"
)

// errBusy is returned when the waiting line is full.
var errBusy = errors.New("racelab is busy: every runner is taken and the line is full; try again in a moment")

// admission lets at most max runs go at once and keeps a bounded line of
// the others, telling each its place as the line moves.
type admission struct {
	mu      sync.Mutex
	max     int
	running int
	maxWait int
	line    []*ticket // waiting, first in line first
}

// ticket is one waiting run.
type ticket struct {
	admitted chan struct{} // closed when the run may start
	moved    chan int      // the latest place in line (1 is next); holds at most one value
}

func newAdmission(max, maxWait int) *admission {
	return &admission{max: max, maxWait: maxWait}
}

// acquire waits for a free slot, calling onQueued with the place in line
// whenever it changes (and not at all when a slot is free at once). It
// returns the slot's release, or errBusy when the line is full, or the
// context's error when the caller gave up waiting.
func (a *admission) acquire(ctx context.Context, onQueued func(position int)) (func(), error) {
	a.mu.Lock()
	if a.running < a.max && len(a.line) == 0 {
		a.running++
		a.mu.Unlock()
		return a.release, nil
	}
	if len(a.line) >= a.maxWait {
		a.mu.Unlock()
		return nil, errBusy
	}
	t := &ticket{admitted: make(chan struct{}), moved: make(chan int, 1)}
	a.line = append(a.line, t)
	t.moved <- len(a.line)
	a.mu.Unlock()
	last := 0
	for {
		select {
		case <-t.admitted:
			return a.release, nil
		case p := <-t.moved:
			if p != last {
				last = p
				onQueued(p)
			}
		case <-ctx.Done():
			if a.leave(t) {
				return nil, ctx.Err()
			}
			// Admitted while giving up: hand the slot on.
			a.release()
			return nil, ctx.Err()
		}
	}
}

// release frees a slot and admits the first in line.
func (a *admission) release() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.running--
	a.admitNext()
}

// admitNext starts waiting runs while slots are free; a.mu is held.
func (a *admission) admitNext() {
	for a.running < a.max && len(a.line) > 0 {
		t := a.line[0]
		a.line = a.line[1:]
		a.running++
		close(t.admitted)
	}
	a.renumber()
}

// leave takes t out of the line; it reports false when t was admitted in
// the meantime (and so holds a slot). a.mu is not held.
func (a *admission) leave(t *ticket) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, w := range a.line {
		if w == t {
			a.line = append(a.line[:i], a.line[i+1:]...)
			a.renumber()
			return true
		}
	}
	return false
}

// renumber tells every waiting run its new place; a.mu is held.
func (a *admission) renumber() {
	for i, t := range a.line {
		select {
		case <-t.moved: // drop a place not yet read: only the latest matters
		default:
		}
		t.moved <- i + 1
	}
}

// stats returns the number of running and waiting runs.
func (a *admission) stats() (running, waiting int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.running, len(a.line)
}
