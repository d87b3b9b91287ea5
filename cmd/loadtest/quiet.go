package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/racelab/racelab/sandbox"
)

// quietStats is one quiet comparison: K warm race runs of a fresh racy
// counter through the server, and K bare builds and runs of the same
// sources on this machine, by turns. Every duration is a median.
type quietStats struct {
	When string // quietBefore or quietAfter the class ("" when there is none)
	Runs int    // runs on each side
	// Load is the machine's 1-minute load average when the comparison
	// started and when it ended: the machine is shared, and the sandbox's
	// containers share one CPU weight against every other process on it.
	Load [2]float64

	Bare      time.Duration // go build -race && ./prog
	BareBuild time.Duration // go build -race
	BareRun   time.Duration // ./prog

	Server      time.Duration // from sending the request to the exit event
	ServerBuild time.Duration // the build event's Ms: container start and go build
	ServerRun   time.Duration // the exit event's Ms: the program, to its container's end
	ServerRest  time.Duration // the remainder: outside the container (admission, run directory, cgroup, events)

	Ratio float64 // Server / Bare

	bare, server []sample // every run, in order
}

// sample is one run's times.
type sample struct{ total, build, run time.Duration }

// compare runs the quiet comparison: one untimed run on each side to warm
// them, then k of each by turns (the order flips every iteration, so that
// neither side always follows the other). Each iteration's program is new
// to both build caches: the server's (a fresh layer per run anyway) and
// the bare side's (which keeps what it built).
func compare(ctx context.Context, ws, gocache string, k int) (quietStats, error) {
	q := quietStats{Runs: k}
	q.Load[0] = loadAverage()
	bt, err := newBare(ctx, gocache)
	if err != nil {
		return q, err
	}
	defer bt.close()
	c, err := dial(ctx, ws, "10.255.0.1")
	if err != nil {
		return q, fmt.Errorf("dial %s: %w", ws, err)
	}
	defer c.CloseNow()
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, err := bt.buildAndRun(ctx, racy(nonce+"-warm")); err != nil {
		return q, err
	}
	if _, err := serverRace(ctx, c, racy(nonce+"-warm")); err != nil {
		return q, err
	}
	var bare, srv []sample
	for i := range k {
		src := racy(nonce + "-" + strconv.Itoa(i))
		sides := []func() error{
			func() error { s, err := bt.buildAndRun(ctx, src); bare = append(bare, s); return err },
			func() error { s, err := serverRace(ctx, c, src); srv = append(srv, s); return err },
		}
		if i%2 == 1 {
			slices.Reverse(sides)
		}
		for _, side := range sides {
			if err := side(); err != nil {
				return q, err
			}
		}
	}
	q.Load[1] = loadAverage()
	q.bare, q.server = bare, srv
	q.Bare, q.BareBuild, q.BareRun, _ = medians(bare)
	q.Server, q.ServerBuild, q.ServerRun, q.ServerRest = medians(srv)
	q.Ratio = float64(q.Server) / float64(q.Bare)
	return q, nil
}

// serverRace runs src in race mode through the server on c.
func serverRace(ctx context.Context, c *websocket.Conn, src string) (sample, error) {
	r := runOne(ctx, c, sandbox.Request{Mode: sandbox.ModeRace, Files: map[string]string{"main.go": src}})
	if !r.ok {
		return sample{}, fmt.Errorf("race run through the server: %s%s", r.err, r.lastReason)
	}
	ms := func(n int64) time.Duration { return time.Duration(n) * time.Millisecond }
	return sample{total: r.exit, build: ms(r.buildMs), run: ms(r.runMs)}, nil
}

