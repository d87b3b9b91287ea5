package sandbox

import (
	"bytes"
	"encoding/json"
)

// Kind names what an Event reports.
type Kind string

// The kinds of events, in the order a run produces them.
const (
	KindQueued       Kind = "queued"        // waiting for a free slot; Position is the place in line, or 0 and Msg says why not yet
	KindBuild        Kind = "build"         // the build step finished successfully after Ms
	KindCompileError Kind = "compile_error" // one compiler or vet diagnostic: File, Line, Col, Msg
	KindStdout       Kind = "stdout"        // Data as the program printed it, TMs after it started
	KindStderr       Kind = "stderr"        // like stdout, for standard error (and the build's own output)
	KindAsm          Kind = "asm"           // compiler assembly listing: Lines
	KindFmt          Kind = "fmt"           // gofmt's result: Files
	KindExit         Kind = "exit"          // the run ended: Code, Reason, Msg, Ms, CPUMs, PeakBytes
	KindSummary      Kind = "summary"       // after the last exit of a repeated run: Summary
	KindRace         Kind = "race"          // one parsed data race report, before its run's exit: Race
	KindGoroutines   Kind = "goroutines"    // the parsed goroutine dump of a run that hung, deadlocked or left goroutines running at exit, before its exit: Cause, Goroutines
	KindError        Kind = "error"         // the request could not be run at all: Reason, Msg
	KindVerdict      Kind = "verdict"       // whether the run showed what its lesson cell claims, just before the event that ends the run: Verdict
	KindTimeline     Kind = "timeline"      // the parsed execution trace of a traced run (Request.Trace), before its exit: Timeline
)

// Reason says why a run ended, in a word a program can switch on; the
// exit event's Msg says it in a sentence a learner can read.
type Reason string

// The reasons a run ends.
const (
	ReasonExited      Reason = "exited"       // the program ended by itself (any exit code)
	ReasonBuildFailed Reason = "build-failed" // the build step failed; nothing ran
	ReasonTimeout     Reason = "timeout"      // the wall-time limit ran out
	ReasonMemory      Reason = "memory"       // the memory limit was reached
	ReasonOutput      Reason = "output-limit" // the program printed more than the output limit
	ReasonKilled      Reason = "killed"       // a signal ended the program (or it exited with a status above 128: the runtime reports both alike)
	ReasonCanceled    Reason = "canceled"     // the client stopped the run or went away
)

// RaceExitCode is the exit status of a program built with -race whose
// race detector reported a data race (GORACE's exitcode, 66 by default).
const RaceExitCode = 66

// The reasons of an error event: why a request did not run at all.
const (
	ReasonBadRequest  Reason = "bad-request"  // the request is invalid; Msg says what to change
	ReasonBusy        Reason = "busy"         // every runner is taken and the line is full
	ReasonRateLimited Reason = "rate-limited" // this client starts runs too fast
	ReasonSocketBusy  Reason = "socket-busy"  // a run is already going on this websocket
	ReasonInternal    Reason = "internal"     // the server failed; details are in its log
	ReasonUnavailable Reason = "unavailable"  // no runner could take the run, or the one running it went away; running again may work
)

// Event is one message of a run's stream: one JSON object per websocket
// message, or one line of application/x-ndjson. Only the fields of its
// Kind are set. Which event ends a run is said once, by Ends.
type Event struct {
	// Kind says which of the other fields are set.
	Kind Kind `json:"kind"`
	// Position is the place in the admission queue (1 is next), for
	// queued; 0 while the run waits for its client's other runs to end,
	// before it takes a place (Msg says so).
	Position int `json:"position,omitempty"`
	// Run numbers the execution (1..repeat) that stdout, stderr and exit
	// belong to; it is set only when the request repeats.
	Run int `json:"run,omitempty"`
	// Data is a chunk of output, for stdout and stderr, as printed; it may
	// end within a line.
	Data string `json:"data,omitempty"`
	// TMs is when the chunk was read, in milliseconds since the program
	// (or, before it, the build) started, for stdout and stderr.
	TMs int64 `json:"t_ms,omitempty"`
	// File, Line and Col place a compile_error in the submitted files
	// (Col may be 0 when the tool gives no column).
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
	// Msg is the text of a compile_error or error, the plain-words
	// explanation of an exit reason, or why a queued run has no place yet.
	Msg string `json:"msg,omitempty"`
	// Ms is a duration in milliseconds: of the build for build, of the run
	// (wall) for exit.
	Ms int64 `json:"ms,omitempty"`
	// Code is the program's exit status, for exit; a signal N gives 128+N.
	Code int `json:"code"`
	// Reason says why the run ended, for exit, or why it never ran, for
	// error.
	Reason Reason `json:"reason,omitempty"`
	// Cached is set on a build event when the program was built earlier
	// from the same source (racelab keeps the programs it builds): no
	// build ran now, and Ms is 0. Results are never kept: the program
	// runs.
	Cached bool `json:"cached,omitempty"`
	// TimeoutMs is the wall-time limit of each run of the program, for
	// build (the page counts it down while a run goes on).
	TimeoutMs int64 `json:"timeout_ms,omitempty"`
	// StartMs is the part of a build event's Ms spent starting the
	// container (the runtime, namespaces, mounts) before the build ran;
	// 0 when the backend starts none.
	StartMs int64 `json:"start_ms,omitempty"`
	// CPUMs is the CPU time (user+system) of the run in milliseconds, for exit.
	CPUMs int64 `json:"cpu_ms,omitempty"`
	// PeakBytes is the peak memory of the container, for exit (0 when the
	// backend cannot measure it).
	PeakBytes int64 `json:"peak_bytes,omitempty"`
	// Lines is the assembly listing, for asm.
	Lines []AsmLine `json:"lines,omitempty"`
	// Files holds the formatted sources by name, for fmt.
	Files map[string]string `json:"files,omitempty"`
	// Summary counts the outcomes of a repeated run, for summary.
	Summary *Summary `json:"summary,omitempty"`
	// Race is one data race report of the run's standard error, parsed,
	// for race.
	Race *RaceReport `json:"race,omitempty"`
	// Verdict says whether the run showed what its lesson cell claims,
	// for verdict.
	Verdict *Verdict `json:"verdict,omitempty"`
	// Cause says why the goroutines were dumped, for goroutines: CauseTimeout,
	// CauseDeadlock or CauseExit.
	Cause string `json:"cause,omitempty"`
	// Goroutines are the goroutines of the dump that matter to the learner,
	// for goroutines: goroutine 1 and every one with a frame in the
	// submitted files, in the order the runtime printed them (for
	// CauseExit, only those with a frame in the submitted files).
	Goroutines []Goroutine `json:"goroutines,omitempty"`
	// Timeline is what the execution tracer recorded of the run, for
	// timeline.
	Timeline *Timeline `json:"timeline,omitempty"`
}

