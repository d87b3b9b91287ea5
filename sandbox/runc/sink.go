package runc

import (
	"io"
	"sync"

	"github.com/racelab/racelab/sandbox/internal/stream"
)

// heldMax bounds what a container may print before a run claims it.
const heldMax = 64 << 10

// sink is where a container's stdout and stderr go: the stream.Output of
// the run that claims the container, bound at the claim. A container is
// started before its run is known (see prestart.go), and its shell prints
// nothing until it is claimed, so what comes before is the runtime's own
// messages: they are held, up to heldMax bytes, and passed on at the
// claim, as they went to the run's output before containers were started
// ahead.
type sink struct {
	mu   sync.Mutex
	out  *stream.Output
	held []heldChunk
	size int
}

// heldChunk is output that came before the claim.
type heldChunk struct {
	stderr bool
	b      []byte
}

// bind makes out the destination of everything the container printed
// and will print.
func (s *sink) bind(out *stream.Output) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.out = out
	for _, h := range s.held {
		_, _ = pick(out, h.stderr).Write(h.b)
	}
	s.held, s.size = nil, 0
}

// heldText returns what the container printed before any run claimed it.
func (s *sink) heldText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b []byte
	for _, h := range s.held {
		b = append(b, h.b...)
	}
	return string(b)
}

// writer returns the writer of the container's stdout, or its stderr.
func (s *sink) writer(stderr bool) io.Writer { return sinkWriter{s, stderr} }

// flush flushes the bound output, once the container's pipes are closed.
func (s *sink) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out != nil {
		s.out.Flush()
	}
}

type sinkWriter struct {
	s      *sink
	stderr bool
}

// Write passes p on to the bound output, or holds it; it never fails, so
// that the pumps drain the pipes.
func (w sinkWriter) Write(p []byte) (int, error) {
	s := w.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out != nil {
		return pick(s.out, w.stderr).Write(p)
	}
	if n := min(len(p), heldMax-s.size); n > 0 {
		s.held = append(s.held, heldChunk{w.stderr, append([]byte(nil), p[:n]...)})
		s.size += n
	}
	return len(p), nil
}

// pick returns out's stdout or stderr writer.
func pick(out *stream.Output, stderr bool) io.Writer {
	if stderr {
		return out.Stderr()
	}
	return out.Stdout()
}
