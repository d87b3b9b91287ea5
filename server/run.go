package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/racelab/racelab/sandbox"
)

// runErr is why a request did not run, with the HTTP status, the error
// event's reason and a message a learner may read.
type runErr struct {
	status int
	reason sandbox.Reason
	msg    string
}

// classify maps every error of a run to what the client is told: the one
// path from error to HTTP. Internal details go to the log, not the client.
func (s *Server) classify(err error) runErr {
	e := s.classifyErr(err)
	s.metrics.errors.WithLabelValues(string(e.reason)).Inc()
	return e
}

func (s *Server) classifyErr(err error) runErr {
	var rl *rateLimitError
	switch {
	case errors.Is(err, sandbox.ErrBadRequest):
		return runErr{http.StatusBadRequest, sandbox.ReasonBadRequest, err.Error()}
	case errors.As(err, &rl):
		return runErr{http.StatusTooManyRequests, sandbox.ReasonRateLimited, err.Error()}
	case errors.Is(err, errBusy):
		return runErr{http.StatusServiceUnavailable, sandbox.ReasonBusy, err.Error()}
	case errors.Is(err, errTooLarge):
		return runErr{http.StatusRequestEntityTooLarge, sandbox.ReasonBadRequest, err.Error()}
	case errors.Is(err, sandbox.ErrNotReady):
		return runErr{http.StatusServiceUnavailable, sandbox.ReasonUnavailable, "The sandbox is still getting ready (on a first start it builds its cache, about a minute). Try again in a moment."}
	case errors.Is(err, sandbox.ErrRunnerLost):
		s.cfg.Log.Warn("runner lost", "err", err)
		return runErr{http.StatusBadGateway, sandbox.ReasonUnavailable, "The machine running your program stopped before it finished. Press Run again: another one will take it."}
	case errors.Is(err, sandbox.ErrUnavailable):
		s.cfg.Log.Warn("no runner available", "err", err)
		return runErr{http.StatusServiceUnavailable, sandbox.ReasonUnavailable, "No machine can take your run right now. Try again in a moment."}
	}
	s.cfg.Log.Error("run failed", "err", err)
	return runErr{http.StatusInternalServerError, sandbox.ReasonInternal, "The server could not run this; it has been logged. Try again in a moment."}
}

func (e runErr) event() sandbox.Event {
	return sandbox.Event{Kind: sandbox.KindError, Reason: e.reason, Msg: e.msg}
}

// admit checks req, takes a token of the client's rate and a slot of the
// admission queue, calling emit with queued events while it waits.
func (s *Server) admit(ctx context.Context, client string, req *sandbox.Request, emit func(sandbox.Event)) (func(), error) {
	if err := req.Validate(s.cfg.Limits); err != nil {
		return nil, err
	}
	if err := s.clients.allow(client, time.Now()); err != nil {
		return nil, err
	}
	start := time.Now()
	release, err := s.queue.acquire(ctx, func(p int) {
		emit(sandbox.Event{Kind: sandbox.KindQueued, Position: p})
	})
	if err == nil {
		s.metrics.waited(time.Since(start))
	}
	return release, err
}

// execute runs an admitted request and logs one line about it.
func (s *Server) execute(ctx context.Context, client string, req *sandbox.Request, emit func(sandbox.Event)) error {
	start := time.Now()
	var exit sandbox.Event
	var outBytes int
	err := s.runner.Run(ctx, req, func(e sandbox.Event) {
		switch e.Kind {
		case sandbox.KindExit:
			exit = e
		case sandbox.KindStdout, sandbox.KindStderr:
			outBytes += len(e.Data)
		}
		s.metrics.observe(req.Mode, e)
		emit(e)
	})
	s.cfg.Log.Info("run", "client", client, "mode", req.Mode, "repeat", req.Repeat, "reason", exit.Reason,
		"code", exit.Code, "run_ms", exit.Ms, "total_ms", time.Since(start).Milliseconds(), "output_bytes", outBytes, "err", err)
	return err
}
