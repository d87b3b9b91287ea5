package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

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
	// The body must come whole within BodyTimeout, and its bytes count
	// against the server's budget of requests being received (see
	// inflight.go) until it is parsed.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout))
	body, release, err := s.recv.read(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		// The rest of the body is not read: net/http would otherwise read
		// it (up to 256 KiB) before it answers, to keep the connection.
		w.Header().Set("Connection", "close")
	} else {
		_ = rc.SetReadDeadline(time.Time{})
	}
	var tooBig *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &tooBig):
		s.writeError(w, fmt.Errorf("%w: at most %d bytes", sandbox.ErrTooLarge, s.cfg.MaxBodyBytes))
		return
	case errors.Is(err, errInflightFull):
		s.writeError(w, err)
		return
	case errors.As(err, &netErr) && netErr.Timeout():
		s.writeError(w, fmt.Errorf("%w (%v); send it again", errSlowBody, s.cfg.BodyTimeout))
		return
	case err != nil:
		return // the client went away
	}
	req, err := s.request(body)
	release()
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
