package runc

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/internal/driver"
	"github.com/racelab/racelab/sandbox/internal/stream"
)

// Run executes the built program as execution i; see driver.Job. The
// first runs in the run's first container (the build's, or, for a
// program built earlier, that container with no build), the others each
// in a fresh one with its own empty tmpfs /work and /tmp that vanish with
// it. Each container is prepared ahead, and its run's timers start at
// its go-ahead.
func (j *job) Run(ctx context.Context, i int, out *stream.Output) (driver.RunResult, error) {
	if b := j.held; b != nil {
		j.held = nil
		defer b.end()
		return j.goAhead(ctx, i, b, out)
	}
	if j.first != nil {
		return j.runCached(ctx, i, out)
	}
	return j.runAgain(ctx, i, out)
}

// goAhead starts the program in the build's container, with the
// program's CPU limit and a fresh peak, and supervises it.
func (j *job) goAhead(ctx context.Context, i int, b *building, out *stream.Output) (driver.RunResult, error) {
	before, err := j.programLimits(b.c.id)
	if err != nil {
		return driver.RunResult{}, err
	}
	if _, err := b.goAhead.Write([]byte("go\n")); err != nil {
		return driver.RunResult{}, fmt.Errorf("runc: container %s ended between its build and its program", b.c.id)
	}
	j.prepareNext(i)
	stopped := j.supervise(ctx, b.c, out)
	return j.result(b.c, stopped, before), nil
}

// runCached runs a program built earlier (see Use) in the run's first
// container, prepared before the request: the program is copied to the
// file bound read-only at /prog, and the container's shell runs it.
func (j *job) runCached(ctx context.Context, i int, out *stream.Output) (driver.RunResult, error) {
	b, err := j.claim(ctx)
	if b == nil {
		return driver.RunResult{Stopped: sandbox.ReasonCanceled, Code: -1}, err
	}
	defer b.end()
	if err := copyFile(j.binary, filepath.Join(j.dir, progFile)); err != nil {
		return driver.RunResult{}, fmt.Errorf("runc: copy the program built earlier: %w", err)
	}
	before, err := j.programLimits(b.c.id)
	if err != nil {
		return driver.RunResult{}, err
	}
	if err := j.handOver(b, out, j.cachedScript()); err != nil {
		return driver.RunResult{}, err
	}
	j.prepareNext(i)
	stopped := j.supervise(ctx, b.c, out)
	return j.result(b.c, stopped, before), nil
}

// programLimits gives the container id the program's CPU limit and a
// fresh peak, and returns what its cgroup measured so far, which the
// program's result does not count.
func (j *job) programLimits(id string) (usage, error) {
	cg := j.r.cg
	if err := cg.setCPU(id, j.r.cfg.Limits.CPUs); err != nil {
		return usage{}, fmt.Errorf("runc: cannot limit the program's CPU: %w", err)
	}
	before := cg.read(id)
	cg.resetPeak(id)
	return before, nil
}

// Use runs the program built earlier at binary; see driver.Job. The first
// container gets a copy of it, the repeats' containers it itself, bound
// read-only.
func (j *job) Use(binary string) { j.binary = binary }

// runAgain runs the binary in the fresh container prepared for execution
// i (during the one before it).
func (j *job) runAgain(ctx context.Context, i int, out *stream.Output) (driver.RunResult, error) {
	j.prepareNext(i - 1) // none prepared: the request repeats more than was known
	p := j.next[0]
	j.next = j.next[1:]
	defer p.discard()
	if !p.ready(ctx) {
		return driver.RunResult{Stopped: sandbox.ReasonCanceled, Code: -1}, nil
	}
	if p.err != nil {
		return driver.RunResult{}, p.err
	}
	s := p.val
	before := j.r.cg.read(s.c.id)
	j.r.cg.resetPeak(s.c.id)
	if err := s.goOn(out); err != nil {
		return driver.RunResult{}, err
	}
	j.prepareNext(i)
	stopped := j.supervise(ctx, s.c, out)
	if stopped == "" {
		// An ending racelab did not cause, with the runtime complaining,
		// is the runtime's failure, not the program's.
		if err := s.c.runtimeError(); err != nil {
			return driver.RunResult{}, err
		}
	}
	return j.result(s.c, stopped, before), nil
}

// supervise is the run phase: it waits for the container to end,
// enforcing the run's time limit (SIGQUIT first, so that the Go runtime
// prints where every goroutine is, then SIGKILL a grace later) and the
// output limit, and stopping it when ctx is done. It returns why racelab
// stopped it, or "".
func (j *job) supervise(ctx context.Context, c *container, out *stream.Output) sandbox.Reason {
	l := j.r.cfg.Limits
	timer := time.NewTimer(l.RunTimeout)
	defer timer.Stop()
	var grace <-chan time.Time
	var stopped sandbox.Reason
	// Each channel is set to nil once it has fired, so the loop then
	// waits for the container instead of spinning on a closed channel.
	exceeded, done := out.Exceeded(), ctx.Done()
	for {
		select {
		case <-timer.C:
			stopped = first(stopped, sandbox.ReasonTimeout)
			c.quit()
			grace = time.After(l.KillGrace)
		case <-grace:
			grace = nil
			c.kill()
		case <-exceeded:
			exceeded, stopped = nil, first(stopped, sandbox.ReasonOutput)
			c.kill()
		case <-done:
			done, stopped = nil, first(stopped, sandbox.ReasonCanceled)
			c.kill()
		case <-c.done:
			return stopped
		}
	}
}

// result is how the program in c ended: its exit status and what its
// cgroup measured since before.
func (j *job) result(c *container, stopped sandbox.Reason, before usage) driver.RunResult {
	u := j.r.cg.read(c.id)
	code := c.exitCode()
	return driver.RunResult{Stopped: stopped, Code: code, Signaled: code > 128,
		MemoryHit: u.limitHits > before.limitHits, CPUMs: (u.cpuNs - before.cpuNs) / 1e6, PeakBytes: u.peak}
}

// backstop is how much later than racelab's own timer the deadline
// inside a container fires: racelab, when it is alive, acts first.
const backstop = 500 * time.Millisecond

// deadline wraps argv in racelab's init (init.go) or, without it,
// coreutils' timeout, which runs it as the container's init: the
// container ends by its own deadline even if racelab itself is killed
// and cannot stop it. A program gets SIGQUIT (its goroutine dump) at the
// run timeout and SIGKILL a grace later; a build, SIGKILL at the build
// timeout (always timeout's). Either passes on the signals racelab sends
// (a SIGQUIT also starts its own SIGKILL a grace later) and exits as the
// program did (128+N after signal N).
func (j *job) deadline(argv []string, build bool) []string {
	l := j.r.cfg.Limits
	if build {
		return append([]string{"timeout", "-s", "KILL", seconds(l.BuildTimeout + backstop)}, argv...)
	}
	if j.r.hasInit {
		return j.initArgs(-1, -1, argv)
	}
	t := []string{"timeout", "--preserve-status", "-s", "QUIT", "-k", seconds(l.KillGrace), seconds(l.RunTimeout + backstop)}
	if l.KillGrace <= 0 {
		t = []string{"timeout", "--preserve-status", "-s", "KILL", seconds(l.RunTimeout + backstop)}
	}
	return append(t, argv...)
}

// seconds formats d for timeout.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) + "s"
}
