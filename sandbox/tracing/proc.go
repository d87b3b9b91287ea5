package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/racelab/racelab/sandbox"
)

// Command is the hidden racelab command that parses a trace: the trace on
// standard input, the Options as its one argument (JSON), the timeline
// (JSON) on standard output.
const Command = "trace-parse"

// The bounds of what the child process returns to the server: its
// timeline (MaxSpans bounds it far below this) and its complaint.
const (
	maxResultBytes = 16 << 20
	maxErrorBytes  = 4 << 10
)

// Run parses data in a child process, the program exe run as "exe
// trace-parse", bounded by l: its memory (TraceParseMemory: a soft limit
// for the Go runtime, and the kernel's hard limit on its data, so that it
// dies rather than grows), its wall time and its CPU time
// (TraceParseTimeout), and the events it reads (TraceEvents). Whatever
// the trace holds, Run returns by the timeout and the child is gone.
func Run(ctx context.Context, exe string, data []byte, o Options, l sandbox.Limits) (*sandbox.Timeline, error) {
	o.MaxEvents, o.MaxSpans = l.TraceEvents, l.TraceSpans
	arg, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, l.TraceParseTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, Command, string(arg))
	cmd.Env = []string{
		"GOMEMLIMIT=" + fmt.Sprint(l.TraceParseMemory*3/4),
		envMemory + "=" + fmt.Sprint(l.TraceParseMemory),
		envCPU + "=" + fmt.Sprint(cpuSeconds(l.TraceParseTimeout)),
		"GOTRACEBACK=none",
	}
	cmd.Stdin = bytes.NewReader(data)
	out, errOut := &capped{max: maxResultBytes}, &capped{max: maxErrorBytes}
	cmd.Stdout, cmd.Stderr = out, errOut
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return nil, fmt.Errorf("parsing the trace took longer than %v (the limit --trace-parse-timeout)", l.TraceParseTimeout)
	case err != nil && isMemory(errOut.String()):
		return nil, fmt.Errorf("parsing the trace needed more than %d bytes of memory (the limit --trace-parse-memory)", l.TraceParseMemory)
	case err != nil && isCPU(err):
		return nil, fmt.Errorf("parsing the trace took more than %v of CPU time (the limit --trace-parse-timeout)", l.TraceParseTimeout)
	case err != nil:
		return nil, fmt.Errorf("the trace could not be parsed: %s", firstLine(errOut.String(), err))
	case out.over:
		return nil, fmt.Errorf("the trace's timeline is over %d bytes", maxResultBytes)
	}
	var tl sandbox.Timeline
	if err := json.Unmarshal(out.Bytes(), &tl); err != nil {
		return nil, fmt.Errorf("the trace parser's answer: %w", err)
	}
	return &tl, nil
}

// The environment through which Run tells the child its hard limits.
const (
	envMemory = "RACELAB_TRACE_PARSE_MEMORY"
	envCPU    = "RACELAB_TRACE_PARSE_CPU"
)

// cpuSeconds is the CPU time limit, in the kernel's whole seconds, of a
// child with wall-time limit d: at least 1.
func cpuSeconds(d time.Duration) uint64 {
	return uint64((d + time.Second - 1) / time.Second)
}

// isMemory reports whether the child's complaint says it ran out of
// memory: the Go runtime's "fatal error: out of memory", a failed
// allocation of the kernel's limit, or (racelab built with -race) the
// race runtime's "failed to allocate".
func isMemory(stderr string) bool {
	for _, s := range []string{"out of memory", "cannot allocate memory", "failed to allocate"} {
		if strings.Contains(stderr, s) {
			return true
		}
	}
	return false
}

// isCPU reports whether the child was killed by the CPU-time limit.
func isCPU(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(unix.WaitStatus)
	return ok && ws.Signaled() && (ws.Signal() == unix.SIGXCPU || ws.Signal() == unix.SIGKILL)
}

func firstLine(s string, err error) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return err.Error()
	}
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// Main is the child's side of Run: it limits itself, parses the trace on
// stdin with the Options of args[0] and writes the timeline on stdout.
// It returns the process's exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if err := limitSelf(); err != nil {
		fmt.Fprintf(stderr, "racelab trace-parse: %v\n", err)
		return 2
	}
	var o Options
	if len(args) != 1 || json.Unmarshal([]byte(args[0]), &o) != nil || o.MaxEvents <= 0 || o.MaxSpans <= 0 {
		fmt.Fprintln(stderr, "racelab trace-parse: want one argument, the options as JSON (racelab's own use)")
		return 2
	}
	tl, err := Parse(stdin, o)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	if err := json.NewEncoder(stdout).Encode(tl); err != nil {
		fmt.Fprintf(stderr, "racelab trace-parse: %v\n", err)
		return 1
	}
	return 0
}

// limitSelf applies the hard limits Run passed in the environment: the
// kernel's limit of the process's data (RLIMIT_DATA: the Go runtime's
// heap grows by mapping writable memory, which it counts, while the
// address space it only reserves is not counted, as RLIMIT_AS would, and
// the runtime would not start) and of its CPU time. The Go runtime's soft
// limit (GOMEMLIMIT, 3/4 of it) makes it collect harder before.
func limitSelf() error {
	mem, cpu := os.Getenv(envMemory), os.Getenv(envCPU)
	if mem == "" || cpu == "" {
		return errors.New("run only by racelab itself (its limits are missing)")
	}
	var m, c uint64
	if _, err := fmt.Sscan(mem, &m); err != nil {
		return fmt.Errorf("memory limit %q: %w", mem, err)
	}
	if _, err := fmt.Sscan(cpu, &c); err != nil {
		return fmt.Errorf("CPU limit %q: %w", cpu, err)
	}
	if err := unix.Setrlimit(unix.RLIMIT_DATA, &unix.Rlimit{Cur: m, Max: m}); err != nil {
		return fmt.Errorf("limit memory: %w", err)
	}
	if err := unix.Setrlimit(unix.RLIMIT_CPU, &unix.Rlimit{Cur: c, Max: c + 1}); err != nil {
		return fmt.Errorf("limit CPU: %w", err)
	}
	debug.SetMemoryLimit(int64(m * 3 / 4))
	return nil
}

// RunIfChild runs Main and exits when the process was started as Run's
// child (os.Args[1] is Command). A test binary whose tests run traced
// programs calls it first thing in its TestMain: Run starts the running
// executable (os.Executable), which is then the test binary.
func RunIfChild() {
	if len(os.Args) > 1 && os.Args[1] == Command {
		os.Exit(Main(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
}

// capped keeps the first max bytes written to it; over says more came.
type capped struct {
	bytes.Buffer
	max  int
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	n := len(p)
	if room := c.max - c.Len(); n > room {
		c.over = true
		p = p[:max(room, 0)]
	}
	c.Buffer.Write(p)
	return n, nil
}
