package main

import (
	"context"
	"flag"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/racelab/racelab/lessons"
	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/runc"
	"github.com/racelab/racelab/server"
)

// The class of TestClassroom; -class 60 plays the README's:
//
//	go test ./cmd/loadtest -run Classroom -v -args -class 60 -k 10
var (
	classSize = flag.Int("class", 6, "learners in TestClassroom")
	quietRuns = flag.Int("k", 3, "warm race runs per side of TestClassroom's quiet comparison")
)

// slots is how many runs the test server runs at once: fewer than the
// class, so that the line is used.
const slots = 2

// TestClassroom plays a class against an in-process racelab on the real
// runc sandbox, after a quiet comparison with the bare toolchain. It
// asserts what the load test must report, never how fast: timing goals
// are the benchmarks' business.
func TestClassroom(t *testing.T) {
	r := realRunner(t)
	url, stop := startServer(t, r, *classSize)
	var out strings.Builder
	rep, err := run(context.Background(), config{
		// The server runs in this process (as do the learners).
		URL: url, Clients: *classSize, PID: os.Getpid(), Shapes: []string{shapeSame, shapeFresh},
		QuietRuns: *quietRuns, QuietAt: quietBefore, Timeout: 8 * time.Minute, Verbose: true,
	}, &out)
	t.Logf("the load test's report:\n%s", out.String())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if err := stop(); err != nil {
		t.Errorf("server: %v", err)
	}
	r.Close()
	if left := r.Leftovers(); len(left) > 0 {
		t.Errorf("left behind after the class: %s", strings.Join(left, ", "))
	}
	if len(rep.Classes) != 2 {
		t.Fatalf("report has %d classes, want the same cell's and the fresh one's", len(rep.Classes))
	}
	for _, c := range rep.Classes {
		checkClass(t, c)
	}
	checkReport(t, out.String())
	checkQuiet(t, rep, out.String())
}

func checkClass(t *testing.T, rep classReport) {
	t.Helper()
	if len(rep.Cells) != len(cellNames) {
		t.Fatalf("report has %d cells, want %d", len(rep.Cells), len(cellNames))
	}
	for _, c := range rep.Cells {
		if c.OK != *classSize || c.Total != *classSize {
			t.Errorf("%s: %d/%d succeeded, want %d/%d; failures %v", c.Name, c.OK, c.Total, *classSize, *classSize, c.Failures)
		}
		for i, p := range percentiles {
			if c.First[i] <= 0 || c.Exit[i] <= 0 {
				t.Errorf("%s: p%d to first output %v, to exit %v; want both measured", c.Name, p, c.First[i], c.Exit[i])
			}
		}
	}
	if race := rep.Cells[0]; *classSize > slots && (race.Queued == 0 || race.Deepest == 0) {
		t.Errorf("%s: %d learners waited, deepest place %d; want the line used by %d learners on %d slots",
			race.Name, race.Queued, race.Deepest, *classSize, slots)
	}
}

// checkReport checks the printed report of both classes.
func checkReport(t *testing.T, text string) {
	t.Helper()
	for _, line := range []string{"time to first output", "time to exit"} {
		re := regexp.MustCompile(line + `\s+p50 \d\S*s\s+p95 \d\S*s\s+p99 \d\S*s\n`)
		if got := len(re.FindAllString(text, -1)); got != 2*len(cellNames) {
			t.Errorf("report has %d %q lines with p50, p95 and p99, want %d", got, line, 2*len(cellNames))
		}
	}
}

func checkQuiet(t *testing.T, rep *report, text string) {
	t.Helper()
	if len(rep.Quiet) != 1 {
		t.Fatalf("report has %d quiet comparisons, want 1", len(rep.Quiet))
	}
	q := rep.Quiet[0]
	if q.Runs != *quietRuns || q.Bare <= 0 || q.Server <= 0 || q.ServerBuild <= 0 || q.Ratio <= 0 {
		t.Errorf("quiet comparison %+v: want %d runs each side, every time and the ratio measured", q, *quietRuns)
	}
	if !regexp.MustCompile(`ratio \d+\.\d\d×`).MatchString(text) {
		t.Errorf("report names no ratio")
	}
}

// realRunner opens a runc runner with its own state directory and the
// warm cache the other packages' tests share. Outside CI it skips when
// root or runc is missing; with CI=true it fails.
func realRunner(t *testing.T) *runc.Runner {
	t.Helper()
	unavailable := func(why string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("runc sandbox unavailable in CI: %s", why)
		}
		t.Skipf("runc sandbox unavailable: %s", why)
	}
	if os.Geteuid() != 0 {
		unavailable("not root")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		unavailable("runc is not installed (apt-get install runc)")
	}
	base := os.Getenv("RACELAB_TEST_STATE_DIR")
	if base == "" {
		base = "/var/lib/racelab-test"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	r, err := runc.New(ctx, runc.Config{
		StateDir: filepath.Join(base, "loadtest"), CacheDir: filepath.Join(base, "cache"),
		Concurrency: slots, Seccomp: true,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		unavailable(err.Error())
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// startServer serves the built-in lessons on a loopback port, configured
// as the README's class: behind a trusted proxy, with room for everyone
// in line. stop shuts it down and waits for it.
func startServer(t *testing.T, r sandbox.Runner, class int) (url string, stop func() error) {
	t.Helper()
	lib, err := lessons.Load(lessons.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{
		MaxRuns: slots, QueueSize: max(server.DefaultQueueSize, class),
		RunsPerMinute: 1000, Burst: 100, TrustProxy: true,
	}, lib, r)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var serving sync.WaitGroup
	var serveErr error
	serving.Go(func() { serveErr = srv.Serve(ctx, ln) })
	stop = func() error {
		cancel()
		serving.Wait()
		return serveErr
	}
	t.Cleanup(func() { stop() })
	return "http://" + ln.Addr().String(), stop
}

func TestPercentiles(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var ds []time.Duration
		for _, n := range ns {
			ds = append(ds, time.Duration(n)*time.Millisecond)
		}
		return ds
	}
	tests := []struct {
		ds          []time.Duration
		p50, p99    time.Duration
		med         time.Duration
		description string
	}{
		{nil, 0, 0, 0, "none"},
		{ms(7), 7 * time.Millisecond, 7 * time.Millisecond, 7 * time.Millisecond, "one"},
		{ms(4, 1, 3, 2), 3 * time.Millisecond, 4 * time.Millisecond, 2500 * time.Microsecond, "even"},
		{ms(5, 1, 9), 5 * time.Millisecond, 9 * time.Millisecond, 5 * time.Millisecond, "odd"},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			if got := pct(tt.ds, 50); got != tt.p50 {
				t.Errorf("pct(%v, 50) = %v, want %v", tt.ds, got, tt.p50)
			}
			if got := pct(tt.ds, 99); got != tt.p99 {
				t.Errorf("pct(%v, 99) = %v, want %v", tt.ds, got, tt.p99)
			}
			if got := median(tt.ds); got != tt.med {
				t.Errorf("median(%v) = %v, want %v", tt.ds, got, tt.med)
			}
		})
	}
}

func TestRunRefusesUnknownQuiet(t *testing.T) {
	_, err := run(context.Background(), config{URL: "http://127.0.0.1:1", QuietRuns: 1, QuietAt: "during"}, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "during") {
		t.Errorf("run with -quiet during = %v, want an error naming it", err)
	}
}
