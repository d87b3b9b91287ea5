// Package remote carries sandbox runs over HTTP: Handler serves any
// sandbox.Runner (racelab runner serves its sandbox with it), and Client
// is a sandbox.Runner that sends each run to one of several such runners
// (racelab serve --runner). The same Runner thus works in process or
// across the network.
//
// The protocol between a web tier and a runner:
//
//	POST   /run        a Request as JSON; the answer is its events as
//	                   application/x-ndjson, one per line, flushed as they
//	                   happen. A blank line is a heartbeat.
//	DELETE /run/{id}   stop the run whose POST carried the header
//	                   Racelab-Run-Id: id; its stream ends as a stopped run
//	                   does (a canceled exit, and the summary of a repeat).
//
// A request refused before its first event gets a status and one error
// event as the body: 400 for a bad request, 413 for a body too large, 503
// when the runner cannot take runs (starting, or stopping). A failure
// later is an error event in the stream (reason unavailable when the
// runner stopped the run because it shuts down). Codes is the one table
// of these statuses and reasons. A stream cut off (no end of the chunked
// body), or silent for longer than a few heartbeats, means the runner
// went away.
//
// The web tier's POST /api/run speaks the same stream, through the same
// EventWriter.
package remote
