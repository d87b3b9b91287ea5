package stream

import (
	"errors"
	"io"
	"os"
	"time"
)

// Gather is how long Pump waits for more output after a read before it
// passes what it has on. A Go traceback arrives in hundreds of tiny
// writes; gathering them makes a few events instead of hundreds, and adds
// at most this much latency to a line.
const Gather = 5 * time.Millisecond

// Pump copies the pipe r to w until r reports EOF or is closed, gathering
// what arrives within Gather of a read into one write of up to 32 KiB.
// r must be pollable (os.Pipe's ends are), so that deadlines work.
func Pump(r *os.File, w io.Writer) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 && err == nil {
			if r.SetReadDeadline(time.Now().Add(Gather)) == nil {
				for n < len(buf) && err == nil {
					var m int
					m, err = r.Read(buf[n:])
					n += m
				}
				_ = r.SetReadDeadline(time.Time{})
				if errors.Is(err, os.ErrDeadlineExceeded) {
					err = nil
				}
			}
		}
		if n > 0 {
			_, _ = w.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}