// medians returns the medians of the totals, builds, runs and of what
// is left of each total.
func medians(ss []sample) (total, build, run, rest time.Duration) {
	var t, b, r, x []time.Duration
	for _, s := range ss {
		t, b, r = append(t, s.total), append(b, s.build), append(r, s.run)
		x = append(x, s.total-s.build-s.run)
	}
	return median(t), median(b), median(r), median(x)
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

func (q quietStats) print(out io.Writer, verbose bool) {
	when := "quiet comparison"
	if q.When != "" {
		when += " " + q.When + " the class"
	}
	fmt.Fprintf(out, "%s: %d warm race runs of a fresh racy counter on each side, by turns (medians; load average %.2f, then %.2f)\n",
		when, q.Runs, q.Load[0], q.Load[1])
	fmt.Fprintf(out, "  bare go build -race && ./prog  %s: build %s, run %s\n", ms(q.Bare), ms(q.BareBuild), ms(q.BareRun))
	fmt.Fprintf(out, "  through racelab (websocket)    %s: build %s (container start and go build), run %s, outside the container %s\n",
		ms(q.Server), ms(q.ServerBuild), ms(q.ServerRun), ms(q.ServerRest))
	fmt.Fprintf(out, "  ratio %.2f× (goal ≤ 1.15×); the extra %s: build %+.0f ms, run %+.0f ms, outside the container %+.0f ms\n",
		q.Ratio, ms(q.Server-q.Bare), msf(q.ServerBuild-q.BareBuild), msf(q.ServerRun-q.BareRun), msf(q.ServerRest))
	if !verbose {
		return
	}
	for i := range q.bare {
		b, s := q.bare[i], q.server[i]
		fmt.Fprintf(out, "    %2d  bare %s (build %s, run %s)  racelab %s (build %s, run %s, outside %s)\n", i,
			ms(b.total), ms(b.build), ms(b.run), ms(s.total), ms(s.build), ms(s.run), ms(s.total-s.build-s.run))
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", msf(d)) }

func msf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// bareToolchain builds and runs programs on this machine, without a
// sandbox, with the environment the sandbox gives the go command and the
// program (sandbox/internal/gotool's BuildEnv and RunEnv, which this
// command may not import), so that only the sandbox differs.
type bareToolchain struct {
	dir      string
	goBin    string
	buildEnv []string
	runEnv   []string
}

func newBare(ctx context.Context, gocache string) (*bareToolchain, error) {
	goroot, err := goEnv(ctx, "GOROOT")
	if err != nil {
		return nil, err
	}
	if gocache == "" {
		if gocache, err = goEnv(ctx, "GOCACHE"); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "racelab-loadtest-")
	if err != nil {
		return nil, fmt.Errorf("bare: %w", err)
	}
	bt := &bareToolchain{dir: dir, goBin: filepath.Join(goroot, "bin", "go")}
	home, tmp := filepath.Join(dir, "home"), filepath.Join(dir, "tmp")
	for _, d := range []string{"src", "home", "tmp"} {
		err = errors.Join(err, os.Mkdir(filepath.Join(dir, d), 0o755))
	}
	// The sandbox's go.mod when the learner brings none.
	err = errors.Join(err, os.WriteFile(filepath.Join(dir, "src", "go.mod"), []byte("module prog\n\ngo 1.26\n"), 0o644))
	if err != nil {
		bt.close()
		return nil, fmt.Errorf("bare: %w", err)
	}
	bt.buildEnv = []string{
		"PATH=" + goroot + "/bin:/usr/local/bin:/usr/bin:/bin", "HOME=" + home, "GOROOT=" + goroot,
		"GOCACHE=" + gocache, "GOPATH=" + home + "/go", "GOTMPDIR=" + tmp, "TMPDIR=" + tmp,
		"GOTOOLCHAIN=local", "GOPROXY=off", "GOSUMDB=off", "GOTELEMETRY=off", "GOFLAGS=-buildvcs=false",
		"GOENV=off", "GOWORK=off", "CGO_ENABLED=1", "LANG=C.UTF-8",
	}
	bt.runEnv = []string{"PATH=/usr/bin:/bin", "HOME=" + home, "TMPDIR=" + tmp, "LANG=C.UTF-8", "GORACE=atexit_sleep_ms=0"}
	return bt, nil
}

func goEnv(ctx context.Context, name string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", name).Output()
	if err != nil {
		return "", fmt.Errorf("bare: go env %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// buildAndRun is `go build -race -o prog . && ./prog` of src as main.go.
func (bt *bareToolchain) buildAndRun(ctx context.Context, src string) (sample, error) {
	if err := os.WriteFile(filepath.Join(bt.dir, "src", "main.go"), []byte(src), 0o644); err != nil {
		return sample{}, fmt.Errorf("bare: %w", err)
	}
	prog := filepath.Join(bt.dir, "prog")
	build := exec.CommandContext(ctx, bt.goBin, "build", "-race", "-o", prog, ".")
	build.Dir, build.Env = filepath.Join(bt.dir, "src"), bt.buildEnv
	t0 := time.Now()
	if out, err := build.CombinedOutput(); err != nil {
		return sample{}, fmt.Errorf("bare: go build -race: %w\n%s", err, out)
	}
	t1 := time.Now()
	cmd := exec.CommandContext(ctx, prog)
	cmd.Env = bt.runEnv
	// The race detector's exit status: the race was found.
	if out, err := cmd.CombinedOutput(); err != nil && cmd.ProcessState.ExitCode() != sandbox.RaceExitCode {
		return sample{}, fmt.Errorf("bare: ./prog: %w\n%s", err, out)
	}
	t2 := time.Now()
	return sample{total: t2.Sub(t0), build: t1.Sub(t0), run: t2.Sub(t1)}, nil
}

func (bt *bareToolchain) close() { os.RemoveAll(bt.dir) }

// loadAverage is the machine's 1-minute load average (0 if unknown).
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var l float64
	fmt.Sscan(string(b), &l)
	return l
}
