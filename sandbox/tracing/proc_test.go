package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/racelab/racelab/sandbox"
)

// The test binary is Run's child too (RunIfChild). Options whose Dir is
// one of these make the child misbehave instead of parsing, after it
// limited itself as a real child does: these are the test's, never
// racelab's.
const (
	childAlloc  = "/racelab-test/alloc"  // allocate without end
	childLimits = "/racelab-test/limits" // report its limits
)

func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == Command {
		var o Options
		_ = json.Unmarshal([]byte(os.Args[2]), &o)
		switch o.Dir {
		case childAlloc:
			os.Exit(allocChild())
		case childLimits:
			os.Exit(limitsChild())
		}
	}
	RunIfChild()
	os.Exit(m.Run())
}

// allocChild keeps allocating 1 MiB blocks, up to 8 GiB.
func allocChild() int {
	if err := limitSelf(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	var keep [][]byte
	for range 8 << 10 {
		b := make([]byte, 1<<20)
		for i := range b {
			b[i] = 1
		}
		keep = append(keep, b)
	}
	fmt.Fprintf(os.Stderr, "allocated %d MiB: not limited\n", len(keep))
	return 4
}

// limitsChild reports its data and CPU limits as its complaint.
func limitsChild() int {
	if err := limitSelf(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	var d, c unix.Rlimit
	_ = unix.Getrlimit(unix.RLIMIT_DATA, &d)
	_ = unix.Getrlimit(unix.RLIMIT_CPU, &c)
	fmt.Fprintf(os.Stderr, "data %d cpu %d\n", d.Cur, c.Cur)
	return 1
}

func self(t *testing.T) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// TestRun parses a real trace in the child, as the server does.
func TestRun(t *testing.T) {
	p := build(t, closer, lessonTracing)
	data := p.run(t)
	tl, err := Run(context.Background(), self(t), data, p.opts(), sandbox.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	want, err := Parse(bytes.NewReader(data), p.opts())
	if err != nil {
		t.Fatal(err)
	}
	if got, w := edgeStrings(tl), edgeStrings(want); got != w || len(tl.Goroutines) != len(want.Goroutines) {
		t.Errorf("Run: %d lanes, edges %s; Parse: %d lanes, edges %s", len(tl.Goroutines), got, len(want.Goroutines), w)
	}
	if _, err := Run(context.Background(), self(t), []byte("not a trace"), p.opts(), sandbox.DefaultLimits()); err == nil || !strings.Contains(err.Error(), "could not be parsed") {
		t.Errorf("Run(not a trace) = %v, want an error saying it could not be parsed", err)
	}
}

// TestRunMemory: a child that grows dies at --trace-parse-memory, and Run
// says so.
func TestRunMemory(t *testing.T) {
	l := sandbox.DefaultLimits()
	l.TraceParseMemory, l.TraceParseTimeout = 128<<20, 20*time.Second
	_, err := Run(context.Background(), self(t), nil, Options{Dir: childAlloc}, l)
	if err == nil || !strings.Contains(err.Error(), "--trace-parse-memory") {
		t.Fatalf("Run(a child that allocates 8 GiB) = %v, want an error naming --trace-parse-memory", err)
	}
}

// TestRunLimits: the child runs with the kernel's limits of its data and
// CPU time.
func TestRunLimits(t *testing.T) {
	l := sandbox.DefaultLimits()
	l.TraceParseMemory, l.TraceParseTimeout = 300<<20, 2500*time.Millisecond
	_, err := Run(context.Background(), self(t), nil, Options{Dir: childLimits}, l)
	if want := fmt.Sprintf("data %d cpu 3", 300<<20); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Run(a child reporting its limits) = %v, want it to say %q", err, want)
	}
}

// TestRunTimeout: a child that hangs is killed at --trace-parse-timeout.
func TestRunTimeout(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "hang")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\nexec sleep 60\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	l := sandbox.DefaultLimits()
	l.TraceParseTimeout = 300 * time.Millisecond
	start := time.Now()
	_, err := Run(context.Background(), exe, nil, Options{}, l)
	if err == nil || !strings.Contains(err.Error(), "--trace-parse-timeout") {
		t.Errorf("Run(a child that hangs) = %v, want an error naming --trace-parse-timeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Run returned after %v, want about 300ms", d)
	}
}

// TestMainRefuses: the hidden command refuses to run without racelab's
// limits, and without its options.
func TestMainRefuses(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main([]string{"{}"}, strings.NewReader(""), &out, &errOut); code == 0 || !strings.Contains(errOut.String(), "only by racelab") {
		t.Errorf("Main without limits = %d, %q; want a failure saying it is racelab's", code, errOut.String())
	}
}
