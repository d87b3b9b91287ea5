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

// cmdCheck runs every cell of the lessons and holds it to its claims.
func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("racelab check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var backend backendFlags
	dir := fs.String("lessons", "", "check the lessons in `dir` instead of the built-in ones")
	only := fs.String("cell", "", "check only the cells whose id matches this `regexp`")
	backend.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: racelab check [flags]\n\nRun every cell of the lessons in the sandbox and verify what each claims.\nPrints one line per cell and \"N passed, M failed\"; exit status 1 on any failure.\n\nflags:\n")
		printDefaults(fs.Output(), fs)
	}
	if code, ok := parseFlags(fs, args, &backend); !ok {
		return code
	}
	filter, err := regexp.Compile(*only)
	if err != nil {
		fmt.Fprintf(stderr, "racelab check: -cell: %v\n", err)
		return 2
	}
	lessonFS := lessons.Builtin()
	if *dir != "" {
		lessonFS = os.DirFS(*dir)
	}
	lib, err := lessons.Load(lessonFS)
	if err != nil {
		fmt.Fprintf(stderr, "racelab check: %v\n", err)
		return 1
	}
	var jobs []check.Job
	for _, j := range check.Jobs(lib) {
		if filter.MatchString(j.Cell.ID) {
			jobs = append(jobs, j)
		}
	}
	runner, closeRunner, err := backend.open(ctx, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "racelab check: %v\n", err)
		return 1
	}
	defer closeRunner()
	parallel := backend.parallel
	if parallel <= 0 {
		parallel = runtime.NumCPU()
	}
	if check.All(ctx, runner, jobs, parallel, stdout) > 0 {
		return 1
	}
	return 0
}
