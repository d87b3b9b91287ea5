// Package check proves what lessons claim: it runs every cell through a
// sandbox.Runner and holds it to its expectations. For an exercise it
// proves both halves: the starting code fails its claims and the
// reference solution meets them. `racelab check` is its command, and an
// author's CI.
package check

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/racelab/racelab/lessons"
	"github.com/racelab/racelab/sandbox"
)

// Variant says which code of a cell was run.
type Variant string

// The variants: a plain cell, the two halves of an exercise, and its
// known-wrong solutions.
const (
	Plain    Variant = "cell"
	Start    Variant = "start"    // an exercise's starting code: must fail its claims
	Solution Variant = "solution" // an exercise's reference solution: must meet them
	Wrong    Variant = "wrong"    // a known-wrong solution: must fail them, like the starting code
)

// Result is the verdict on one run of a cell.
type Result struct {
	Cell    *lessons.Cell
	Variant Variant
	Pass    bool
	Wrong   int      // for Variant Wrong: the index in Cell.Wrong
	Unmet   []string // the claims not met (for Start and Wrong: empty means the mistake is not caught)
	Got     string   // what the run showed, in a few words
	Err     error    // the run could not be made at all
	Took    time.Duration
}

// Jobs lists what checking lib takes: one job per cell, and per exercise
// one for its starting code, one for its solution and one for each
// known-wrong solution.
func Jobs(lib *lessons.Library) []Job {
	var jobs []Job
	for _, l := range lib.Lessons() {
		for _, c := range l.Cells {
			if c.Exercise == "" {
				jobs = append(jobs, Job{Cell: c, Variant: Plain})
				continue
			}
			jobs = append(jobs, Job{Cell: c, Variant: Start}, Job{Cell: c, Variant: Solution})
			for i := range c.Wrong {
				jobs = append(jobs, Job{Cell: c, Variant: Wrong, Wrong: i})
			}
		}
	}
	return jobs
}

// Job is one run to make.
type Job struct {
	Cell    *lessons.Cell
	Variant Variant
	Wrong   int // for Variant Wrong: the index in Cell.Wrong
}

// rejects reports whether the job's code must fail the cell's claims.
func (j Job) rejects() bool { return j.Variant == Start || j.Variant == Wrong }

// Files returns the files the job runs: the cell's, with the solution's
// laid over them for the Solution variant.
func (j Job) Files() map[string]string {
	switch j.Variant {
	case Solution:
		return j.Cell.SolutionFileMap()
	case Wrong:
		return j.Cell.WrongFileMap(j.Wrong)
	}
	return j.Cell.FileMap()
}

// Run runs the job and judges it. A known-wrong solution given tries=N,
// or the starting code of an exercise given tries=N, is run up to N
// times, until the check rejects it.
func (j Job) Run(ctx context.Context, r sandbox.Runner) Result {
	tries := 1
	switch j.Variant {
	case Wrong:
		tries = max(j.Cell.Wrong[j.Wrong].Tries, 1)
	case Start:
		tries = max(j.Cell.Tries, 1)
	}
	if tries == 1 {
		return j.runOnce(ctx, r)
	}
	var took time.Duration
	for try := 1; ; try++ {
		res := j.runOnce(ctx, r)
		took += res.Took
		res.Took = took
		switch {
		case res.Err != nil || ctx.Err() != nil:
			return res
		case res.Pass:
			res.Got += fmt.Sprintf("; rejected in try %d of %d", try, tries)
			return res
		case try == tries:
			res.Got += fmt.Sprintf("; accepted in all %d tries", tries)
			return res
		}
	}
}

