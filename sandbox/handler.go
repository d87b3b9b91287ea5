package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// The protocol between a web tier and a runner (racelab runner), spoken
// by Handler and Client:
//
//	POST   /run        a Request as JSON; the answer is its events as
//	                   application/x-ndjson, one per line, flushed as they
//	                   happen. A blank line is a heartbeat.
//	DELETE /run/{id}   stop the run whose POST carried the header
//	                   Racelab-Run-Id: id; its stream ends as a stopped run
//	                   does (a canceled exit, and the summary of a repeat).
//
// A request refused before its first event gets a status and one error
// event as the body: 400 for a bad request, 503 when the runner cannot
// take runs (starting, or stopping). A failure later is an error event in
// the stream (reason unavailable when the runner stopped the run because
// it shuts down). A stream cut off (no end of the chunked body), or
// silent for longer than a few heartbeats, means the runner went away.
const (
	RunPath        = "/run"
	RunIDHeader    = "Racelab-Run-Id"
	ndjsonType     = "application/x-ndjson"
	maxRunIDLength = 64
)

// The defaults of HandlerOptions.
const (
	DefaultHandlerMaxBody = 1 << 20
	DefaultHeartbeat      = 5 * time.Second
	DefaultHandlerWrite   = 30 * time.Second
	MinHeartbeat          = 10 * time.Millisecond
)

// HandlerOptions tune Handler; zero fields take the defaults above.
type HandlerOptions struct {
	MaxBodyBytes int64         // the largest request body
	Heartbeat    time.Duration // a blank line after this long without an event
	WriteTimeout time.Duration // a client that reads nothing for this long loses its run
	Log          *slog.Logger
}

// Handler serves r over HTTP for a Client, with the protocol above. When
// r.Run returns an error wrapping ErrUnavailable before any event, the
// answer is 503, so that a Client tries another runner.
func Handler(r Runner, o HandlerOptions) http.Handler {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultHandlerMaxBody
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	o.Heartbeat = max(o.Heartbeat, MinHeartbeat)
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultHandlerWrite
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h := &handler{runner: r, opt: o, runs: map[string]context.CancelFunc{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+RunPath, h.run)
	mux.HandleFunc("DELETE "+RunPath+"/{id}", h.stop)
	return mux
}

type handler struct {
	runner Runner
	opt    HandlerOptions
	mu     sync.Mutex
	runs   map[string]context.CancelFunc // by Racelab-Run-Id
}

func (h *handler) run(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opt.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		refuse(w, http.StatusRequestEntityTooLarge, ReasonBadRequest, fmt.Sprintf("the request is too large: at most %d bytes", h.opt.MaxBodyBytes))
		return
	}
	if err != nil {
		return // the client went away
	}
	var req Request
	if err := json.Unmarshal(body, &req); err != nil {
		msg := err.Error()
		if !errors.Is(err, ErrBadRequest) {
			msg = "the request is not valid JSON: " + msg
		}
		refuse(w, http.StatusBadRequest, ReasonBadRequest, msg)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if id := r.Header.Get(RunIDHeader); id != "" {
		if len(id) > maxRunIDLength || !h.add(id, cancel) {
			refuse(w, http.StatusBadRequest, ReasonBadRequest, "the run id is too long or already in use")
			return
		}
		defer h.remove(id)
	}
	st := NewEventWriter(w, h.opt.WriteTimeout, cancel)
	beats := make(chan struct{})
	var beating sync.WaitGroup
	beating.Go(func() { st.heartbeat(beats, h.opt.Heartbeat) })
	err = h.runner.Run(ctx, &req, st.Emit)
	close(beats)
	beating.Wait()
	if err == nil && errors.Is(context.Cause(ctx), ErrUnavailable) {
		// Stopped because the runner shuts down, not by its client: say
		// so, or the learner would read it as their own Stop.
		err = context.Cause(ctx)
	}
	if err == nil {
		return
	}
	reason := ReasonInternal
	switch {
	case errors.Is(err, ErrBadRequest):
		reason = ReasonBadRequest
	case errors.Is(err, ErrUnavailable):
		reason = ReasonUnavailable
	default:
		h.opt.Log.Error("run failed", "err", err)
	}
	if !st.Started() {
		status := map[Reason]int{ReasonBadRequest: http.StatusBadRequest, ReasonUnavailable: http.StatusServiceUnavailable}[reason]
		if status == 0 {
			status = http.StatusInternalServerError
		}
		refuse(w, status, reason, err.Error())
		return
	}
	st.Emit(Event{Kind: KindError, Reason: reason, Msg: err.Error()})
}

func (h *handler) stop(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	cancel, ok := h.runs[r.PathValue("id")]
	h.mu.Unlock()
	if !ok {
		http.Error(w, "no such run (it may have ended)", http.StatusNotFound)
		return
	}
	cancel()
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) add(id string, cancel context.CancelFunc) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, dup := h.runs[id]; dup {
		return false
	}
	h.runs[id] = cancel
	return true
}

func (h *handler) remove(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.runs, id)
}

// refuse answers a request that did not run with status and one error event.
func refuse(w http.ResponseWriter, status int, reason Reason, msg string) {
	w.Header().Set("Content-Type", ndjsonType)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "2")
	}
	w.WriteHeader(status)
	b, _ := json.Marshal(Event{Kind: KindError, Reason: reason, Msg: msg})
	w.Write(append(b, '\n'))
}

// EventWriter streams a run's events to an HTTP response as NDJSON, one
// line and one flush per event, from any number of goroutines. A client
// that reads nothing for the write timeout, or went away, is dropped and
// its run canceled. Both the runner's handler and the web tier's
// POST /api/run write through it.
type EventWriter struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	cancel  context.CancelFunc
	started bool
	broken  bool
	last    time.Time // of the last write
}

// NewEventWriter returns a writer of events to w; cancel stops the run
// when the client is dropped.
func NewEventWriter(w http.ResponseWriter, timeout time.Duration, cancel context.CancelFunc) *EventWriter {
	return &EventWriter{w: w, rc: http.NewResponseController(w), timeout: timeout, cancel: cancel, last: time.Now()}
}

// Started reports whether the status 200 went out: an error from now on
// can only be an event in the stream.
func (s *EventWriter) Started() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

// Emit writes e.
func (s *EventWriter) Emit(e Event) {
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	s.write(append(b, '\n'))
}

func (s *EventWriter) write(line []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken {
		return
	}
	if !s.started {
		h := s.w.Header()
		h.Set("Content-Type", ndjsonType)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
		s.w.WriteHeader(http.StatusOK)
		s.started = true
	}
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	if _, err := s.w.Write(line); err != nil {
		s.broken = true
		s.cancel()
		return
	}
	if err := s.rc.Flush(); err != nil {
		s.broken = true
		s.cancel()
	}
	s.last = time.Now()
}

// heartbeat writes a blank line whenever the stream has been quiet for
// every, until done is closed, so that a client can tell a silent run (a
// long build, a wait for a slot) from a runner that went away. The first
// one commits the status 200: a later error is an event in the stream.
func (s *EventWriter) heartbeat(done <-chan struct{}, every time.Duration) {
	t := time.NewTicker(every / 2)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			s.mu.Lock()
			quiet := now.Sub(s.last) >= every
			s.mu.Unlock()
			if quiet {
				s.write([]byte("\n"))
			}
		}
	}
}
