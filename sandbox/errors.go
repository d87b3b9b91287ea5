package sandbox

import (
	"errors"
	"fmt"
)

// The errors of a run that never ran, or whose runner failed. Every
// error a Runner returns, in process or across the network, wraps one of
// them, so that errors.Is tells the cases apart wherever the run went.
// Their texts are safe to show to the learner.
var (
	// ErrBadRequest is wrapped by every error that a request's content
	// causes; its text says what to change.
	ErrBadRequest = errors.New("bad request")

	// ErrTooLarge is the error of a request whose body is larger than
	// the server that received it takes. It is answered like a bad
	// request (with HTTP status 413).
	ErrTooLarge = errors.New("the request is too large")

	// ErrUnavailable is wrapped by the errors of a run that no runner
	// could take, or whose runner went away while it ran. Running again
	// may work.
	ErrUnavailable = errors.New("no runner available")

	// ErrRunnerLost is wrapped by the error of a run whose runner went
	// away (stopped, crashed, unreachable) before the run ended. It wraps
	// ErrUnavailable: running again may work, on another runner.
	ErrRunnerLost = fmt.Errorf("%w: the runner went away during the run", ErrUnavailable)

	// ErrNotReady is wrapped by the error of a run sent to a sandbox that
	// is still opening (a first start builds its warm cache). It wraps
	// ErrUnavailable.
	ErrNotReady = fmt.Errorf("%w: the sandbox is still starting", ErrUnavailable)

	// ErrShuttingDown ends the runs a runner still has when its shutdown
	// grace runs out. It wraps ErrUnavailable: the learner is told to run
	// again, on another runner, rather than that they stopped the run.
	ErrShuttingDown = fmt.Errorf("%w: the runner shut down during the run", ErrUnavailable)
)

// badRequest returns an error wrapping ErrBadRequest with the message
// format and args make.
func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
}
