package runc

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/racelab/racelab/sandbox"
)

// Containers are made before they are needed (issue #13). Starting one
// (the runtime's namespaces, mounts, pivot_root and seccomp, until its
// first process runs) costs about 30 ms on runc and 200 ms on gVisor, and
// the run's directories a few more; so that a request does not wait for
// them, they are made ahead:
//
//   - While a slot is idle, its next run is prepared (standby): the run's
//     directories and tmpfs mounts, the overlay of the warm cache, the
//     bundle, the cgroup, and the first container, started and waiting.
//     Its init is a shell that says it started and then reads the script
//     of the request that claims it from a pipe; until then it runs
//     nothing. The request's files, memory limit and output are given to
//     it at the claim (job.handOver).
//   - While execution k of a repeated request runs, the containers of the
//     next executions are prepared (spare): each is a shell waiting on a
//     pipe for the go-ahead to become the program.
//
// Isolation is unchanged: a container prepared ahead has run nothing of
// anyone's, each run still has its own directories and first container,
// and each execution after the first its own fresh container. A
// container prepared ahead that nobody claims is ended by closing racelab's
// end of its pipe (its shell reads the end and exits), and with it
// everything of it is removed.

// pending is a container being prepared in the background: done is
// closed once it is ready (val) or its preparation failed (err, and then
// nothing of it is left). cancel abandons the preparation; discard waits
// for it and ends what it made.
type pending[T interface{ release() }] struct {
	cancel context.CancelFunc
	done   chan struct{}
	val    T
	err    error
}

// prepareAhead starts prepare in the background. Its goroutine ends when
// prepare returns, which it does once its container is ready, or failed,
// or its context is canceled (by discard).
func prepareAhead[T interface{ release() }](prepare func(context.Context) (T, error)) *pending[T] {
	ctx, cancel := context.WithCancel(context.Background())
	p := &pending[T]{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.val, p.err = prepare(ctx)
	}()
	return p
}

// ready waits until the preparation has ended (true), or ctx (false).
func (p *pending[T]) ready(ctx context.Context) bool {
	select {
	case <-p.done:
		return true
	case <-ctx.Done():
		return false
	}
}

// discard abandons the preparation, waits for its end, and releases the
// container it made, if it made one.
func (p *pending[T]) discard() {
	p.cancel()
	<-p.done
	if p.err == nil {
		p.val.release()
	}
}

// standing is what a container started ahead holds: the container, where
// its output goes, and racelab's ends of its pipes.
type standing struct {
	c    *container
	sink *sink
	ours []*os.File
}

// releaseWait bounds how long a released container may take to end by
// itself before it is killed.
const releaseWait = time.Second

// end stops the container unless it has ended, waits for it, removes its
// cgroup and closes racelab's ends of its pipes.
func (s *standing) end() {
	s.c.stop()
	_ = s.c.r.cg.remove(s.c.id)
	closeAll(s.ours)
	s.ours = nil
}

// release ends the container quietly: with racelab's ends of its pipes
// closed, a shell still waiting for its script or go-ahead reads their
// end and exits, which is quicker than the runtime's kill. One that does
// not is killed.
func (s *standing) release() {
	closeAll(s.ours)
	s.ours = nil
	select {
	case <-s.c.done:
	case <-time.After(releaseWait):
	}
	s.end()
}

// awaitReady is a container's start phase: it waits for its shell to say
// it started (a line on started), at most the runtime timeout. A runtime
// that has not started the container by then is logged, and the error
// wraps sandbox.ErrUnavailable; a container that ends first did not
// start. The caller ends the container when this fails.
func awaitReady(ctx context.Context, c *container, started <-chan time.Time) error {
	timeout := c.r.cfg.RuntimeTimeout
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case _, ok := <-started:
		if ok {
			return nil
		}
		<-c.done // the shell's end of the pipe closed: the container ended
	case <-c.done:
	case <-timer.C:
		c.r.cfg.Log.Error("the runtime did not start a container", "container", c.id, "timeout", timeout)
		return fmt.Errorf("%w: the container runtime did not start a container within %v", sandbox.ErrUnavailable, timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
	return c.notStarted()
}

// prep is a slot's next run, prepared before its request: the run's place
// and its first container (the build's), started and waiting for a
// script.
type prep struct {
	place
	*pending[*building]
}

// prepare starts preparing a run in slot.
func (r *Runner) prepare(slot int) *prep {
	pl := r.newPlace(slot)
	return &prep{place: pl, pending: prepareAhead(pl.prepare)}
}

// prepare makes the place's directories and its first container, and
// waits until that container's shell is ready. On failure nothing of it
// is left.
func (p place) prepare(ctx context.Context) (*building, error) {
	err := p.makeDirs()
	var b *building
	if err == nil {
		b, err = p.startFirst(ctx)
	}
	if err != nil {
		p.remove()
		return nil, err
	}
	return b, nil
}

// broken reports whether the preparation failed, or its container ended
// since it was ready.
func (p *prep) broken() bool {
	select {
	case <-p.done:
	default:
		return false
	}
	if p.err != nil {
		return true
	}
	select {
	case <-p.val.c.done:
		return true
	default:
		return false
	}
}

// discard ends the prepared run and removes its place.
func (p *prep) discard() {
	p.pending.discard()
	p.remove()
}

// standby keeps the next run of each idle slot prepared. A slot whose
// run found its prepared container broken is left cold (nothing is
// prepared for it) until a run of its own has started one: a runtime that
// fails keeps failing the runs that come, not the background.
type standby struct {
	r      *Runner
	mu     sync.Mutex
	next   map[int]*prep // by slot: prepared or being prepared, not yet taken
	closed bool
}

func newStandby(r *Runner) *standby {
	return &standby{r: r, next: map[int]*prep{}}
}

// fill starts preparing slot's next run, unless one is there or the
// standby is closed.
func (s *standby) fill(slot int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed && s.next[slot] == nil {
		s.next[slot] = s.r.prepare(slot)
	}
}

// take hands slot's next run to a request: the one prepared ahead (ready
// or still being prepared), or, when there is none or it failed before
// the request came, one whose preparation starts now.
func (s *standby) take(slot int) *prep {
	s.mu.Lock()
	p := s.next[slot]
	delete(s.next, slot)
	s.mu.Unlock()
	if p != nil && !p.broken() {
		return p
	}
	if p != nil {
		p.discard()
	}
	return s.r.prepare(slot)
}

// put gives slot back a run a request took but never used (its first
// container was not claimed: it has still run nothing).
func (s *standby) put(slot int, p *prep) {
	s.mu.Lock()
	keep := !s.closed && s.next[slot] == nil
	if keep {
		s.next[slot] = p
	}
	s.mu.Unlock()
	if !keep {
		p.discard()
	}
}

// close ends every run prepared ahead and removes what it made. Call it
// once no run is going on.
func (s *standby) close() {
	s.mu.Lock()
	s.closed = true
	ps := s.next
	s.next = nil
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(p.discard)
	}
	wg.Wait()
}

// holds reports whether name (a container, run directory, cgroup or
// mount of the runner) belongs to a run prepared ahead and not yet taken.
func (s *standby) holds(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.next {
		if name == p.id || name == p.dir || strings.HasPrefix(name, p.id+"-") || strings.HasPrefix(name, p.dir+"/") {
			return true
		}
	}
	return false
}
