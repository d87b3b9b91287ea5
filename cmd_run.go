package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/racelab/racelab/sandbox"
)

// runConfig is racelab run: the request its flags and files make.
type runConfig struct {
	req     sandbox.Request
	mode    string
	json    bool
	backend backendFlags
}

func runFlags(fs *flag.FlagSet) config {
	c := &runConfig{}
	fs.StringVar(&c.mode, "mode", "run", "what to do: run, race, asm, test, bench, vet or fmt")
	fs.IntVar(&c.req.GOMAXPROCS, "gomaxprocs", 0, "GOMAXPROCS of the program (0: Go's default)")
	fs.IntVar(&c.req.Repeat, "repeat", 1, "run the built program `N` times, each in a fresh container")
	fs.BoolVar(&c.req.Trace, "trace", false, "run with Go's execution tracer on and print the timeline (run mode, one run)")
	fs.BoolVar(&c.json, "json", false, "print the events as JSON, one per line, exactly as the wire protocol")
	c.backend.register(fs)
	return c
}

// check reads the files into the request and checks it: bad input is
// refused before any sandbox starts.
func (c *runConfig) check(args []string) error {
	if err := c.backend.check(); err != nil {
		return err
	}
	files, err := readFiles(args, c.backend.limits.MaxSourceBytes)
	if err != nil {
		return err
	}
	c.req.Mode, c.req.Files = sandbox.Mode(c.mode), files
	c.req.Normalize()
	return c.req.Validate(c.backend.limits)
}

// run runs the request and prints its events; the exit status mirrors
// the program's.
func (c *runConfig) run(ctx context.Context, stdout, stderr io.Writer) error {
	runner, closeRunner, err := c.backend.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer closeRunner()
	p := &printer{stdout: stdout, stderr: stderr, json: c.json, repeat: c.req.Repeat > 1}
	if err := runner.Run(ctx, &c.req, p.event); err != nil {
		if errors.Is(err, sandbox.ErrBadRequest) {
			return usageError{err}
		}
		return err
	}
	return exitStatus(p.status())
}

// readFiles reads the named files into a request's file map.
func readFiles(paths []string, maxBytes int) (map[string]string, error) {
	if len(paths) == 0 {
		return nil, errors.New("no files given: racelab run [flags] FILE.go...")
	}
	files := make(map[string]string, len(paths))
	for _, p := range paths {
		name := filepath.Base(p)
		if _, dup := files[name]; dup {
			return nil, fmt.Errorf("two files are named %s; file names must differ", name)
		}
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%s is not a regular file", p)
		}
		if fi.Size() > int64(maxBytes) {
			return nil, fmt.Errorf("%s is %d bytes: the source may have at most %d in all files together (-max-source)", p, fi.Size(), maxBytes)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		files[name] = string(b)
	}
	return files, nil
}

// printer shows a run's events as a person wants them, or as JSON.
type printer struct {
	stdout, stderr io.Writer
	json           bool
	repeat         bool
	last           *sandbox.Event // the last exit event
}

func (p *printer) event(e sandbox.Event) {
	if e.Kind == sandbox.KindExit {
		ev := e
		p.last = &ev
	}
	if p.json {
		b, _ := e.JSON()
		fmt.Fprintf(p.stdout, "%s\n", b)
		return
	}
	switch e.Kind {
	case sandbox.KindStdout:
		io.WriteString(p.stdout, e.Data)
	case sandbox.KindStderr:
		io.WriteString(p.stderr, e.Data)
	case sandbox.KindAsm:
		printAsm(p.stdout, e.Lines)
	case sandbox.KindFmt:
		printFmt(p.stdout, e.Files)
	case sandbox.KindExit:
		p.exit(e)
	case sandbox.KindSummary:
		printSummary(p.stderr, e.Summary)
	case sandbox.KindTimeline:
		printTimeline(p.stderr, e.Timeline)
	case sandbox.KindError:
		fmt.Fprintf(p.stderr, "racelab: %s\n", e.Msg)
	}
}

func (p *printer) exit(e sandbox.Event) {
	if p.repeat {
		fmt.Fprintf(p.stderr, "--- run %d: %s, status %d, %d ms\n", e.Run, e.Reason, e.Code, e.Ms)
		return
	}
	if e.Reason != sandbox.ReasonExited || e.Code == 66 {
		fmt.Fprintf(p.stderr, "racelab: %s\n", e.Msg)
	}
}

// status mirrors the program's exit status.
func (p *printer) status() int {
	if p.last == nil {
		return 1
	}
	if p.last.Code < 0 || p.last.Code > 255 {
		return 1
	}
	return p.last.Code
}

// printTimeline prints a timeline's goroutines and edges, one a line.
func printTimeline(w io.Writer, tl *sandbox.Timeline) {
	fmt.Fprintf(w, "--- timeline: %d goroutines, %d edges, %.3f ms\n", len(tl.Goroutines), len(tl.Edges), float64(tl.DurationNs)/1e6)
	for _, g := range tl.Goroutines {
		fmt.Fprintf(w, "  goroutine %d %s%s\n", g.ID, g.Name, posSuffix(" created at ", g.Created))
	}
	for _, e := range tl.Edges {
		fmt.Fprintf(w, "  %d %s%s -> %d %s%s\n", e.From, e.FromOp, posSuffix("@", e.FromAt), e.To, e.ToOp, posSuffix("@", e.ToAt))
	}
	if tl.Cut != "" {
		fmt.Fprintf(w, "  %s\n", tl.Cut)
	}
}

func posSuffix(prefix string, p *sandbox.TracePos) string {
	if p == nil {
		return ""
	}
	return fmt.Sprintf("%s%s:%d", prefix, p.File, p.Line)
}

func printAsm(w io.Writer, lines []sandbox.AsmLine) {
	fn := ""
	for _, l := range lines {
		if l.Noise {
			continue
		}
		if l.Func != "" && l.Func != fn { // a function's name comes on its first line only
			fn = l.Func
			fmt.Fprintf(w, "\n%s:\n", fn)
		}
		pos := ""
		if l.File != "" {
			pos = fmt.Sprintf("%s:%d", l.File, l.Line)
		}
		fmt.Fprintf(w, "  %-12s %5d  %s\n", pos, l.Offset, l.Text)
	}
}

func printFmt(w io.Writer, files map[string]string) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if len(names) > 1 {
			fmt.Fprintf(w, "// ---- %s\n", n)
		}
		io.WriteString(w, files[n])
	}
}

func printSummary(w io.Writer, s *sandbox.Summary) {
	if s == nil {
		return
	}
	fmt.Fprintf(w, "\n%d runs, %d with a data race\n", s.Runs, s.Races)
	for _, o := range s.Outputs {
		out := strings.ReplaceAll(o.Output, "\n", `\n`)
		if len(out) > 60 {
			out = out[:57] + "..."
		}
		fmt.Fprintf(w, "%5d× %q\n", o.Count, out)
	}
}
