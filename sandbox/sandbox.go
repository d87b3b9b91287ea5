// Package sandbox holds the wire types of a racelab run (Request, Event,
// Limits, Summary), the Runner interface that every backend implements,
// and the errors a run can end with (errors.go). It uses only the
// standard library, so any client can speak the protocol. Backends live
// in sub-packages (sandbox/runc, sandbox/local) and only main chooses
// one; sandbox/remote carries a Runner over HTTP.
//
// A backend builds and runs code written by strangers. An isolating one
// (runc) keeps these invariants on every run: no network inside the
// container; the toolchain and system read-only, the only writable
// places the run's own tmpfs and its own throw-away build-cache layer, so
// that nothing one run writes is ever read by another (the warm cache is
// built by trusted code and mounted read-only); compilation (cgo, gcc,
// //go:embed) inside the container too; every run bounded in wall time,
// CPU, memory, processes, output, source size and files, a limit ending
// only that run with a clear exit reason; every process and file of a
// run gone within a second of its end; a timed-out run sent SIGQUIT
// (its goroutines dumped) and then SIGKILL, and dead by its deadline even
// if racelab dies; whatever a run produces bounded in racelab too. The
// local backend keeps none of them and is for one's own laptop only.
// README.md ("Architecture") has the whole picture.
package sandbox

import "context"

// Runner builds and runs one request, calling emit for each event as it
// happens, in order, from one goroutine at a time.
//
// Run returns when the run is over and every process and file of it is
// gone. It returns an error wrapping ErrBadRequest when the request is
// invalid (before any event), and another error when the backend itself
// failed; in both cases the stream ended without its exit event. When ctx
// is done the run is stopped and ends with reason canceled.
type Runner interface {
	Run(ctx context.Context, req *Request, emit func(Event)) error
}

// RunnerFunc adapts a function to the Runner interface.
type RunnerFunc func(ctx context.Context, req *Request, emit func(Event)) error

// Run calls f.
func (f RunnerFunc) Run(ctx context.Context, req *Request, emit func(Event)) error {
	return f(ctx, req, emit)
}
