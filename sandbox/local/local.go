// Package local runs racelab requests directly on the host, as the user
// who started racelab, with NO isolation: it is for a learner running
// racelab on their own laptop, never for code written by strangers.
//
// From the client's side it behaves like the runc backend: the same
// events in the same order, the same exit reasons and messages. What it
// cannot do is keep the security invariants of the design (DESIGN.md):
// the program can use the network, read and write the user's files, and
// the build cache is the user's own, shared by every run (which is what
// makes builds fast). Of the limits it enforces the wall times, the
// output bytes and the request's size; there are NO memory, process,
// CPU or tmpfs limits, as those need cgroups, and so a memory reason
// never occurs (PeakBytes is the largest resident set, from rusage). Each process runs in its own process
// group, which is signalled as a whole, so a run's child processes end
// with it unless they leave the group themselves.
//
// Because of that, a server using this backend must listen on loopback
// only; CheckListenAddr says whether an address is.
package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/internal/gotool"
	"github.com/racelab/racelab/sandbox/internal/stream"
)

// pipeDelay is how long a process's output pipes may stay open after it
// exited (held by a child that escaped its process group) before they are
// closed and the run goes on.
const pipeDelay = 250 * time.Millisecond

// resolveTimeout bounds the name lookup of CheckListenAddr.
const resolveTimeout = 5 * time.Second

// Config sets up a Runner.
type Config struct {
	// GOROOT is the toolchain that builds the programs (default: the
	// GOROOT of the go command on PATH).
	GOROOT string
	// Limits bound every run (default sandbox.DefaultLimits()). Only the
	// wall times, the output limits and the request limits are enforced.
	Limits sandbox.Limits
	// Concurrency is how many runs may build or run at once (default: cores).
	Concurrency int
	// CacheDir is the go build cache (default: the user's own, go env
	// GOCACHE), so that builds are as fast as the user's own.
	CacheDir string
}

// Runner is the local backend of sandbox.Runner.
type Runner struct {
	cfg   Config
	goBin string // GOROOT/bin/go
	slots chan struct{}
}

var _ sandbox.Runner = (*Runner)(nil)

// New checks the toolchain and fills in the defaults of cfg.
func New(cfg Config) (*Runner, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	goBin := filepath.Join(cfg.GOROOT, "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		return nil, fmt.Errorf("local: GOROOT %s has no bin/go", cfg.GOROOT)
	}
	return &Runner{cfg: cfg, goBin: goBin, slots: make(chan struct{}, cfg.Concurrency)}, nil
}

func (c *Config) fill() error {
	if c.Limits == (sandbox.Limits{}) {
		c.Limits = sandbox.DefaultLimits()
	}
	if err := c.Limits.Check(); err != nil {
		return err
	}
	if c.Concurrency <= 0 {
		c.Concurrency = runtime.NumCPU()
	}
	if c.GOROOT != "" && c.CacheDir != "" {
		return nil
	}
	goCmd := "go"
	if c.GOROOT != "" {
		goCmd = filepath.Join(c.GOROOT, "bin", "go")
	}
	out, err := exec.Command(goCmd, "env", "GOROOT", "GOCACHE").Output()
	if err != nil {
		return fmt.Errorf("local: no Go toolchain found (%s env: %v); install Go or set its GOROOT", goCmd, err)
	}
	vals := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(vals) != 2 {
		return fmt.Errorf("local: %s env GOROOT GOCACHE printed %q", goCmd, out)
	}
	if c.GOROOT == "" {
		c.GOROOT = vals[0]
	}
	if c.CacheDir == "" {
		c.CacheDir = vals[1]
	}
	if c.CacheDir == "" || c.CacheDir == "off" {
		return errors.New("local: the go build cache is off (GOCACHE=off): unset GOCACHE or give a cache directory")
	}
	return nil
}

// Run builds and runs req on the host; see sandbox.Runner.
func (r *Runner) Run(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
	l := r.cfg.Limits
	emit, done, err := gotool.Begin(req, l, emit)
	if err != nil || done {
		return err
	}
	select {
	case r.slots <- struct{}{}:
	case <-ctx.Done():
		emit(gotool.Canceled(req, l))
		return nil
	}
	defer func() { <-r.slots }()
	ru, err := r.newRun(req, emit)
	if err != nil {
		return err
	}
	defer ru.cleanup()
	return ru.execute(ctx)
}

