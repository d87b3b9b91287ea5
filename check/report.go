package check

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/racelab/racelab/sandbox"
)

// Options say how All runs the jobs.
type Options struct {
	// Parallel is how many runs are made at once, at least 1.
	Parallel int
	// Count is how many times each job is run, at least 1: a job passes
	// only when every one of its runs passes. Claims about what a race
	// does, and wrong solutions that a check must reject, are only as
	// good as their worst run.
	Count int
}

// All runs each job opt.Count times, at most opt.Parallel runs at once,
// and prints one line per job to w in the jobs' order as soon as all its
// runs and those of the jobs before it are done, then the summary line
// "N passed, M failed". It returns the failed count.
func All(ctx context.Context, r sandbox.Runner, jobs []Job, opt Options, w io.Writer) int {
	count := max(opt.Count, 1)
	results := make([][]*Result, len(jobs))
	for i := range results {
		results[i] = make([]*Result, 0, count)
	}
	var mu sync.Mutex
	next, passed, failed := 0, 0, 0
	var g errgroup.Group
	g.SetLimit(max(opt.Parallel, 1))
	for i, j := range jobs {
		for range count {
			g.Go(func() error {
				res := j.Run(ctx, r)
				mu.Lock()
				defer mu.Unlock()
				results[i] = append(results[i], &res)
				for next < len(results) && len(results[next]) == count {
					if allPass(results[next]) {
						passed++
					} else {
						failed++
					}
					fmt.Fprintln(w, Line(results[next]))
					next++
				}
				return nil
			})
		}
	}
	g.Wait()
	fmt.Fprintf(w, "%d passed, %d failed\n", passed, failed)
	return failed
}

func allPass(runs []*Result) bool {
	for _, res := range runs {
		if !res.Pass {
			return false
		}
	}
	return true
}

// Line is the report line of one job's runs: verdict, lesson, cell, mode,
// what was expected, what was got (by the first failing run, or the first
// run when all passed), and the time each run took. A job of several
// runs passes only when every run passed.
func Line(runs []*Result) string {
	shown, passes := runs[0], 0
	for _, res := range runs {
		if res.Pass {
			passes++
		} else if shown.Pass {
			shown = res
		}
	}
	verdict := "PASS"
	if passes < len(runs) {
		verdict = "FAIL"
	}
	res := shown
	c := res.Cell
	mode := c.Mode
	if mode == "" {
		mode = "run"
	}
	if c.Repeat > 1 {
		mode += fmt.Sprintf("×%d", c.Repeat)
	}
	var exp []string
	for _, e := range c.Expect {
		exp = append(exp, e.String())
	}
	want := strings.Join(exp, ", ")
	variant := string(res.Variant)
	if res.Variant == Start || res.Variant == Wrong {
		want = "not (" + want + ")"
	}
	if res.Variant == Wrong {
		variant = fmt.Sprintf("wrong-%d", res.Wrong+1)
	}
	line := fmt.Sprintf("%s  %-28s %-9s %-9s expected %s; got %s  %s",
		verdict, c.ID, variant, mode, quote(want), res.Got, times(runs, passes))
	if res.Pass {
		return line
	}
	switch {
	case res.Variant == Start && res.Err == nil && len(res.Unmet) == 0:
		line += "\n      the starting code meets every claim: the exercise shows no bug to fix"
	case res.Variant == Wrong && res.Err == nil && len(res.Unmet) == 0:
		line += fmt.Sprintf("\n      the check accepts a known-wrong solution (%s:%d): %s", c.File, c.Wrong[res.Wrong].Line, c.Wrong[res.Wrong].Why)
	case res.Variant == Wrong && len(res.Unmet) > 0:
		// It was rejected, but by the build: see Got.
	case len(res.Unmet) > 0:
		line += "\n      unmet: " + strings.Join(res.Unmet, "; ")
	}
	return line
}

// times is the end of a report line: "(1.01s)" for one run, and for
// several how many passed and each run's time in the order they ended,
// a failed one marked "✗": "(4/5 passed: 1.01s 0.98s ✗1.20s 1.00s 0.99s)".
func times(runs []*Result, passes int) string {
	if len(runs) == 1 {
		return fmt.Sprintf("(%.2fs)", runs[0].Took.Seconds())
	}
	var ts []string
	for _, res := range runs {
		mark := ""
		if !res.Pass {
			mark = "✗"
		}
		ts = append(ts, fmt.Sprintf("%s%.2fs", mark, res.Took.Seconds()))
	}
	return fmt.Sprintf("(%d/%d passed: %s)", passes, len(runs), strings.Join(ts, " "))
}

func quote(s string) string {
	s = strings.ReplaceAll(s, "\n", `\n`)
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
