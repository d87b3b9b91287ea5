package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/remote"
)

// errRateLimited is wrapped by the error of a client that starts runs
// too fast (a *rateLimitError, which says when to try again).
var errRateLimited = errors.New("rate limited")

// codes extends the sandbox's table of errors (remote.Codes) with the
// server's own refusals (a full line, a client over its limits or its
// rate, a request that another site's page sent: see guard.go): with it,
// remote.CodeOf is the one table from an error to the reason of its error
// event and its HTTP status.
func codes() []remote.Code {
	return []remote.Code{
		{Err: errBusy, Reason: sandbox.ReasonBusy, Status: http.StatusServiceUnavailable},
		{Err: errInflightFull, Reason: sandbox.ReasonBusy, Status: http.StatusServiceUnavailable},
		{Err: errSlowBody, Reason: sandbox.ReasonBadRequest, Status: http.StatusRequestTimeout},
		{Err: errRateLimited, Reason: sandbox.ReasonRateLimited, Status: http.StatusTooManyRequests},
		{Err: errClientFull, Reason: sandbox.ReasonRateLimited, Status: http.StatusTooManyRequests},
		{Err: errUnknownHost, Reason: sandbox.ReasonBadRequest, Status: http.StatusMisdirectedRequest},
		{Err: errCrossSite, Reason: sandbox.ReasonBadRequest, Status: http.StatusForbidden},
		{Err: errNotJSON, Reason: sandbox.ReasonBadRequest, Status: http.StatusUnsupportedMediaType},
	}
}

// runErr is why a request did not run: its code, and a message a
// learner may read.
type runErr struct {
	code remote.Code
	msg  string
}

// classify maps every error of a run to what the client is told: the one
// path from error to HTTP. Internal details go to the log, not the client.
func (s *Server) classify(err error) runErr {
	c := remote.CodeOf(err, codes()...)
	s.metrics.errors.WithLabelValues(string(c.Reason)).Inc()
	return runErr{c, s.words(err, c)}
}

// words returns what a learner reads about err, whose code is c: its own
// text where that is written for them, else words that say what to do,
// the details going to the log.
func (s *Server) words(err error, c remote.Code) string {
	switch c.Err {
	case sandbox.ErrNotReady:
		return "The sandbox is still getting ready (on a first start it builds its cache, about a minute). Try again in a moment."
	case sandbox.ErrRunnerLost:
		s.cfg.Log.Warn("runner lost", "err", err)
		return "The machine running your program stopped before it finished. Press Run again: another one will take it."
	case sandbox.ErrUnavailable:
		s.cfg.Log.Warn("no runner available", "err", err)
		return "No machine can take your run right now. Try again in a moment."
	case nil:
		s.cfg.Log.Error("run failed", "err", err)
		return "The server could not run this; it has been logged. Try again in a moment."
	}
	return err.Error()
}

// event is the error event that tells the client e.
func (e runErr) event() sandbox.Event {
	return sandbox.Event{Kind: sandbox.KindError, Reason: e.code.Reason, Msg: e.msg}
}

// request is the one way in for a run, from /api/ws and POST /api/run
// alike: it decodes b, fills in the defaults and checks the request
// against the limits, once. Its errors wrap sandbox.ErrBadRequest.
func (s *Server) request(b []byte) (*sandbox.Request, error) {
	req, err := decodeRequest(b)
	if err != nil {
		return nil, err
	}
	req.Normalize()
	if err := req.Validate(s.cfg.Limits); err != nil {
		return nil, err
	}
	return req, nil
}

// A flow is one admitted request's events on their way from the runner
// to its client. On the way it counts what the log line and the metrics
// need, notes the event that ends the run, and stops the run when the
// client no longer takes events. The runner calls emit from one
// goroutine at a time, and the run's own goroutine reads the counts once
// Run has returned.
type flow struct {
	s        *Server
	client   string
	req      *sandbox.Request
	send     func(sandbox.Event) bool // to the client; false once it is gone
	cancel   context.CancelFunc       // stops the run
	ending   chan struct{}            // closed as the run's last event goes out; nil when no one waits for it
	exit     sandbox.Event            // the last exit, for the log
	outBytes int                      // of stdout and stderr, for the log
	judge    *judge                   // of a lesson cell's claims; nil for none
}

// emit passes e on to the client.
func (f *flow) emit(e sandbox.Event) {
	switch e.Kind {
	case sandbox.KindExit:
		f.exit = e
		if e.Run > 1 {
			// The first execution was charged at the door (admit).
			f.s.clients.charge(f.client, time.Now())
		}
	case sandbox.KindStdout, sandbox.KindStderr:
		f.outBytes += len(e.Data)
	}
	f.s.metrics.observe(f.req.Mode, e)
	if f.judge != nil {
		if v, ok := f.judge.see(e, f.req); ok {
			f.send(v) // the verdict goes just before the event that ends the run
		}
	}
	if f.ending != nil && e.Ends(f.req) {
		close(f.ending)
		f.ending = nil
	}
	if !f.send(e) {
		f.cancel() // the client does not read: stop its run
	}
}

// serveRun admits f's request and runs it. It returns the error that
// ended it, for the client to be told, or nil; a client that gave up
// while waiting for a slot is told nothing.
func (s *Server) serveRun(ctx context.Context, f *flow) error {
	release, err := s.admit(ctx, f)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer release()
	start := time.Now()
	err = s.runner.Run(ctx, f.req, f.emit)
	s.cfg.Log.Info("run", "client", f.client, "mode", f.req.Mode, "repeat", f.req.Repeat, "reason", f.exit.Reason,
		"code", f.exit.Code, "run_ms", f.exit.Ms, "total_ms", time.Since(start).Milliseconds(), "output_bytes", f.outBytes, "err", err)
	return err
}

// admit takes a token of the client's rate, for the request's first
// execution (each further one of a repeat is charged as its exit goes
// out, see flow.emit), and a slot of the admission queue, telling the
// client its place in line while it waits. The request was checked at
// the edge (see request).
func (s *Server) admit(ctx context.Context, f *flow) (func(), error) {
	if err := s.clients.allow(f.client, time.Now()); err != nil {
		return nil, err
	}
	start := time.Now()
	release, err := s.queue.acquire(ctx, f.client, func(p int) {
		e := sandbox.Event{Kind: sandbox.KindQueued, Position: p}
		if p == 0 {
			e.Msg = fmt.Sprintf("Waiting for your other run to finish: each learner may have %s going at a time.", plural(s.cfg.ClientRuns, "run"))
		}
		f.emit(e)
	})
	if err == nil {
		s.metrics.waited(time.Since(start))
	}
	return release, err
}
