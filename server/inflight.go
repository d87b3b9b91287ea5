package server

import (
	"bytes"
	"errors"
	"io"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// errInflightFull is the error of a request body or websocket message
// that arrives while the server holds InflightBytes of others.
var errInflightFull = errors.New("racelab is receiving too many requests at once; try again in a moment")

// errSlowBody is the error of a request body that did not arrive whole
// within BodyTimeout.
var errSlowBody = errors.New("the request did not arrive whole in time")

// inflight bounds the bytes of requests being received at once, all
// clients together: a body or a message takes its bytes from the budget
// as they arrive, and gives them back once it has been parsed. Without
// it, four thousand connections that each sent most of a 256 KiB body
// and then stalled held 1.5 GB of the server's memory.
type inflight struct {
	sem  *semaphore.Weighted
	held atomic.Int64 // bytes taken from sem now, for the metric
}

func newInflight(bytes int64) *inflight {
	return &inflight{sem: semaphore.NewWeighted(bytes)}
}

// readChunk is the most read at a time.
const readChunk = 4 << 10

// read reads r to its end, taking each piece's bytes from the budget as
// it arrives, and returns the bytes and the function that gives them
// back (to call once they are no longer needed). When the budget has no
// room for the next piece it gives back what it took and returns
// errInflightFull; an error of r is returned as it is. The pieces are
// kept apart until the end, so that a stalled body holds the memory of
// the bytes it sent and no more (a growing slice holds up to twice).
func (f *inflight) read(r io.Reader) ([]byte, func(), error) {
	var held int64
	release := func() {
		if held > 0 {
			f.held.Add(-held)
			f.sem.Release(held)
			held = 0
		}
	}
	var pieces [][]byte // full pieces of readChunk bytes, then cur
	var cur []byte
	buf := make([]byte, readChunk)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if !f.sem.TryAcquire(int64(n)) {
				release()
				return nil, func() {}, errInflightFull
			}
			held += int64(n)
			f.held.Add(int64(n))
			for rest := buf[:n]; len(rest) > 0; {
				if len(cur) == cap(cur) {
					if cur != nil {
						pieces = append(pieces, cur)
					}
					cur = make([]byte, 0, readChunk)
				}
				k := copy(cur[len(cur):cap(cur)], rest)
				cur, rest = cur[:len(cur)+k], rest[k:]
			}
		}
		if err == io.EOF {
			return bytes.Join(append(pieces, cur), nil), release, nil
		}
		if err != nil {
			release()
			return nil, func() {}, err
		}
	}
}

// bytes returns the bytes of requests being received now.
func (f *inflight) bytes() int64 { return f.held.Load() }
