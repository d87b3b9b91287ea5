package driver

import (
	"strings"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/internal/gotool"
)

// BuildResult is how a build step ended, as its backend measured it.
type BuildResult struct {
	// Stopped is why racelab stopped the build (timeout, output-limit,
	// canceled), or "" when it ended by itself.
	Stopped sandbox.Reason
	// Status is the go command's exit status, when it ended by itself.
	Status int
	// Code is the exit status of what the backend ran (the go command, or
	// the container around it); 128+N after signal N.
	Code int
	// Output is what the go command printed, cut at the mode's output
	// limit; Truncated says it was cut.
	Output    string
	Truncated bool
	// MemoryHit is set when the memory limit was reached during the build.
	MemoryHit bool
	// Binary is the host path of the program a build that succeeded made,
	// when the backend kept it (for the binary cache); "" otherwise.
	Binary string
	// Cached is set when the program was built earlier (the binary
	// cache): no build ran now.
	Cached bool
	// Files are the formatted files of a fmt build that succeeded, read
	// back within the output limit; FilesCut says they were over it.
	Files    map[string]string
	FilesCut bool
	// Ms is the build's wall time, StartMs the part of it spent starting a
	// container; CPUMs and PeakBytes what it used.
	Ms, StartMs, CPUMs, PeakBytes int64
}

// RunResult is how one execution of the program ended, as its backend
// measured it.
type RunResult struct {
	// Stopped is why racelab stopped the program (timeout, output-limit,
	// canceled), or "" when it ended by itself.
	Stopped sandbox.Reason
	// Code is its exit status; 128+N after signal N.
	Code int
	// Signaled is set when a signal ended it.
	Signaled bool
	// MemoryHit is set when the memory limit was reached while it ran.
	MemoryHit bool
	// CPUMs and PeakBytes are what it used.
	CPUMs, PeakBytes int64
	// OverBudget is set when it was stopped because the runs of its
	// request spent their time budget together (then Stopped is timeout).
	OverBudget bool
}

// sigkill is the exit status of a process ended by SIGKILL, as the
// kernel's OOM killer does.
const sigkill = 128 + 9

// AfterBuild says what the end of a build step means: the events to emit
// (the build event, or the diagnostics, the assembly listing or vet's
// report, and the exit event) and whether the program runs next. run is
// the run number of execution 1 and dir the directory the sources were
// built in.
func AfterBuild(b BuildResult, mode sandbox.Mode, l sandbox.Limits, run int, dir string) (evs []sandbox.Event, runs bool) {
	emit := func(e sandbox.Event) { evs = append(evs, e) }
	exit := sandbox.Event{Kind: sandbox.KindExit, Run: run, Ms: b.Ms, Code: b.Code, Reason: b.Stopped,
		CPUMs: b.CPUMs, PeakBytes: b.PeakBytes}
	if exit.Reason == "" && b.MemoryHit && b.Status != 0 &&
		(b.Status == sigkill || strings.Contains(b.Output, "signal: killed") || len(gotool.Diagnostics(b.Output)) == 0) {
		// The compiler (or gcc) was killed for memory: the go command
		// reports a bare "signal: killed", and the limit was reached; a
		// tool run directly (gofmt) ends with SIGKILL's status. On gVisor
		// a tool at the limit may end otherwise (its kernel refuses the
		// memory: "fatal error: runtime: out of memory", status 2): a
		// failure with no line to point at, at the limit, is the limit.
		exit.Reason = sandbox.ReasonMemory
	}
	switch {
	case exit.Reason != "":
		exit.Msg = gotool.ExplainBuild(exit.Reason, mode, l)
	case mode == sandbox.ModeFmt:
		formatted(emit, &exit, b, l)
	case mode == sandbox.ModeVet:
		gotool.EmitDiagnostics(emit, b.Output, b.Truncated)
		exit.Reason, exit.Code, exit.Msg = sandbox.ReasonExited, b.Status, gotool.VetMessage(b.Status)
	case b.Status != 0:
		gotool.EmitDiagnostics(emit, b.Output, b.Truncated)
		exit.Reason, exit.Code = sandbox.ReasonBuildFailed, b.Status
		exit.Msg = gotool.Explain(exit.Reason, exit.Code, mode, l)
	case mode == sandbox.ModeAsm:
		lines, cut := gotool.AsmLines(b.Output, dir, l.AsmOutputBytes)
		emit(sandbox.Event{Kind: sandbox.KindAsm, Lines: lines})
		exit.Reason, exit.Code, exit.Msg = sandbox.ReasonExited, 0, gotool.AsmMessage
		if b.Truncated || cut {
			exit.Reason, exit.Msg = sandbox.ReasonOutput, gotool.AsmCut(len(lines), l)
		}
	default:
		return built(b, run, l), true
	}
	return append(evs, exit), false
}

// formatted emits what a fmt build did and completes its exit event: the
// formatted files, or the reason there are none.
func formatted(emit func(sandbox.Event), exit *sandbox.Event, b BuildResult, l sandbox.Limits) {
	switch {
	case b.Status != 0:
		gotool.EmitDiagnostics(emit, b.Output, b.Truncated)
		exit.Reason, exit.Code, exit.Msg = sandbox.ReasonBuildFailed, b.Status, gotool.FmtFailed
		if len(gotool.Diagnostics(b.Output)) == 0 {
			exit.Msg = gotool.FmtBroke(b.Status)
		}
	case b.FilesCut:
		exit.Reason, exit.Code, exit.Msg = sandbox.ReasonOutput, 0, gotool.FmtTooLarge(l)
	default:
		emit(sandbox.Event{Kind: sandbox.KindFmt, Files: b.Files})
		exit.Reason, exit.Code, exit.Msg = sandbox.ReasonExited, 0, gotool.FmtMessage
	}
}

// built is the events of a build that succeeded: the build event, and
// what the build printed that the learner should see.
func built(b BuildResult, run int, l sandbox.Limits) []sandbox.Event {
	evs := []sandbox.Event{{Kind: sandbox.KindBuild, Ms: b.Ms, StartMs: b.StartMs, Cached: b.Cached,
		TimeoutMs: l.RunTimeout.Milliseconds()}}
	if text := gotool.QuietBuild(b.Output); text != "" {
		evs = append(evs, sandbox.Event{Kind: sandbox.KindStderr, Run: run, Data: text, TMs: b.Ms})
	}
	return evs
}

// ExitEvent is the exit event of an execution that ended as r says, tagged
// with run and lasting ms.
func ExitEvent(r RunResult, run int, ms int64, mode sandbox.Mode, l sandbox.Limits) sandbox.Event {
	ev := sandbox.Event{Kind: sandbox.KindExit, Run: run, Ms: ms, Code: r.Code, Reason: r.Stopped,
		CPUMs: r.CPUMs, PeakBytes: r.PeakBytes}
	switch {
	case ev.Reason != "":
	case r.MemoryHit && r.Code == sigkill:
		// A SIGKILL racelab did not send, with the limit reached: the
		// kernel's OOM killer.
		ev.Reason = sandbox.ReasonMemory
	case r.Signaled:
		ev.Reason = sandbox.ReasonKilled
	default:
		ev.Reason = sandbox.ReasonExited
	}
	ev.Msg = gotool.Explain(ev.Reason, ev.Code, mode, l)
	return ev
}
