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

// firstInit is the first container's init: a shell that says it started
// (a line on fd 4) and then runs the script that racelab writes on fd 7
// when a request claims the container. Until then it runs nothing; an
// end of fd 7 without a script (racelab released the container, or died)
// ends it.
const firstInit = "echo >&4\n. /proc/self/fd/7\n"

// script is the script of a request that builds: the build, with its
// output on fd 3 and its status on fd 4, then (for modes that run code)
// the program itself, which replaces the shell as the container's init
// process so that signals reach it. The program starts when the host
// writes a line to fd 5. With keep, the binary is first copied out
// through fd 6 for the repeats; the program never sees fds 3-7.
func (j *job) script(keep bool) string {
	p := j.plan
	var b strings.Builder
	b.WriteString("exec 7<&-\n")
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
	b.WriteString(j.program(p.Binary, "5<&- 6>&-") + "\n")
	return b.String()
}

// cachedScript is the script of a request for a program built earlier:
// no build, the program (copied to the file bound at /prog) at once.
func (j *job) cachedScript() string {
	return j.program(ctrProg, "3>&- 4>&- 5<&- 6>&- 7<&-") + "\n"
}

// program is the end of a first container's script: the shell, which has
// the build's environment, clears it and exports the program's (as env -i
// would, without another exec), then becomes the program at path under
// its deadline, closing its fds as closing says.
func (j *job) program(path, closing string) string {
	names := []string{"PWD", "OLDPWD"}
	for _, kv := range j.r.buildEnv() {
		name, _, _ := strings.Cut(kv, "=")
		names = append(names, name)
	}
	run := gotool.RunEnv(j.req, j.plan, ctrTmp, ctrTmp)
	argv := j.deadline(append([]string{path}, j.plan.Args...), false)
	return "unset " + strings.Join(names, " ") + "\nexport " + gotool.ShellJoin(run) +
		"\nexec " + closing + " " + gotool.ShellJoin(argv)
}

// building is the first container of a run: started ahead, it waits for
// a script; claimed by a request, it builds, reports, and waits for the
// go-ahead to run the program.
type building struct {
	standing
	j       *job             // the job that claimed it; nil until then
	start   time.Time        // when the request claimed it, or began to wait for it
	sent    time.Time        // when the request's script went to its shell
	log     string           // the build's output, a file: the runtime keeps its own copy of the container's fds open, so a pipe would never report its end
	started <-chan time.Time // when the shell began; closed if it never did
	status  <-chan int       // the build's status; -1 when the shell died before it could say
	goAhead *os.File         // a line written here starts the program
	script  *os.File         // the request's script is written here
}

// Build claims the run's first container, hands it the request and waits
// for the end of its build; see driver.Job. Ms counts from the claim;
// StartMs is the part of it the request waited for its container (for
// its preparation, when it was not ready yet) and handed it the request.
func (j *job) Build(ctx context.Context, out *stream.Output) (driver.BuildResult, error) {
	start := time.Now()
	b, err := j.claim(ctx)
	if b == nil {
		ms := time.Since(start).Milliseconds()
		return driver.BuildResult{Stopped: sandbox.ReasonCanceled, Status: -1, Code: -1, Ms: ms}, err
	}
	b.start = start
	err = j.writeFiles()
	if err == nil {
		err = j.handOver(b, out, j.script(j.keep()))
	}
	if err != nil {
		b.end()
		return driver.BuildResult{}, err
	}
	return b.await(ctx)
}

// claim waits for the run's first container, and takes it. It returns
// nil when ctx ended first, or with the error of a preparation that
// failed (nothing is then prepared for the slot until a run of its own
// started a container).
func (j *job) claim(ctx context.Context) (*building, error) {
	p := j.first
	if !p.ready(ctx) {
		return nil, nil
	}
	j.first = nil
	if p.err != nil {
		j.cold = true
		return nil, p.err
	}
	p.val.j = j
	return p.val, nil
}

// handOver gives the claimed first container the rest of the request:
// the memory limit of its mode, where its output goes, and the script its
// shell runs.
func (j *job) handOver(b *building, out *stream.Output, script string) error {
	if err := j.r.setMemory(b.c.id, j.req.Mode); err != nil {
		return err
	}
	b.sink.bind(out)
	_, err := b.script.WriteString(script)
	b.script.Close() // the shell reads the script's end
	b.sent = time.Now()
	if err != nil {
		return fmt.Errorf("runc: container %s ended before its run: %w", b.c.id, err)
	}
	return nil
}

