package runc

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/internal/gotool"
	"github.com/racelab/racelab/sandbox/internal/stream"
)

// watch supervises one container: it switches from the build to the
// program when the build reports its status, enforces the wall-time and
// output limits, stops the container when the client goes away, and
// emits the exit event.
type watch struct {
	ru    *run
	run   int  // repeat number, from 1
	build bool // the container builds first
	ctrID string
	c     *container
	out   *stream.Output
	start time.Time // container start; then program start

	buildLog string           // the build's output
	started  <-chan time.Time // when the build's shell began
	shellAt  time.Time        // that time, once read from started
	status   <-chan int
	goAhead  *os.File // a line written here starts the program

	running     bool // the program has started
	buildStatus int  // the build's exit status, once known
	reason      sandbox.Reason
	cpu0        int64 // the cgroup's CPU time when the program started
	hits0       int64 // memory limit hits before the program started
}

// supervise waits for the container to end and reports how it ended.
// It returns whether the program was built (and may be run again).
func (w *watch) supervise(ctx context.Context) (bool, error) {
	defer w.ru.r.cg.remove(w.ctrID)
	l := w.ru.r.cfg.Limits
	limit := l.RunTimeout
	if w.build {
		limit = l.BuildTimeout
	} else {
		w.running = true
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()
	var grace <-chan time.Time
	// Each channel is set to nil once it has fired, so the loop then
	// waits for the container instead of spinning on a closed channel.
	exceeded, done := w.out.Exceeded(), ctx.Done()
	for {
		select {
		case st := <-w.status:
			w.status = nil
			if w.reason != "" {
				// Stopped (cancelled, out of time) while the build ended:
				// record its status, start nothing.
				w.buildStatus = st
				continue
			}
			if !w.built(st) {
				timer.Stop()
				continue
			}
			timer.Reset(l.RunTimeout)
		case <-timer.C:
			w.stop(sandbox.ReasonTimeout)
			if w.running {
				// SIGQUIT first: the Go runtime prints where every goroutine
				// is, which is the lesson of a program that hangs.
				w.c.signal(syscall.SIGQUIT)
				grace = time.After(l.KillGrace)
			} else {
				w.c.kill()
			}
		case <-grace:
			grace = nil
			w.c.kill()
		case <-exceeded:
			exceeded = nil
			w.stop(sandbox.ReasonOutput)
			w.c.kill()
		case <-done:
			done = nil
			w.stop(sandbox.ReasonCanceled)
			w.c.kill()
		case <-w.c.done:
			return w.finish()
		}
	}
}

// stop records why the container is being stopped; the first reason wins.
func (w *watch) stop(r sandbox.Reason) {
	if w.reason == "" {
		w.reason = r
	}
}

// built handles the build's status and reports whether the program now
// runs. It emits the build's results: the build event, diagnostics, the
// assembly listing.
func (w *watch) built(st int) bool {
	ru := w.ru
	out := readCapped(w.buildLog, ru.r.cfg.Limits.OutputFor(ru.req.Mode))
	w.buildStatus = st
	ms := time.Since(w.start).Milliseconds()
	text := string(out.data)
	u := ru.r.cg.read(w.ctrID)
	if st != 0 && u.limitHits > 0 && strings.Contains(text, "signal: killed") {
		// The compiler (or gcc) was killed for memory: go build reports
		// a bare "signal: killed", and the memory limit was reached.
		w.stop(sandbox.ReasonMemory)
		return false
	}
	switch {
	case ru.req.Mode == sandbox.ModeVet:
		gotool.EmitDiagnostics(ru.emit, text, out.truncated)
		return false
	case st != 0:
		gotool.EmitDiagnostics(ru.emit, text, out.truncated)
		return false
	case ru.req.Mode == sandbox.ModeAsm:
		ru.emit(sandbox.Event{Kind: sandbox.KindAsm, Lines: gotool.Asm(text, ctrWork)})
		if out.truncated {
			w.stop(sandbox.ReasonOutput)
		}
		return false
	}
	var startMs int64
	select {
	case t, ok := <-w.started:
		if ok {
			w.shellAt = t
			startMs = t.Sub(w.start).Milliseconds()
		}
	default:
	}
	ru.emit(sandbox.Event{Kind: sandbox.KindBuild, Ms: ms, StartMs: startMs})
	if text = gotool.QuietBuild(text); text != "" {
		ru.emit(sandbox.Event{Kind: sandbox.KindStderr, Run: ru.runIndex(w.run), Data: text, TMs: ms})
	}
	w.running = true
	w.start = time.Now()
	w.out.Restart(w.start)
	ru.r.cg.resetPeak(w.ctrID)
	if err := ru.r.cg.setCPU(w.ctrID, ru.r.cfg.Limits.CPUs); err != nil {
		ru.r.cfg.Log.Error("cannot limit the program's CPU; stopping it", "err", err)
		w.c.kill()
		return false
	}
	w.cpu0 = u.cpuNs
	w.hits0 = u.limitHits
	if _, err := w.goAhead.Write([]byte("go\n")); err != nil {
		return false // the container is already gone
	}
	return true
}

// shellStarted reports whether the build's shell said it started. The
// container is gone, so the answer is there at once.
func (w *watch) shellStarted() bool {
	select {
	case t, ok := <-w.started:
		w.shellAt = t
		return ok
	case <-time.After(2 * time.Second):
		return false
	}
}

// finish emits the exit event once the container is gone, after the
// events parsed from the program's complete standard error (its races,
// its stuck goroutines).
func (w *watch) finish() (bool, error) {
	ru := w.ru
	l := ru.r.cfg.Limits
	if w.build && w.status != nil {
		// The container ended as its status arrived, and supervise saw
		// the end first: the shell's end of the pipe is closed now, so
		// what it wrote is there at once. A build that failed must still
		// report its errors.
		select {
		case st := <-w.status:
			w.status = nil
			switch {
			case w.reason != "":
				w.buildStatus = st
			case st == 0 && w.ru.plan.Binary != "":
				// Built, but the container ended before the program's
				// go-ahead: nothing of the learner's ran.
				return false, fmt.Errorf("runc: container %s ended between its build and its program", w.ctrID)
			default:
				w.built(st) // as supervise would have
			}
		case <-time.After(2 * time.Second):
		}
	}
	// A container racelab stopped itself may leave the runtime complaining
	// (it was killed while being created); that is no failure of the
	// runtime. Otherwise an ending without a build status, or a repeat
	// that never ran, is one; so is a build container whose shell never
	// said it started.
	if w.reason == "" && (!w.build || w.status != nil) {
		if err := w.c.runtimeError(); err != nil {
			return false, err
		}
	}
	if w.build && !w.running && w.reason == "" && w.shellAt.IsZero() && !w.shellStarted() {
		if err := w.c.runtimeError(); err != nil {
			return false, err // the runtime's own reason, when it logged one
		}
		return false, fmt.Errorf("%s: container %s did not start (status %d)", ru.r.runtime, w.ctrID, w.c.exitCode())
	}
	u := ru.r.cg.read(w.ctrID)
	code := w.c.exitCode()
	ev := sandbox.Event{Kind: sandbox.KindExit, Run: ru.runIndex(w.run), Ms: time.Since(w.start).Milliseconds(),
		CPUMs: (u.cpuNs - w.cpu0) / 1e6, PeakBytes: u.peak}
	switch {
	case w.reason == "" && u.limitHits > w.hits0 && code == 128+int(syscall.SIGKILL):
		w.reason = sandbox.ReasonMemory
	case w.reason == "" && w.running && code > 128:
		w.reason = sandbox.ReasonKilled
	case w.reason == "":
		w.reason = sandbox.ReasonExited
	}
	ev.Reason, ev.Code = w.reason, code
	switch {
	case !w.running && w.reason == sandbox.ReasonExited && ru.req.Mode == sandbox.ModeVet:
		ev.Code = w.buildStatus
		ev.Msg = gotool.VetMessage(w.buildStatus)
	case !w.running && w.reason == sandbox.ReasonExited && ru.req.Mode == sandbox.ModeAsm && w.buildStatus == 0:
		ev.Msg = gotool.AsmMessage
	case !w.running && w.reason == sandbox.ReasonExited:
		ev.Reason, ev.Code = sandbox.ReasonBuildFailed, w.buildStatus
		ev.Msg = gotool.Explain(ev.Reason, ev.Code, ru.req.Mode, l)
	case !w.running:
		ev.Msg = gotool.ExplainBuild(w.reason, ru.req.Mode, l)
	default:
		ev.Msg = gotool.Explain(w.reason, code, ru.req.Mode, l)
	}
	if w.running {
		_, stderr := w.out.Text()
		gotool.EmitViews(ru.emit, ru.runIndex(w.run), stderr, w.reason == sandbox.ReasonTimeout, ru.req.Files, ctrWork)
	}
	ru.emit(ev)
	if ru.tally != nil && w.running {
		stdout, stderr := w.out.Text()
		ru.tally.Add(stdout, gotool.HasRace(stderr), ev)
	}
	return w.running && w.reason != sandbox.ReasonCanceled, nil
}
