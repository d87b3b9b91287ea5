// Package sandbox holds the wire types of a racelab run (Request, Event)
// and the Runner interface that every backend implements. It uses only
// the standard library, so any client can speak the protocol.
//
// A backend builds and runs untrusted Go code; see ../shared/DESIGN.md for
// the security invariants each one keeps. Backends live in sub-packages
// (sandbox/runc, sandbox/local) and only main chooses one.
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
