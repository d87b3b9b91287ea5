package check

import (
	"fmt"
	"strings"

	"github.com/racelab/racelab/lessons"
	"github.com/racelab/racelab/sandbox"
)

// Judge says whether the observed runs showed what cell claims, by the
// rules racelab check holds the lessons to: the verdict a learner sees
// after pressing Run. Each claim comes in words, and each one missed with
// what happened instead and what to try.
func Judge(cell *lessons.Cell, o *Observed) sandbox.Verdict {
	v := sandbox.Verdict{OK: true, Claims: []string{}}
	for _, e := range cell.Expect {
		v.Claims = append(v.Claims, e.Words())
		if !o.meets(e) {
			v.OK = false
			v.Missed = append(v.Missed, o.missed(e))
		}
	}
	return v
}

// Applies reports whether a request is a run of cell the lesson's claims
// are about: the cell's mode and repeat count (a learner who pressed Race
// on a run-mode cell, or ran it once where the lesson runs it twenty
// times, or asks for another architecture's assembly, asks something
// else), and its trace: a traced cell's claims are about a traced run,
// and a run traced where the cell is not is not the cell's.
func Applies(cell *lessons.Cell, req *sandbox.Request) bool {
	mode := sandbox.Mode(cell.Mode)
	if mode == "" {
		mode = sandbox.ModeRun
	}
	return len(cell.Expect) > 0 && req.Mode == mode && req.Repeat == max(cell.Repeat, 1) &&
		archOf(req.GOARCH) == archOf(cell.GOARCH) && req.Trace == cell.Trace
}

// archOf returns the architecture an asm request or cell compiles for:
// "" stands for amd64, the default.
func archOf(goarch string) string {
	if goarch == "" {
		return "amd64"
	}
	return goarch
}

// missed says in words how the runs missed e, and what to try.
func (o *Observed) missed(e lessons.Expect) string {
	switch e.Kind {
	case "race":
		return "The lesson says a data race is reported, but none was. Run it again (or repeat it): the race detector sees only the races that happen while it watches."
	case "no-race":
		return "The lesson says there is no data race, but the race detector reported one: see the report on your lines."
	case "output", "output-match":
		return fmt.Sprintf("The lesson says %s, but %s.", e.Words(), o.printed())
	case "some-output":
		return fmt.Sprintf("The lesson says %s, but none did. Run it again: what happens is up to the scheduler.", e.Words())
	case "edge":
		return fmt.Sprintf("The lesson says %s, but %s. Run it again: which goroutine waits and which one wakes it is up to the scheduler.", e.Words(), o.edges())
	case "no-output":
		return fmt.Sprintf("The lesson says %s, but %s did.", e.Words(), o.matching(e))
	case "outputs":
		return fmt.Sprintf("The lesson says %s, but there were %d. Run it again, or repeat it more: what happens is up to the scheduler.", e.Words(), o.distinct())
	}
	return fmt.Sprintf("The lesson says %s, but %s.", e.Words(), o.ended())
}

// matching says how many of the runs printed output matching e's
// regular expression: "run 3" or "4 of the 10 runs".
func (o *Observed) matching(e lessons.Expect) string {
	re := e.Regexp()
	var runs []int
	for i, r := range o.runs {
		if re.MatchString(r.stdout.String()) {
			runs = append(runs, i+1)
		}
	}
	if len(runs) == 1 {
		return fmt.Sprintf("run %d", runs[0])
	}
	return fmt.Sprintf("%d of the %d runs", len(runs), len(o.runs))
}

// printed says what the runs printed, the first that differs.
func (o *Observed) printed() string {
	if len(o.runs) == 0 {
		return "nothing ran"
	}
	out := trim(o.runs[0].stdout.String())
	if out == "" {
		return "it printed nothing"
	}
	if len(out) > 120 {
		out = out[:117] + "…"
	}
	return "it printed “" + strings.ReplaceAll(out, "\n", " ⏎ ") + "”"
}

// ended says how the (first) run ended.
func (o *Observed) ended() string {
	if len(o.runs) == 0 || o.runs[0].exit == nil {
		return "nothing ran"
	}
	x := o.runs[0].exit
	switch x.Reason {
	case sandbox.ReasonExited:
		return fmt.Sprintf("it exited with status %d", x.Code)
	case sandbox.ReasonBuildFailed:
		return "it did not build"
	case sandbox.ReasonTimeout:
		return "the time limit stopped it"
	}
	return "it ended: " + string(x.Reason)
}
