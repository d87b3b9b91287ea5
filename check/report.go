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

// All runs jobs, at most parallel at once, and prints one line per job to
// w in the jobs' order as soon as it and those before it are done, then
// the summary line "N passed, M failed". It returns the failed count.
func All(ctx context.Context, r sandbox.Runner, jobs []Job, parallel int, w io.Writer) int {
	results := make([]*Result, len(jobs))
	var mu sync.Mutex
	next, passed, failed := 0, 0, 0
	var g errgroup.Group
	g.SetLimit(parallel)
	for i, j := range jobs {
		g.Go(func() error {
			res := j.Run(ctx, r)
			mu.Lock()
			defer mu.Unlock()
			results[i] = &res
			for next < len(results) && results[next] != nil {
				if results[next].Pass {
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
	g.Wait()
	fmt.Fprintf(w, "%d passed, %d failed\n", passed, failed)
	return failed
}

// Line is the report line of one result: verdict, lesson, cell, mode,
// what was expected, what was got, and the time it took.
func Line(res *Result) string {
	verdict := "PASS"
	if !res.Pass {
		verdict = "FAIL"
	}
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
	switch res.Variant {
	case Start:
		want = "not (" + want + ")"
	}
	line := fmt.Sprintf("%s  %-28s %-9s %-9s expected %s; got %s  (%.2fs)",
		verdict, c.ID, res.Variant, mode, quote(want), res.Got, res.Took.Seconds())
	if !res.Pass && len(res.Unmet) > 0 && res.Variant != Start {
		line += "\n      unmet: " + strings.Join(res.Unmet, "; ")
	}
	if !res.Pass && res.Variant == Start {
		line += "\n      the starting code meets every claim: the exercise shows no bug to fix"
	}
	return line
}

func quote(s string) string {
	s = strings.ReplaceAll(s, "\n", `\n`)
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
