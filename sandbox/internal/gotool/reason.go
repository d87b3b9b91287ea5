package gotool

import (
	"fmt"
	"time"

	"github.com/racelab/racelab/sandbox"
)

// Explain says in a sentence a learner can read why a run ended.
func Explain(r sandbox.Reason, code int, mode sandbox.Mode, l sandbox.Limits) string {
	switch r {
	case sandbox.ReasonExited:
		if code == sandbox.RaceExitCode && (mode == sandbox.ModeRace || mode == sandbox.ModeTest) {
			return fmt.Sprintf("The program exited with status %d: the race detector found a data race.", code)
		}
		if code == 2 && mode.RunsProgram() {
			return "The program exited with status 2, which is what a Go panic or fatal error (such as a deadlock) does."
		}
		return fmt.Sprintf("The program exited with status %d.", code)
	case sandbox.ReasonBuildFailed:
		return "The build failed, so nothing ran. The errors above point at the lines to fix."
	case sandbox.ReasonTimeout:
		return fmt.Sprintf("The program was still running after %s and was stopped. The goroutine dump above shows where each goroutine was waiting.", round(l.RunTimeout))
	case sandbox.ReasonMemory:
		return fmt.Sprintf("The program used more than the %d MiB of memory it may use and was stopped.", l.MemoryFor(mode)>>20)
	case sandbox.ReasonOutput:
		return fmt.Sprintf("The program printed more than %d KiB and was stopped; only the first %d KiB are shown.", l.OutputFor(mode)>>10, l.OutputFor(mode)>>10)
	case sandbox.ReasonKilled:
		return fmt.Sprintf("The program was killed by a signal (exit status %d).", code)
	case sandbox.ReasonCanceled:
		return "The run was stopped before it finished."
	}
	return ""
}

// ExplainBuild says why a build step was stopped.
func ExplainBuild(r sandbox.Reason, mode sandbox.Mode, l sandbox.Limits) string {
	if mode == sandbox.ModeFmt {
		return explainFmt(r, l)
	}
	switch r {
	case sandbox.ReasonTimeout:
		return fmt.Sprintf("The build took longer than %s and was stopped. Very large literals or generated code can do that.", round(l.BuildTimeout))
	case sandbox.ReasonMemory:
		return fmt.Sprintf("The compiler needed more than the %d MiB of memory a build may use and was stopped. Very large literals or arrays can do that.", l.MemoryFor(mode)>>20)
	case sandbox.ReasonOutput:
		return fmt.Sprintf("The build printed more than %d KiB and was stopped.", l.OutputFor(mode)>>10)
	}
	return Explain(r, 0, mode, l)
}

// explainFmt says why formatting was stopped.
func explainFmt(r sandbox.Reason, l sandbox.Limits) string {
	switch r {
	case sandbox.ReasonTimeout:
		return fmt.Sprintf("Formatting took longer than %s and was stopped. Very long expressions can do that.", round(l.BuildTimeout))
	case sandbox.ReasonMemory:
		return fmt.Sprintf("Formatting needed more than the %d MiB of memory it may use and was stopped. Very deeply nested code can do that.", l.MemoryBytes>>20)
	}
	return Explain(r, 0, sandbox.ModeFmt, l)
}

func round(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

// BudgetSpent explains repeats stopped by the request's time budget after
// n of repeat runs (n counts a run cut short by it).
func BudgetSpent(n, repeat int, l sandbox.Limits) string {
	return fmt.Sprintf("All the runs of one request may take %s together; that time ran out in run %d of %d, so the rest did not run.",
		round(l.RequestTimeout), n, repeat)
}

// VetMessage explains how go vet ended.
func VetMessage(status int) string {
	if status == 0 {
		return "go vet found no problems."
	}
	return fmt.Sprintf("go vet found problems (status %d); each is marked on its line.", status)
}

// AsmCut explains an asm listing cut at n lines.
func AsmCut(n int, l sandbox.Limits) string {
	return fmt.Sprintf("The assembly listing is longer than the asm output limit (%d KiB): it was cut after %d lines.", l.AsmOutputBytes>>10, n)
}

// The messages of a fmt run's exit.
const (
	FmtMessage = "The files are formatted."
	FmtFailed  = "The files do not parse, so they cannot be formatted; the errors point at the lines to fix."
)

// FmtBroke explains a formatter that failed without pointing at a line.
func FmtBroke(status int) string {
	return fmt.Sprintf("The formatter failed (status %d) without pointing at a line of yours; what it printed is above. Formatting again may work.", status)
}

// FmtTooLarge explains formatted files over the output limit.
func FmtTooLarge(l sandbox.Limits) string {
	return fmt.Sprintf("The formatted files are larger than the output limit (%d KiB), so they are not sent back.", l.OutputBytes>>10)
}

// AsmMessage ends a successful asm run.
const AsmMessage = "The assembly listing of your package is above; nothing ran."
