package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/racelab/racelab/sandbox"
)

// errTooLarge is the error for a request body over MaxBodyBytes.
var errTooLarge = errors.New("the request is too large")

// handleRun serves POST /api/run: the request as a JSON body, the events
// as application/x-ndjson, one per line, flushed as they happen. Errors
// found before the first event get their own HTTP status and one error
// event as the body; later ones are an error event in the stream.
func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		s.writeError(w, fmt.Errorf("%w: at most %d bytes", errTooLarge, s.cfg.MaxBodyBytes))
		return
	}
	if err != nil {
		return // the client went away
	}
	req, err := decodeRequest(body)
	if err != nil {
		s.writeError(w, err)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	st := &ndjson{w: w, rc: http.NewResponseController(w), timeout: s.cfg.WriteTimeout, cancel: cancel}
	client := clientKey(r, s.cfg.TrustProxy)
	release, err := s.admit(ctx, client, req, st.emit)
	if err != nil {
		if !st.started {
			s.writeError(w, err)
		} else if ctx.Err() == nil {
			st.emit(s.classify(err).event())
		}
		return
	}
	defer release()
	if err := s.execute(ctx, client, req, st.emit); err != nil {
		if !st.started {
			s.writeError(w, err) // nothing ran: the status says why
		} else {
			st.emit(s.classify(err).event())
		}
	}
}

// writeError answers with err's status and one error event.
func (s *Server) writeError(w http.ResponseWriter, err error) {
	e := s.classify(err)
	w.Header().Set("Content-Type", "application/x-ndjson")
	if e.status == http.StatusServiceUnavailable || e.status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "5")
	}
	w.WriteHeader(e.status)
	b, _ := json.Marshal(e.event())
	w.Write(append(b, '\n'))
}

// ndjson streams events to an HTTP response.
type ndjson struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	cancel  context.CancelFunc
	started bool
	broken  bool
}

// emit writes one event and flushes it; a client that stops reading for
// the write timeout loses its run.
func (n *ndjson) emit(e sandbox.Event) {
	if n.broken {
		return
	}
	if !n.started {
		n.w.Header().Set("Content-Type", "application/x-ndjson")
		n.w.Header().Set("Cache-Control", "no-cache")
		n.w.Header().Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
		n.w.WriteHeader(http.StatusOK)
		n.started = true
	}
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	_ = n.rc.SetWriteDeadline(time.Now().Add(n.timeout))
	if _, err := n.w.Write(append(b, '\n')); err != nil {
		n.broken = true
		n.cancel()
		return
	}
	if err := n.rc.Flush(); err != nil {
		n.broken = true
		n.cancel()
	}
}