// The causes of a goroutines event.
const (
	// CauseTimeout: the run ran out of time and SIGQUIT made the runtime
	// print every goroutine.
	CauseTimeout = "timeout"
	// CauseDeadlock: the runtime found every goroutine asleep and said so
	// ("fatal error: all goroutines are asleep - deadlock!").
	CauseDeadlock = "deadlock"
	// CauseExit: in run and race modes, the user's main returned while
	// other goroutines were still running (after a grace of about 50 ms
	// for those finishing); they are listed where they were, and the
	// program then exited as usual. The reporting goroutine is left out.
	CauseExit = "exit"
)

// AsmLine is one line of the compiler's -S listing of the user's package.
type AsmLine struct {
	// Func is the function the instruction belongs to ("main.main"). In
	// an asm event it is set on the first line of each function only, and
	// empty on the lines of the same function that follow: a name is
	// sent once, however long it is.
	Func string `json:"func,omitempty"`
	// Offset is the instruction's offset in the function, in bytes.
	Offset int `json:"offset"`
	// File and Line are the source position the instruction came from.
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// Text is the instruction ("MOVQ AX, (CX)"), or the TEXT header line.
	Text string `json:"text"`
	// Noise marks PCDATA/FUNCDATA pseudo-instructions a reader may hide.
	Noise bool `json:"noise,omitempty"`
}

// RaceReport is one "WARNING: DATA RACE" block of the race detector.
type RaceReport struct {
	// Accesses are the two conflicting accesses: [0] the one that found
	// the race ("Read at 0x… by goroutine 8:"), [1] the earlier one
	// ("Previous write at 0x… by main goroutine:"). A report cut short
	// may hold fewer.
	Accesses []RaceAccess `json:"accesses"`
	// Goroutines are where the goroutines of the accesses were started
	// (the "Goroutine 8 (running) created at:" blocks), in report order.
	// The main goroutine has none.
	Goroutines []GoroutineOrigin `json:"goroutines"`
	// Raw is the whole block as printed, from its first "=====" line to
	// its closing one.
	Raw string `json:"raw"`
}

// RaceAccess is one of the two memory accesses of a data race.
type RaceAccess struct {
	// Op is "read" or "write".
	Op string `json:"op"`
	// Addr is the address accessed, as printed ("0x00c000012345").
	Addr string `json:"addr"`
	// Goroutine is the id of the goroutine that accessed it; the main
	// goroutine is 1.
	Goroutine int `json:"goroutine"`
	// Main is set when the access was "by main goroutine".
	Main bool `json:"main,omitempty"`
	// Stack is where the access happened, innermost frame first.
	Stack []Frame `json:"stack"`
}

// GoroutineOrigin is where a goroutine of a race report was created.
type GoroutineOrigin struct {
	// Goroutine is the goroutine's id.
	Goroutine int `json:"goroutine"`
	// State is "running" or "finished" at the time of the report.
	State string `json:"state"`
	// Created is the stack of its go statement, innermost frame first.
	Created []Frame `json:"created"`
}

// Frame is one function call of a stack trace.
type Frame struct {
	// Func is the function's full name ("main.main.func1",
	// "sync.(*Mutex).Lock").
	Func string `json:"func"`
	// File is the submitted file's name ("main.go") when the frame is in
	// one of the submitted files, else the path as printed.
	File string `json:"file"`
	// Line is the line in File.
	Line int `json:"line"`
	// User is set when File is one of the submitted files.
	User bool `json:"user,omitempty"`
}