// runOnce runs the job's code once and judges it.
func (j Job) runOnce(ctx context.Context, r sandbox.Runner) Result {
	start := time.Now()
	req := &sandbox.Request{Files: j.Files(), Mode: sandbox.Mode(j.Cell.Mode), GOMAXPROCS: j.Cell.GOMAXPROCS, Repeat: j.Cell.Repeat, GOARCH: j.Cell.GOARCH,
		Trace: j.Cell.Trace}
	if req.Mode == "" {
		req.Mode = sandbox.ModeRun
	}
	o := NewObserved()
	err := r.Run(ctx, req, o.Add)
	res := Result{Cell: j.Cell, Variant: j.Variant, Wrong: j.Wrong, Took: time.Since(start)}
	if err != nil {
		res.Err = err
		res.Got = "the run failed: " + err.Error()
		return res
	}
	res.Unmet = Unmet(j.Cell.Expect, o)
	res.Got = o.describe()
	if j.Variant == Wrong && o.buildFailed() {
		// A mistake the compiler catches needs no check: the wrong
		// solution must build, so that its rejection is the check's.
		res.Got += "; a wrong solution must build"
		return res
	}
	if j.rejects() {
		res.Pass = len(res.Unmet) > 0
	} else {
		res.Pass = len(res.Unmet) == 0
	}
	return res
}

// Unmet returns each expectation the observed runs do not meet, in words.
func Unmet(expects []lessons.Expect, o *Observed) []string {
	var unmet []string
	for _, e := range expects {
		if !o.meets(e) {
			unmet = append(unmet, e.String())
		}
	}
	return unmet
}

// Observed is everything a request's runs showed.
type Observed struct {
	runs  []*runOut // in order; a request that never ran has one, with its exit
	asm   []sandbox.AsmLine
	build string            // the build step's own stderr (diagnostics)
	tl    *sandbox.Timeline // the traced run's timeline, if any
}

type runOut struct {
	stdout, stderr strings.Builder
	exit           *sandbox.Event
}

// NewObserved returns an Observed of no event yet.
func NewObserved() *Observed { return &Observed{} }

// run returns the output of run i (events of an unrepeated request, and
// the build's, carry 0).
func (o *Observed) run(i int) *runOut {
	if i < 1 {
		i = 1
	}
	for len(o.runs) < i {
		o.runs = append(o.runs, &runOut{})
	}
	return o.runs[i-1]
}

// Add takes in one event of the request's runs.
func (o *Observed) Add(e sandbox.Event) {
	switch e.Kind {
	case sandbox.KindStdout:
		o.run(e.Run).stdout.WriteString(e.Data)
	case sandbox.KindStderr:
		o.run(e.Run).stderr.WriteString(e.Data)
	case sandbox.KindExit:
		ev := e
		o.run(e.Run).exit = &ev
	case sandbox.KindAsm:
		o.asm = append(o.asm, e.Lines...)
	case sandbox.KindTimeline:
		o.tl = e.Timeline
	}
}

// meets reports whether the runs meet e.
func (o *Observed) meets(e lessons.Expect) bool {
	switch e.Kind {
	case "race":
		return o.any(func(r *runOut) bool { return hasRace(r) })
	case "no-race":
		return !o.any(func(r *runOut) bool { return hasRace(r) })
	case "output":
		return o.every(func(r *runOut) bool { return trim(r.stdout.String()) == trim(e.Value) })
	case "output-match":
		re := e.Regexp()
		return o.every(func(r *runOut) bool { return re.MatchString(r.stdout.String()) })
	case "some-output":
		re := e.Regexp()
		return o.any(func(r *runOut) bool { return re.MatchString(r.stdout.String()) })
	case "no-output":
		re := e.Regexp()
		return o.every(func(r *runOut) bool { return !re.MatchString(r.stdout.String()) })
	case "outputs":
		n := 0
		fmt.Sscan(e.Value, &n)
		return o.distinct() >= n
	case "stderr":
		re := e.Regexp()
		return o.every(func(r *runOut) bool { return re.MatchString(r.stderr.String()) })
	case "deadlock":
		return o.every(func(r *runOut) bool {
			return strings.Contains(r.stderr.String(), "all goroutines are asleep - deadlock!")
		})
	case "timeout":
		return o.every(func(r *runOut) bool { return r.exit != nil && r.exit.Reason == sandbox.ReasonTimeout })
	case "exit":
		return o.every(func(r *runOut) bool {
			return r.exit != nil && fmt.Sprint(r.exit.Code) == e.Value && r.exit.Reason != sandbox.ReasonBuildFailed
		})
	case "compile-error":
		return o.every(func(r *runOut) bool { return r.exit != nil && r.exit.Reason == sandbox.ReasonBuildFailed })
	case "asm":
		re := e.Regexp()
		for _, l := range o.asm {
			if re.MatchString(l.Text) {
				return true
			}
		}
		return false
	case "edge":
		return o.hasEdge(e)
	}
	return false
}

