package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/racelab/racelab/sandbox/remote"
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
	st := remote.NewEventWriter(w, s.cfg.WriteTimeout, cancel)
	client := clientKey(r, s.cfg.TrustProxy)
	release, err := s.admit(ctx, client, req, st.Emit)
	if err != nil {
		if !st.Started() {
			s.writeError(w, err)
		} else if ctx.Err() == nil {
			st.Emit(s.classify(err).event())
		}
		return
	}
	defer release()
	if err := s.execute(ctx, client, req, st.Emit); err != nil {
		if !st.Started() {
			s.writeError(w, err) // nothing ran: the status says why
		} else {
			st.Emit(s.classify(err).event())
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
