package runc

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/internal/driver"
	"github.com/racelab/racelab/sandbox/internal/gotool"
	"github.com/racelab/racelab/sandbox/internal/stream"
)

// statusWait bounds how long the build's status or its shell's first line
// may arrive after its container ended: the shell's end of the pipe is
// closed by then, so what it wrote is there at once.
const statusWait = 2 * time.Second

// statusKeepFailed is the build status the script reports when the binary
// could not be copied out for the repeats.
const statusKeepFailed = 125

// script is what the first container's shell runs: a blank line on fd 4
// as it starts, the build, with its output on fd 3 and its status on fd 4,
// then (for modes that run code) the program itself, which replaces the
// shell as the container's init process so that signals reach it. The
// program starts when the host writes a line to fd 5. With keep, the
// binary is first copied out through fd 6 for the repeats; the program
// never sees fds 3-6.
func (j *job) script(keep bool) string {
	p := j.plan
	var b strings.Builder
	b.WriteString("echo >&4\n") // the container has started
	build := p.Build
	if len(p.Env) > 0 {
		build = append(append([]string{"env"}, p.Env...), build...)
	}
	fmt.Fprintf(&b, "%s >&3 2>&3\ns=$?\n", gotool.ShellJoin(j.deadline(build, true)))
	if keep {
		// Kept before the status goes out, so that a failed copy is
		// reported as what it is, not as the program's exit.
		fmt.Fprintf(&b, "if [ $s -eq 0 ]; then cat %s >&6 || { echo 'racelab: could not keep the binary for the repeats' >&3; s=%d; }; fi\n",
			gotool.ShellQuote(p.Binary), statusKeepFailed)
	}
	b.WriteString("exec 3>&-\necho $s >&4\nexec 4>&-\n")
	if p.Binary == "" {
		return b.String() + "exit 0\n"
	}
	b.WriteString("[ $s -eq 0 ] || exit 0\n")
	// Wait for the host's go-ahead, so that the build event precedes the
	// program's first output and the program's clock starts after it.
	b.WriteString("read -r go <&5 || exit 0\n")
	b.WriteString("exec 5<&- 6>&- ")
	env := append([]string{"env", "-i"}, gotool.RunEnv(j.req, p, ctrTmp, ctrTmp)...)
	b.WriteString(gotool.ShellJoin(j.deadline(append(append(env, p.Binary), p.Args...), false)))
	b.WriteString("\n")
	return b.String()
}

// building is the first container of a job: it builds, reports, and waits
// for the go-ahead to run the program.
type building struct {
	j       *job
	c       *container
	start   time.Time        // when the container was started
	log     string           // the build's output, a file: the runtime keeps its own copy of the container's fds open, so a pipe would never report its end
	started <-chan time.Time // when the build's shell began; closed if it never did
	status  <-chan int       // the build's status; -1 when the shell died before it could say
	goAhead *os.File         // a line written here starts the program
	ours    []*os.File       // racelab's ends of the container's fds, closed by end
	shell   struct {         // what started said, once read
		at        time.Time
		ok, known bool
	}
}

// Build starts the first container and waits for the end of its build;
// see driver.Job.
func (j *job) Build(ctx context.Context, out *stream.Output) (driver.BuildResult, error) {
	b, err := j.startBuild(out)
	if err != nil {
		return driver.BuildResult{}, err
	}
	if err := b.awaitStart(ctx); err != nil {
		return driver.BuildResult{}, err
	}
	return b.await(ctx)
}

// awaitStart is the start phase: it waits for the build's shell to say
// it started, at most the runtime timeout. A runtime that does not start
// the container by then is stopped (killed, if it does not answer
// either), and the run ends with an error wrapping
// sandbox.ErrUnavailable. A stop, or a container that ends first, is for
// the build phase to handle.
func (b *building) awaitStart(ctx context.Context) error {
	timeout := b.j.r.cfg.RuntimeTimeout
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case t, ok := <-b.started:
		b.shell.at, b.shell.ok, b.shell.known = t, ok, true
	case <-timer.C:
		b.end()
		b.j.r.cfg.Log.Error("the runtime did not start a container", "container", b.c.id, "timeout", timeout)
		return fmt.Errorf("%w: the container runtime did not start a container within %v", sandbox.ErrUnavailable, timeout)
	case <-ctx.Done():
	case <-b.c.done:
	}
	return nil
}

