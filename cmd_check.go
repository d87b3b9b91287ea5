package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"

	"github.com/racelab/racelab/check"
	"github.com/racelab/racelab/lessons"
)

// checkConfig is racelab check: which lessons and cells to hold to their
// claims, in which sandbox.
type checkConfig struct {
	backend backendFlags
	dir     string
	only    string
	count   int
	filter  *regexp.Regexp
}

// maxCheckCount bounds --count: a thousand runs of each cell is far past
// any claim's need and already hours of work.
const maxCheckCount = 1000

func checkFlags(fs *flag.FlagSet) config {
	c := &checkConfig{}
	fs.StringVar(&c.dir, "lessons", "", "check the lessons in `dir` instead of the built-in ones")
	fs.StringVar(&c.only, "cell", "", "check only the cells whose id matches this `regexp`")
	fs.IntVar(&c.count, "count", 1, "run every chosen cell, solution and wrong solution `n` times; each passes only if all n runs pass")
	c.backend.register(fs)
	return c
}

func (c *checkConfig) check(args []string) error {
	if err := c.backend.check(); err != nil {
		return err
	}
	if c.count < 1 || c.count > maxCheckCount {
		return fmt.Errorf("-count %d: use 1 to %d", c.count, maxCheckCount)
	}
	filter, err := regexp.Compile(c.only)
	if err != nil {
		return fmt.Errorf("-cell: %v", err)
	}
	c.filter = filter
	return nil
}

// run runs every chosen cell of the lessons and holds it to its claims;
// any failure is exit status 1.
func (c *checkConfig) run(ctx context.Context, stdout, stderr io.Writer) error {
	lessonFS := lessons.Builtin()
	if c.dir != "" {
		lessonFS = os.DirFS(c.dir)
	}
	lib, err := lessons.Load(lessonFS)
	if err != nil {
		return err
	}
	var jobs []check.Job
	for _, j := range check.Jobs(lib) {
		if c.filter.MatchString(j.Cell.ID) {
			jobs = append(jobs, j)
		}
	}
	runner, closeRunner, err := c.backend.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer closeRunner()
	parallel := c.backend.parallel
	if parallel <= 0 {
		parallel = runtime.NumCPU()
	}
	if check.All(ctx, runner, jobs, check.Options{Parallel: parallel, Count: c.count}, stdout) > 0 {
		return exitStatus(1)
	}
	return nil
}