// startFirst starts the place's first container, with its fds: 3 the
// build's output, 4 the status, 5 the go-ahead, 6 the kept binary, 7 the
// script; and the file at /prog. It returns once the container's shell
// is ready.
func (p place) startFirst(ctx context.Context) (*building, error) {
	b := &building{standing: standing{sink: &sink{}}, log: filepath.Join(p.dir, "build.log")}
	fds := b.openFds(p)
	defer closeAll(fds.theirs) // the container has its own copies once started
	if fds.err != nil {
		closeAll(fds.ours)
		return nil, fds.err
	}
	b.ours = fds.ours
	spec := containerSpec{
		args:     []string{"/bin/sh", "-c", firstInit},
		env:      p.r.buildEnv(),
		workDir:  filepath.Join(p.data, "src"),
		cacheDir: filepath.Join(p.data, "cache"),
		binary:   filepath.Join(p.dir, progFile),
	}
	id, bundle := p.ctr(1)
	c, err := p.launch(id, bundle, spec, p.r.memoryAhead(), p.r.cfg.Limits.BuildCPUs, b.sink, fds.theirs)
	if err != nil {
		closeAll(b.ours)
		return nil, err
	}
	b.c = c
	if err := awaitReady(ctx, c, b.started); err != nil {
		p.notReady(ctx, &b.standing, err)
		return nil, err
	}
	return b, nil
}

// keep reports whether the build copies the program out (fd 6): for the
// repeats, and for the binary cache.
func (j *job) keep() bool {
	return j.plan.Binary != "" && (j.req.Repeat > 1 || j.r.cache != nil)
}

// openFds opens the first container's fds 3 to 7.
func (b *building) openFds(p place) *fdSet {
	fds := &fdSet{}
	fds.file(b.log, 0o600)
	sR := fds.pipe(true)
	b.goAhead = fds.pipe(false)
	fds.file(filepath.Join(p.dir, keptFile), 0o755)
	b.script = fds.pipe(false)
	if fds.err == nil {
		// The shell reads its script by the name /proc/self/fd/7, which
		// opens the pipe anew: as the slot's user, it must own it.
		fds.err = b.script.Chown(p.uid, p.gid)
	}
	if fds.err == nil {
		b.started, b.status = readStatus(sR)
	}
	return fds
}

// fdSet collects the extra fds of a container (its fds 3, 4, … in order)
// and racelab's ends of the same pipes; the first error stops it.
type fdSet struct {
	theirs []*os.File
	ours   []*os.File
	err    error
}

// pipe adds a pipe the container writes (theyWrite) or reads, and returns
// racelab's end of it.
func (s *fdSet) pipe(theyWrite bool) *os.File {
	if s.err != nil {
		return nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		s.err = err
		return nil
	}
	theirs, ours := r, w
	if theyWrite {
		theirs, ours = w, r
	}
	s.theirs, s.ours = append(s.theirs, theirs), append(s.ours, ours)
	return ours
}

// file adds the file at path, made empty and opened for writing.
func (s *fdSet) file(path string, perm os.FileMode) {
	if s.err != nil {
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		s.err = err
		return
	}
	s.theirs = append(s.theirs, f)
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
// its shell died before it could report (the runtime's doing when it
// logged why), or it was built but ended before the program's go-ahead.
// (A container that never started fails before its claim: see
// awaitReady.)
func (b *building) failure(stopped sandbox.Reason, st int) error {
	if stopped != "" {
		// A container racelab stopped itself may leave the runtime
		// complaining (it was killed while being created); that is no
		// failure of the runtime.
		return nil
	}
	if st == -1 {
		return b.c.runtimeError()
	}
	if st == 0 && b.j.plan.Binary != "" {
		return fmt.Errorf("runc: container %s ended between its build and its program", b.c.id)
	}
	return nil
}

// result is the build's result: its output, read from its log, and what
// its container's cgroup measured.
func (b *building) result(stopped sandbox.Reason, st, code int, ms int64) driver.BuildResult {
	r := b.j.r
	text, truncated := readCapped(b.log, r.cfg.Limits.OutputFor(b.j.req.Mode))
	u := r.cg.read(b.c.id)
	res := driver.BuildResult{Stopped: stopped, Status: st, Code: code, Output: text, Truncated: truncated,
		MemoryHit: u.limitHits > 0, Ms: ms, CPUMs: u.cpuNs / 1e6, PeakBytes: u.peak}
	if stopped == "" && st == 0 {
		// Rounded up: a start that happened is never reported as none.
		res.StartMs = (b.sent.Sub(b.start) + time.Millisecond - 1).Milliseconds()
	}
	return res
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