// Goroutine is one goroutine of a dump (a timeout's SIGQUIT, a deadlock).
type Goroutine struct {
	// ID is the goroutine's id; the main goroutine is 1.
	ID int `json:"id"`
	// State is what it was doing ("chan receive", "select (no cases)",
	// "sync.Mutex.Lock", "sleep", "running", …), without the wait time or
	// ", locked to thread".
	State string `json:"state"`
	// Wait is how long it had been blocked, when the runtime says so
	// ("2 minutes").
	Wait string `json:"wait,omitempty"`
	// Stack is its call stack, innermost frame first; runtime and
	// standard-library frames are included (with User unset).
	Stack []Frame `json:"stack"`
	// Top is the innermost frame in the submitted files: where the
	// goroutine is stuck in the learner's code. It is nil when no frame
	// is.
	Top *Frame `json:"top,omitempty"`
	// Elsewhere is set when the runtime could not read the goroutine's
	// stack: it was running on another thread and did not stop in the
	// few milliseconds the runtime waits while it dumps ("goroutine
	// running on other thread; stack unavailable"). Stack is then empty.
	// Seen for an endless loop under gVisor on a busy host.
	Elsewhere bool `json:"elsewhere,omitempty"`
}

// Summary counts the outcomes of the runs of a repeated request.
type Summary struct {
	// Runs is how many executions finished.
	Runs int `json:"runs"`
	// Outputs counts each distinct stdout (trailing whitespace trimmed),
	// most frequent first, at most MaxOutcomes of them.
	Outputs []Outcome `json:"outputs"`
	// Others counts the runs whose output is not among Outputs.
	Others int `json:"others,omitempty"`
	// Reasons counts exit reasons.
	Reasons map[Reason]int `json:"reasons"`
	// Codes counts exit codes, keyed by the code in decimal.
	Codes map[string]int `json:"codes"`
	// Races is how many runs reported at least one data race.
	Races int `json:"races"`
	// Counted sums, over the runs, the lines of the form "label: N" they
	// printed (a litmus test's outcomes), most counted first, at most
	// MaxOutcomes labels.
	Counted []Counted `json:"counted,omitempty"`
	// Numbers holds the number each run printed, in run order, when
	// every run's output held exactly one (a racy counter's total); the
	// page shows their spread.
	Numbers []float64 `json:"numbers,omitempty"`
}

// Counted is one label of Summary.Counted and its sum over the runs.
type Counted struct {
	Label string `json:"label"`
	Count int64  `json:"count"`
}

// Verdict says whether a run showed what its lesson cell claims, judged
// by the same rules racelab check proves the lessons with.
type Verdict struct {
	// OK is set when the run showed everything the cell claims.
	OK bool `json:"ok"`
	// Claims are what the cell claims, each in words ("a data race is
	// reported").
	Claims []string `json:"claims"`
	// Missed are the claims the run did not show, each in words with
	// what happened instead and what to try ("expected a data race, none
	// was reported: press Race again, the detector sees only races that
	// happen").
	Missed []string `json:"missed,omitempty"`
}

// MaxOutcomes bounds Summary.Outputs, and MaxOutcomeBytes each output
// kept in it: a summary stays small whatever the runs print.
const (
	MaxOutcomes     = 20
	MaxOutcomeBytes = 1 << 10
)

// Outcome is one distinct output and how many runs printed it.
type Outcome struct {
	// Output is what the runs printed on stdout, trailing whitespace
	// trimmed, cut to MaxOutcomeBytes.
	Output string `json:"output"`
	// Truncated is set when Output was cut.
	Truncated bool `json:"truncated,omitempty"`
	// Count is how many runs printed it.
	Count int `json:"count"`
}

// Ends reports whether e is the last event of a run of req: an error
// (the request did not run, or its runner failed), a summary, or an exit
// when req does not repeat. A repeated request always ends with its
// summary after its last exit, also when it was stopped before any
// execution (its summary then counts no runs). Whoever passes a run's
// events on (the web tier, the remote client, the page) uses this rule.
func (e Event) Ends(req *Request) bool {
	switch e.Kind {
	case KindError, KindSummary:
		return true
	case KindExit:
		return req.Repeat <= 1
	}
	return false
}

// MarshalJSON writes only the fields of the event's kind; code appears
// on exit events even when it is 0. It leaves <, > and & as they are
// (events are data, never HTML), as JSON does.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	if e.Kind == KindExit {
		return marshal(plain(e))
	}
	type noCode struct {
		plain
		Code int `json:"code,omitempty"`
	}
	return marshal(noCode{plain: plain(e)})
}

// JSON encodes e as the wire carries it, one line without its newline:
// as MarshalJSON, and without the HTML escaping json.Marshal adds around
// it, so that a program's output costs on the wire what the output limit
// counts.
func (e Event) JSON() ([]byte, error) { return marshal(e) }

// marshal is json.Marshal without HTML escaping.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
