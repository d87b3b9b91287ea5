package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/remote"
)

// handleRun serves POST /api/run: the request as a JSON body (declared
// so: see jsonBody), the events
// as application/x-ndjson, one per line, flushed as they happen. Errors
// found before the first event get their own HTTP status and one error
// event as the body; later ones are an error event in the stream.
func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	if err := jsonBody(r); err != nil {
		s.writeError(w, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		s.writeError(w, fmt.Errorf("%w: at most %d bytes", sandbox.ErrTooLarge, s.cfg.MaxBodyBytes))
		return
	}
	if err != nil {
		return // the client went away
	}
	req, err := s.request(body)
	if err != nil {
		s.writeError(w, err)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	out := remote.NewEventWriter(w, s.cfg.WriteTimeout, cancel)
	f := &flow{s: s, client: clientKey(r, s.cfg.TrustProxy), req: req, send: out.Send, cancel: cancel, judge: s.judgeFor(req)}
	if err := s.serveRun(ctx, f); err != nil {
		if !out.Started() {
			s.writeError(w, err) // nothing ran: the status says why
		} else {
			f.emit(s.classify(err).event())
		}
	}
}

// writeError answers with err's status and one error event.
func (s *Server) writeError(w http.ResponseWriter, err error) {
	e := s.classify(err)
	w.Header().Set("Content-Type", "application/x-ndjson")
	if e.code.Status == http.StatusServiceUnavailable || e.code.Status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "5")
	}
	w.WriteHeader(e.code.Status)
	b, _ := e.event().JSON()
	w.Write(append(b, '\n'))
}