// startBuild starts the first container with its fds: 3 the build's
// output, 4 the status, 5 the go-ahead, and 6 the kept binary for repeats.
func (j *job) startBuild(out *stream.Output) (*building, error) {
	b := &building{j: j, log: filepath.Join(j.dir, "build.log")}
	extra, err := b.openFds(j.keep())
	defer closeAll(extra) // the container has its own copies once started
	if err != nil {
		b.closeOurs()
		return nil, err
	}
	spec := containerSpec{
		args:     []string{"/bin/sh", "-c", j.script(j.keep())},
		env:      j.r.buildEnv(),
		workDir:  filepath.Join(j.data, "src"),
		cacheDir: filepath.Join(j.data, "cache"),
	}
	b.start = time.Now()
	if b.c, err = j.launch(spec, j.r.cfg.Limits.BuildCPUs, out, extra); err != nil {
		b.closeOurs()
		return nil, err
	}
	return b, nil
}

// keep reports whether the build copies the program out (fd 6): for the
// repeats, and for the binary cache.
func (j *job) keep() bool {
	return j.plan.Binary != "" && (j.req.Repeat > 1 || j.r.cache != nil)
}

// openFds opens the container's fds 3 to 6 and returns them; racelab's
// ends go to b.
func (b *building) openFds(keep bool) ([]*os.File, error) {
	logW, err := os.OpenFile(b.log, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	extra := []*os.File{logW}
	sR, sW, err := os.Pipe()
	if err != nil {
		return extra, err
	}
	extra, b.ours = append(extra, sW), append(b.ours, sR)
	b.started, b.status = readStatus(sR)
	gR, gW, err := os.Pipe()
	if err != nil {
		return extra, err
	}
	extra, b.ours, b.goAhead = append(extra, gR), append(b.ours, gW), gW
	if keep {
		f, err := os.OpenFile(filepath.Join(b.j.dir, "prog"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
		if err != nil {
			return extra, err
		}
		extra = append(extra, f)
	}
	return extra, nil
}

// await is the build phase: it waits for the build's status, enforcing
// the build's time limit and stopping it when ctx is done. A build that
// succeeded for a program leaves its container waiting for the go-ahead
// (held by the job); otherwise the container ends and is removed.
func (b *building) await(ctx context.Context) (driver.BuildResult, error) {
	timer := time.NewTimer(b.j.r.cfg.Limits.BuildTimeout)
	defer timer.Stop()
	var stopped sandbox.Reason
	status, done := b.status, ctx.Done()
	st, got, ms := 0, false, int64(0)
	for ended := false; !ended; {
		select {
		case st = <-status:
			status, got, ms = nil, true, time.Since(b.start).Milliseconds()
			if stopped == "" && st == 0 && b.j.plan.Binary != "" {
				b.j.held = b
				res := b.result("", st, 0, ms)
				if b.j.keep() {
					res.Binary = b.j.binary
				}
				return res, nil
			}
		case <-timer.C:
			stopped = first(stopped, sandbox.ReasonTimeout)
			b.c.kill()
		case <-done:
			done, stopped = nil, first(stopped, sandbox.ReasonCanceled)
			b.c.kill()
		case <-b.c.done:
			ended = true
		}
	}
	defer b.end()
	if !got {
		st, ms = b.lateStatus(), time.Since(b.start).Milliseconds()
	}
	if err := b.failure(stopped, st); err != nil {
		return driver.BuildResult{}, err
	}
	res := b.result(stopped, st, b.c.exitCode(), ms)
	var err error
	if b.j.plan.Output == gotool.Formatted && stopped == "" && st == 0 {
		// gofmt rewrote the files in the run's source directory.
		res.Files, res.FilesCut, err = gotool.ReadSource(filepath.Join(b.j.data, "src"), b.j.req.Files, b.j.r.cfg.Limits.OutputBytes)
	}
	return res, err
}

// first returns the reason a container was stopped for: the first one.
func first(had, r sandbox.Reason) sandbox.Reason {
	if had != "" {
		return had
	}
	return r
}

// lateStatus reads the status of a build whose container ended first.
func (b *building) lateStatus() int {
	select {
	case st := <-b.status:
		return st
	case <-time.After(statusWait):
		return -1
	}
}

// failure says when a build container that ended by itself (stopped is
// "") failed for a reason of the runtime's, not of the learner's code:
// its shell never started (the runtime refused the bundle), or it was
// built but ended before the program's go-ahead.
func (b *building) failure(stopped sandbox.Reason, st int) error {
	if stopped != "" {
		// A container racelab stopped itself may leave the runtime
		// complaining (it was killed while being created); that is no
		// failure of the runtime.
		return nil
	}
	if !b.shellStarted() {
		if err := b.c.runtimeError(); err != nil {
			return err // the runtime's own reason, when it logged one
		}
		return fmt.Errorf("%s: container %s did not start (status %d)", b.j.r.runtime, b.c.id, b.c.exitCode())
	}
	if st == -1 {
		// The shell died before it could report: the runtime's doing when
		// it logged why.
		return b.c.runtimeError()
	}
	if st == 0 && b.j.plan.Binary != "" {
		return fmt.Errorf("runc: container %s ended between its build and its program", b.c.id)
	}
	return nil
}

// shellStarted reports whether the build's shell said it started.
func (b *building) shellStarted() bool {
	_, ok := b.shellAt()
	return ok
}

// shellAt returns when the build's shell said it started, waiting for
// the answer at most statusWait the first time.
func (b *building) shellAt() (time.Time, bool) {
	if !b.shell.known {
		select {
		case t, ok := <-b.started:
			b.shell.at, b.shell.ok = t, ok
		case <-time.After(statusWait):
		}
		b.shell.known = true
	}
	return b.shell.at, b.shell.ok
}

// result is the build's result: its output, read from its log, and what
// its container's cgroup measured.
func (b *building) result(stopped sandbox.Reason, st, code int, ms int64) driver.BuildResult {
	r := b.j.r
	text, truncated := readCapped(b.log, r.cfg.Limits.OutputFor(b.j.req.Mode))
	u := r.cg.read(b.c.id)
	res := driver.BuildResult{Stopped: stopped, Status: st, Code: code, Output: text, Truncated: truncated,
		MemoryHit: u.limitHits > 0, Ms: ms, CPUMs: u.cpuNs / 1e6, PeakBytes: u.peak}
	if t, ok := b.shellAt(); ok && stopped == "" && st == 0 {
		res.StartMs = t.Sub(b.start).Milliseconds()
	}
	return res
}

// end stops the container if it still runs, waits for it and removes its
// cgroup; it closes racelab's ends of its fds.
func (b *building) end() {
	b.c.stop()
	b.j.r.cg.remove(b.c.id)
	b.closeOurs()
}

func (b *building) closeOurs() {
	closeAll(b.ours)
	b.ours = nil
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// readCapped reads at most limit bytes of the file at path, and reports
// whether there was more.
func readCapped(path string, limit int64) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, limit+1))
	if int64(len(b)) > limit {
		return string(b[:limit]), true
	}
	return string(b), false
}

// readStatus reads what the build's shell writes on f: a blank line as
// it starts (started gets the time it arrived) and then the build's
// status (-1 when the shell died before it could write one). The
// goroutine ends when the shell's end of f closes, with the container.
func readStatus(f *os.File) (started <-chan time.Time, status <-chan int) {
	st, ch := make(chan time.Time, 1), make(chan int, 1)
	go func() {
		r := bufio.NewReader(f)
		if _, err := r.ReadString('\n'); err != nil {
			close(st)
			ch <- -1
			return
		}
		st <- time.Now()
		line, err := r.ReadString('\n')
		n, perr := strconv.Atoi(strings.TrimSpace(line))
		if err != nil || perr != nil {
			n = -1
		}
		ch <- n
	}()
	return st, ch
}

// buildEnv is the build step's environment: gotool's, with the module
// download directory as a read-only file proxy when there is one, so that
// an import of a provided module resolves offline into the run's own
// module cache.
func (r *Runner) buildEnv() []string {
	env := gotool.BuildEnv(r.cfg.GOROOT, ctrTmp, ctrCache, ctrTmp)
	if r.proxyDir == "" {
		return env
	}
	for i, kv := range env {
		switch {
		case strings.HasPrefix(kv, "GOPROXY="):
			env[i] = "GOPROXY=file://" + ctrProxy
		case strings.HasPrefix(kv, "GOFLAGS="):
			env[i] = kv + " -mod=mod"
		}
	}
	return append(env, "GOMODCACHE="+ctrTmp+"/gomodcache")
}
