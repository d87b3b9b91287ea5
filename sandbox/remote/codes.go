package remote

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/racelab/racelab/sandbox"
)

// A Code ties an error value to the reason of the error event that
// carries it and to the HTTP status of a request refused with it.
type Code struct {
	Err    error          // the error value, matched with errors.Is; nil for the internal code
	Reason sandbox.Reason // the error event's reason
	Status int            // the HTTP status of a request refused before its first event
}

// Codes returns the one table from sandbox error to wire and back: the
// runner's Handler and the web tier answer with it, the Client reads it
// back. A more specific error comes before the one it wraps, and each
// reason's last row is its most general error.
func Codes() []Code {
	return []Code{
		{sandbox.ErrTooLarge, sandbox.ReasonBadRequest, http.StatusRequestEntityTooLarge},
		{sandbox.ErrBadRequest, sandbox.ReasonBadRequest, http.StatusBadRequest},
		{sandbox.ErrNotReady, sandbox.ReasonUnavailable, http.StatusServiceUnavailable},
		{sandbox.ErrRunnerLost, sandbox.ReasonUnavailable, http.StatusBadGateway},
		{sandbox.ErrUnavailable, sandbox.ReasonUnavailable, http.StatusServiceUnavailable},
	}
}

// Internal is the code of an error the table does not know: a failure of
// the server, whose details belong in its log.
func Internal() Code {
	return Code{Reason: sandbox.ReasonInternal, Status: http.StatusInternalServerError}
}

// CodeOf returns the code of err: of the first row of extra, then of
// Codes, whose error err wraps, or Internal. extra extends the table
// with a server's own errors (a full line, a rate limit).
func CodeOf(err error, extra ...Code) Code {
	for _, table := range [][]Code{extra, Codes()} {
		for _, c := range table {
			if errors.Is(err, c.Err) {
				return c
			}
		}
	}
	return Internal()
}

// errorOf turns a runner's error event back into the error its runner
// returned, so that errors.Is sees the same values on this side: the
// first error of the event's reason whose text begins the message, or
// else the reason's most general one. status is the HTTP status of a
// refusal, or "" for an error in the stream: there, a runner unavailable
// means the run had begun and its runner stopped (shut down) during it.
func errorOf(e sandbox.Event, status string) error {
	if status == "" && e.Reason == sandbox.ReasonUnavailable {
		return fmt.Errorf("%w: %s", sandbox.ErrRunnerLost, e.Msg)
	}
	var match error
	for _, c := range Codes() {
		if c.Reason != e.Reason {
			continue
		}
		match = c.Err
		if strings.HasPrefix(e.Msg, c.Err.Error()) {
			break
		}
	}
	switch {
	case match != nil:
		return fmt.Errorf("%w: %s", match, strings.TrimPrefix(e.Msg, match.Error()+": "))
	case status != "":
		return fmt.Errorf("runner answered %s: %s", status, e.Msg)
	}
	return fmt.Errorf("runner failed: %s", e.Msg)
}
