package local

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"

	"github.com/racelab/racelab/sandbox"
)

// pipeDelay is how long a process's output pipes may stay open after it
// exited (held by a child that escaped its process group) before they are
// closed and the run goes on.
const pipeDelay = 250 * time.Millisecond

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
	g := group{pgid: cmd.Process.Pid}
	waited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // the exit status is in cmd.ProcessState; the goroutine ends with the process
		close(waited)
	}()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	var kill <-chan time.Time
	done := ctx.Done()
	for {
		select {
		case <-waited:
			g.signal(syscall.SIGKILL)
			return g.finish(cmd.ProcessState)
		case <-timer.C:
			kill = g.timedOut(grace)
		case <-kill:
			kill = nil
			g.stop(sandbox.ReasonTimeout, syscall.SIGKILL)
		case <-over:
			over = nil // closed: select it once
			g.stop(sandbox.ReasonOutput, syscall.SIGKILL)
		case <-done:
			done = nil
			g.stop(sandbox.ReasonCanceled, syscall.SIGKILL)
		}
	}
}

// group is a supervised process group and why it was stopped.
type group struct {
	pgid int
	o    outcome
}

// stop records why the group is stopped (the first reason wins) and
// signals it.
func (g *group) stop(r sandbox.Reason, sig syscall.Signal) {
	if g.o.reason == "" {
		g.o.reason = r
	}
	g.signal(sig)
}

func (g *group) signal(sig syscall.Signal) { _ = syscall.Kill(-g.pgid, sig) }

// timedOut stops the group for its time limit: SIGQUIT and a SIGKILL
// grace later (it returns when), or SIGKILL at once without a grace.
func (g *group) timedOut(grace time.Duration) <-chan time.Time {
	if grace <= 0 {
		g.stop(sandbox.ReasonTimeout, syscall.SIGKILL)
		return nil
	}
	g.stop(sandbox.ReasonTimeout, syscall.SIGQUIT)
	return time.After(grace)
}

// finish reads the exit status and resource use from ps.
func (g *group) finish(ps *os.ProcessState) (outcome, error) {
	o := g.o
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
