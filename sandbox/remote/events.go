package remote

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/racelab/racelab/sandbox"
)

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
func (s *EventWriter) Emit(e sandbox.Event) { s.Send(e) }

// Send writes e and reports whether the client still takes events.
func (s *EventWriter) Send(e sandbox.Event) bool {
	b, err := e.JSON()
	if err != nil {
		return true // an event that cannot be written is skipped
	}
	return s.write(append(b, '\n'))
}

// write writes one line and flushes it, and reports whether it went
// out; the first write sends the status 200 and the headers of a stream.
func (s *EventWriter) write(line []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken {
		return false
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
		return false
	}
	if err := s.rc.Flush(); err != nil {
		s.broken = true
		s.cancel()
		return false
	}
	s.last = time.Now()
	return true
}

// run runs req on r, writing its events, and a heartbeat whenever the
// stream has been quiet for every. It returns r.Run's error once the
// heartbeats have stopped.
func (s *EventWriter) run(ctx context.Context, r sandbox.Runner, req *sandbox.Request, every time.Duration) error {
	beats := make(chan struct{})
	var beating sync.WaitGroup
	beating.Go(func() { s.heartbeat(beats, every) })
	defer beating.Wait()
	defer close(beats)
	return r.Run(ctx, req, s.Emit)
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