// run is one request on its way through the build and the executions.
type run struct {
	r     *Runner
	req   *sandbox.Request
	dir   string // the run's temporary directory: src, home, tmp, prog, run<i>
	plan  gotool.Plan
	emit  func(sandbox.Event)
	tally *stream.Tally
}

// newRun makes the run's temporary directory and writes the files into it.
func (r *Runner) newRun(req *sandbox.Request, emit func(sandbox.Event)) (*run, error) {
	dir, err := os.MkdirTemp("", "racelab-")
	if err != nil {
		return nil, fmt.Errorf("local: run directory: %w", err)
	}
	ru := &run{r: r, req: req, dir: dir, emit: emit,
		plan: gotool.PlanFor(req.Mode, filepath.Join(dir, "prog"))}
	if req.Repeat > 1 {
		ru.tally = stream.NewTally()
	}
	if err := ru.writeFiles(); err != nil {
		ru.cleanup()
		return nil, fmt.Errorf("local: write the files: %w", err)
	}
	return ru, nil
}

func (ru *run) writeFiles() error {
	for _, d := range []string{"src", "home", "tmp"} {
		if err := os.Mkdir(filepath.Join(ru.dir, d), 0o700); err != nil {
			return err
		}
	}
	files := ru.req.Files
	if _, ok := files["go.mod"]; !ok {
		files = map[string]string{"go.mod": gotool.GoMod}
		for k, v := range ru.req.Files {
			files[k] = v
		}
	}
	if m := ru.req.Mode; m == sandbox.ModeRun || m == sandbox.ModeRace {
		files, _ = gotool.WrapMain(files)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(ru.dir, "src", name), []byte(body), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// cleanup removes the run's directory, even where the program took away
// its own write permission.
func (ru *run) cleanup() {
	if os.RemoveAll(ru.dir) == nil {
		return
	}
	_ = filepath.WalkDir(ru.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	_ = os.RemoveAll(ru.dir)
}

// runIndex is the run number put on events: 0 unless the request repeats.
func (ru *run) runIndex(i int) int {
	if ru.req.Repeat > 1 {
		return i
	}
	return 0
}

// execute builds once, then runs the program Repeat times. As with the
// runc backend, a repeated request always ends with its summary (of the
// runs that finished), also when the build failed or it was stopped.
func (ru *run) execute(ctx context.Context) error {
	ok, err := ru.build(ctx)
	if err != nil {
		return err
	}
	if ok && ru.plan.Binary != "" {
		canceled, err := ru.runProgram(ctx, 1)
		if err != nil {
			return err
		}
		for i := 2; !canceled && i <= ru.req.Repeat; i++ {
			if ctx.Err() != nil {
				// Stopped between two runs: say so, as a run stopped
				// midway would (and as the runc backend does).
				ru.emit(gotool.Canceled(ru.req, ru.r.cfg.Limits))
				break
			}
			if canceled, err = ru.runProgram(ctx, i); err != nil {
				return err
			}
		}
	}
	if ru.tally != nil {
		ru.emit(sandbox.Event{Kind: sandbox.KindSummary, Summary: ru.tally.Summary()})
	}
	return nil
}

// build runs the plan's go command and emits what it found. It reports
// whether the program was built and may run; when not, it has emitted
// the exit event.
func (ru *run) build(ctx context.Context) (bool, error) {
	cfg := ru.r.cfg
	cmd := exec.Command(ru.r.goBin, ru.plan.Build[1:]...)
	cmd.Dir = filepath.Join(ru.dir, "src")
	cmd.Env = gotool.BuildEnv(cfg.GOROOT, filepath.Join(ru.dir, "home"), cfg.CacheDir, filepath.Join(ru.dir, "tmp"))
	out := &capped{limit: cfg.Limits.OutputFor(ru.req.Mode)}
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	o, err := supervise(ctx, cmd, cfg.Limits.BuildTimeout, 0, nil)
	if err != nil {
		return false, fmt.Errorf("local: %s: %w", strings.Join(ru.plan.Build, " "), err)
	}
	return ru.built(o, out, time.Since(start).Milliseconds()), nil
}

// built emits the build step's results, as the runc backend does: the
// build event, or the diagnostics, the assembly listing or vet's report
// and the exit event. It reports whether the program may run.
func (ru *run) built(o outcome, out *capped, ms int64) bool {
	l, mode := ru.r.cfg.Limits, ru.req.Mode
	text := string(out.data)
	exit := sandbox.Event{Kind: sandbox.KindExit, Run: ru.runIndex(1), Ms: ms, Code: o.code,
		Reason: sandbox.ReasonExited, CPUMs: o.cpuMs, PeakBytes: o.peak}
	switch {
	case o.reason != "":
		exit.Reason, exit.Msg = o.reason, gotool.ExplainBuild(o.reason, mode, l)
	case mode == sandbox.ModeVet:
		gotool.EmitDiagnostics(ru.emit, text, out.truncated)
		exit.Msg = gotool.VetMessage(o.code)
	case o.code != 0:
		gotool.EmitDiagnostics(ru.emit, text, out.truncated)
		exit.Reason = sandbox.ReasonBuildFailed
		exit.Msg = gotool.Explain(exit.Reason, o.code, mode, l)
	case mode == sandbox.ModeAsm:
		ru.emit(sandbox.Event{Kind: sandbox.KindAsm, Lines: gotool.Asm(text, filepath.Join(ru.dir, "src"))})
		exit.Msg = gotool.AsmMessage
		if out.truncated {
			exit.Reason, exit.Msg = sandbox.ReasonOutput, gotool.ExplainBuild(sandbox.ReasonOutput, mode, l)
		}
	default:
		ru.emit(sandbox.Event{Kind: sandbox.KindBuild, Ms: ms})
		if text != "" {
			ru.emit(sandbox.Event{Kind: sandbox.KindStderr, Run: ru.runIndex(1), Data: text, TMs: ms})
		}
		return true
	}
	ru.emit(exit)
	return false
}

// runProgram executes the built program once, as run number i, streaming
// its output, and emits its exit event. It reports whether it was canceled.
func (ru *run) runProgram(ctx context.Context, i int) (bool, error) {
	l, mode := ru.r.cfg.Limits, ru.req.Mode
	// Like a fresh container: its own HOME and TMPDIR, and (after the
	// first run, which starts in the source directory) an empty one.
	own := filepath.Join(ru.dir, "run"+strconv.Itoa(i))
	if err := os.Mkdir(own, 0o700); err != nil {
		return false, fmt.Errorf("local: run directory: %w", err)
	}
	cmd := exec.Command(ru.plan.Binary, ru.plan.Args...)
	cmd.Dir = own
	if i == 1 {
		cmd.Dir = filepath.Join(ru.dir, "src")
	}
	cmd.Env = gotool.RunEnv(ru.req, ru.plan, own, own)
	start := time.Now()
	out := stream.New(ru.emit, ru.runIndex(i), l.OutputFor(mode), start)
	out.SetRewrite(gotool.Renamed, gotool.Original)
	cmd.Stdout, cmd.Stderr = out.Stdout(), out.Stderr()
	o, err := supervise(ctx, cmd, l.RunTimeout, l.KillGrace, out.Exceeded())
	if err != nil {
		return false, fmt.Errorf("local: run the program: %w", err)
	}
	out.Flush()
	ev := ru.exitEvent(o, i, start)
	// The complete standard error is known now: its races and stuck
	// goroutines go out before the exit event, as on the runc backend.
	stdout, stderr := out.Text()
	gotool.EmitViews(ru.emit, ru.runIndex(i), stderr, ev.Reason == sandbox.ReasonTimeout, ru.req.Files, filepath.Join(ru.dir, "src"))
	ru.emit(ev)
	if ru.tally != nil {
		ru.tally.Add(stdout, gotool.HasRace(stderr), ev)
	}
	return ev.Reason == sandbox.ReasonCanceled, nil
}

// exitEvent is the exit event of run number i, started at start, which
// ended as o says.
func (ru *run) exitEvent(o outcome, i int, start time.Time) sandbox.Event {
	ev := sandbox.Event{Kind: sandbox.KindExit, Run: ru.runIndex(i), Ms: time.Since(start).Milliseconds(),
		Code: o.code, Reason: o.reason, CPUMs: o.cpuMs, PeakBytes: o.peak}
	switch {
	case ev.Reason != "":
	case o.signaled:
		ev.Reason = sandbox.ReasonKilled
	default:
		ev.Reason = sandbox.ReasonExited
	}
	ev.Msg = gotool.Explain(ev.Reason, ev.Code, ru.req.Mode, ru.r.cfg.Limits)
	return ev
}

// outcome is how a supervised process ended.
type outcome struct {
	reason   sandbox.Reason // why it was stopped; "" when it ended by itself
	code     int            // exit status; 128+N after signal N
	signaled bool           // a signal ended it
	cpuMs    int64          // user+system CPU time, with its waited-for children
	peak     int64          // peak resident memory of it or one of its children
}

// supervise starts cmd in its own process group and waits for it to end,
// stopping the whole group on the time limit, on over and when ctx is done.
// With a grace, a timeout sends SIGQUIT first (the Go runtime then prints
// where every goroutine is, the lesson of a program that hangs) and SIGKILL
// grace later; without, SIGKILL at once. Whatever is left of the group
// when the process is gone is killed.
func supervise(ctx context.Context, cmd *exec.Cmd, limit, grace time.Duration, over <-chan struct{}) (outcome, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = pipeDelay
	if err := cmd.Start(); err != nil {
		return outcome{}, err
	}
	pgid := cmd.Process.Pid
	waited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // the exit status is in cmd.ProcessState
		close(waited)
	}()
	var o outcome
	stop := func(r sandbox.Reason, sig syscall.Signal) {
		if o.reason == "" {
			o.reason = r
		}
		_ = syscall.Kill(-pgid, sig)
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()
	var kill <-chan time.Time
	done := ctx.Done()
	for {
		select {
		case <-waited:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			return o.finish(cmd.ProcessState)
		case <-timer.C:
			if grace > 0 {
				stop(sandbox.ReasonTimeout, syscall.SIGQUIT)
				kill = time.After(grace)
			} else {
				stop(sandbox.ReasonTimeout, syscall.SIGKILL)
			}
		case <-kill:
			kill = nil
			stop(sandbox.ReasonTimeout, syscall.SIGKILL)
		case <-over:
			over = nil // closed: select it once
			stop(sandbox.ReasonOutput, syscall.SIGKILL)
		case <-done:
			done = nil
			stop(sandbox.ReasonCanceled, syscall.SIGKILL)
		}
	}
}

// finish reads the exit status and resource use from ps.
func (o outcome) finish(ps *os.ProcessState) (outcome, error) {
	if ps == nil {
		return o, errors.New("the process was not waited for")
	}
	o.code = ps.ExitCode()
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		o.code, o.signaled = 128+int(ws.Signal()), true
	}
	o.cpuMs = (ps.UserTime() + ps.SystemTime()).Milliseconds()
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		o.peak = int64(ru.Maxrss)
		if runtime.GOOS != "darwin" { // Linux and the BSDs count KiB; macOS bytes.
			o.peak *= 1024
		}
	}
	return o, nil
}

// capped keeps the first limit bytes written to it. Write never fails, so
// the command is never stopped by a broken pipe.
type capped struct {
	limit     int64
	data      []byte
	truncated bool
}

func (c *capped) Write(p []byte) (int, error) {
	room := c.limit - int64(len(c.data))
	if int64(len(p)) > room {
		c.data = append(c.data, p[:max(room, 0)]...)
		c.truncated = true
		return len(p), nil
	}
	c.data = append(c.data, p...)
	return len(p), nil
}

// CheckListenAddr reports an error unless every address the host of addr
// ("host:port") names is a loopback address: the local backend runs code
// without isolation, so it must not be reachable from other machines.
func CheckListenAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return refuse(addr, "it is not host:port")
	}
	if host == "" {
		return refuse(addr, "without a host it listens on every network interface")
	}
	ips, err := resolve(host)
	if err != nil {
		return refuse(addr, fmt.Sprintf("cannot resolve %s: %v", host, err))
	}
	for _, ip := range ips {
		if ip.IsUnspecified() {
			return refuse(addr, fmt.Sprintf("%s means every network interface", ip))
		}
		if !ip.IsLoopback() {
			return refuse(addr, fmt.Sprintf("%s is not a loopback address", ip))
		}
	}
	return nil
}

// resolve returns the addresses host names: itself when it is an IP address.
func resolve(host string) ([]net.IP, error) {
	if ip := net.ParseIP(host); ip != nil {
		return []net.IP{ip}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, errors.New("no addresses")
	}
	ips := make([]net.IP, len(addrs))
	for i, a := range addrs {
		ips[i] = a.IP
	}
	return ips, nil
}

func refuse(addr, why string) error {
	return fmt.Errorf("local: will not listen on %q: %s; the local sandbox has no isolation; listen on 127.0.0.1 (for example 127.0.0.1:8080) or use --sandbox runc", addr, why)
}
