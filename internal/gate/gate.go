// Package gate opens a sandbox backend in the background, behind a
// sandbox.Runner that refuses runs until it is open: racelab serve and
// racelab runner listen at once (a first start of the runc backend
// builds its warm cache, about a minute) and say, to a run and to
// /readyz alike, that the sandbox is getting ready.
package gate

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/racelab/racelab/sandbox"
)

// An Opener opens a sandbox backend: the runner and the function that
// closes it. Only main chooses a backend; it hands the gate its opener.
type Opener func(ctx context.Context) (r sandbox.Runner, close func(), err error)

// Runner is a sandbox.Runner that opens in the background. Until the
// backend is open it refuses runs with an error wrapping
// sandbox.ErrNotReady, and once Drain is called with one wrapping
// sandbox.ErrUnavailable, so that a client tries another runner.
type Runner struct {
	runner   atomic.Pointer[sandbox.Runner]
	draining atomic.Bool
	cancel   context.CancelFunc // ends the opening
	opened   chan struct{}      // closed when the opening goroutine has returned
	close    func()             // the backend's close, once it opened; set before opened is closed
}

// Open starts opening the backend with open, in a goroutine of its own
// that ends when open returns (Close waits for it). It logs when the
// backend is open; when opening fails, it calls fail with the error: the
// caller cannot run code, and ends.
func Open(ctx context.Context, open Opener, log *slog.Logger, fail func(error)) *Runner {
	ctx, cancel := context.WithCancel(ctx)
	g := &Runner{cancel: cancel, opened: make(chan struct{})}
	go func() {
		defer close(g.opened)
		r, closeR, err := open(ctx)
		if err != nil {
			fail(err)
			return
		}
		g.close = closeR
		g.runner.Store(&r)
		log.Info("ready: the sandbox is open")
	}()
	return g
}

// NotReady says why the gate takes no runs now, or returns nil.
func (g *Runner) NotReady() error {
	switch {
	case g.draining.Load():
		return fmt.Errorf("%w: stopping", sandbox.ErrUnavailable)
	case g.runner.Load() == nil:
		return fmt.Errorf("%w: opening the sandbox (a first start builds its warm cache)", sandbox.ErrNotReady)
	}
	return nil
}

// Run runs req on the backend once it is open, or says why it cannot.
func (g *Runner) Run(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
	if err := g.NotReady(); err != nil {
		return err
	}
	return (*g.runner.Load()).Run(ctx, req, emit)
}

// Drain refuses every run from now on and stops an opening under way:
// the first step of a shutdown.
func (g *Runner) Drain() {
	g.draining.Store(true)
	g.cancel()
}

// Close stops an opening under way and waits for it, and closes the
// backend if it opened. Runs through the gate must be over.
func (g *Runner) Close() {
	g.cancel()
	<-g.opened
	if g.close != nil {
		g.close()
	}
}

var _ sandbox.Runner = (*Runner)(nil)