// hasEdge reports whether the timeline shows the edge e claims.
func (o *Observed) hasEdge(e lessons.Expect) bool {
	want, err := lessons.ParseEdge(e.Value)
	if err != nil || o.tl == nil {
		return false
	}
	for _, te := range o.tl.Edges {
		if te.FromAt != nil && te.ToAt != nil && want.Matches(te.FromOp, te.FromAt.Line, te.ToOp, te.ToAt.Line) {
			return true
		}
	}
	return false
}

// edges says which edges the timeline shows, as edge= writes them.
func (o *Observed) edges() string {
	if o.tl == nil {
		return "no timeline came"
	}
	if len(o.tl.Edges) == 0 {
		return "the timeline shows no edge" + cutNote(o.tl)
	}
	// Each edge once, the first few of them: a lock taken in turns
	// hands over hundreds of times at the same two lines.
	const shown = 6
	var s []string
	for _, te := range o.tl.Edges {
		line := func(p *sandbox.TracePos) string {
			if p == nil {
				return "?"
			}
			return fmt.Sprint(p.Line)
		}
		if e := te.FromOp + "@" + line(te.FromAt) + "->" + te.ToOp + "@" + line(te.ToAt); !slices.Contains(s, e) {
			s = append(s, e)
		}
	}
	if len(s) > shown {
		s = append(s[:shown], "…")
	}
	return "the timeline shows " + strings.Join(s, ", ") + cutNote(o.tl)
}

// cutNote is a timeline's cut, as a clause.
func cutNote(tl *sandbox.Timeline) string {
	if tl.Cut == "" {
		return ""
	}
	return " (" + tl.Cut + ")"
}

// every reports whether f holds for every run, and there was one.
func (o *Observed) every(f func(*runOut) bool) bool {
	if len(o.runs) == 0 {
		return false
	}
	for _, r := range o.runs {
		if !f(r) {
			return false
		}
	}
	return true
}

func (o *Observed) any(f func(*runOut) bool) bool {
	for _, r := range o.runs {
		if f(r) {
			return true
		}
	}
	return false
}

func (o *Observed) distinct() int {
	seen := map[string]bool{}
	for _, r := range o.runs {
		seen[trim(r.stdout.String())] = true
	}
	return len(seen)
}

// buildFailed reports whether the build failed.
func (o *Observed) buildFailed() bool {
	return o.any(func(r *runOut) bool { return r.exit != nil && r.exit.Reason == sandbox.ReasonBuildFailed })
}

func hasRace(r *runOut) bool { return strings.Contains(r.stderr.String(), "WARNING: DATA RACE") }

func trim(s string) string { return strings.TrimRight(s, " \t\r\n") }

// describe says in a few words what the runs showed.
func (o *Observed) describe() string {
	if len(o.runs) == 0 {
		return "no exit event"
	}
	if len(o.runs) == 1 {
		r := o.runs[0]
		if r.exit == nil {
			return "no exit event"
		}
		s := fmt.Sprintf("%s %d", r.exit.Reason, r.exit.Code)
		if hasRace(r) {
			s += ", race"
		}
		if out := firstLine(r.stdout.String()); out != "" {
			s += fmt.Sprintf(", stdout %q", out)
		}
		if len(o.asm) > 0 {
			s += fmt.Sprintf(", %d asm lines", len(o.asm))
		}
		if o.tl != nil {
			s += ", " + o.edges()
		}
		return s
	}
	races := 0
	reasons := map[sandbox.Reason]int{}
	for _, r := range o.runs {
		if hasRace(r) {
			races++
		}
		if r.exit != nil {
			reasons[r.exit.Reason]++
		}
	}
	var rs []string
	for _, k := range slices.Sorted(maps.Keys(reasons)) {
		rs = append(rs, fmt.Sprintf("%s×%d", k, reasons[k]))
	}
	return fmt.Sprintf("%d runs (%s), %d with a race, %d distinct outputs", len(o.runs), strings.Join(rs, " "), races, o.distinct())
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimLeft(s, "\n"), "\n")
	if len(line) > 40 {
		line = line[:37] + "..."
	}
	return line
}
