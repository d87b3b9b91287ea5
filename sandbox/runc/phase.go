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

	"github.com/racelab/racelab/sandbox/internal/gotool"
	"github.com/racelab/racelab/sandbox/internal/stream"
)

// script is what the first container's shell runs: a blank line on fd 4
// as it starts, the build, with its output on fd 3 and its status on fd 4, then (for modes that run code)
// the program itself, which replaces the shell as the container's init
// process so that signals reach it. The program starts when the host
// writes a line to fd 5. With keep, the binary is first copied out through
// fd 6 for the repeats; the program never sees fds 3-6.
func (ru *run) script(keep bool) string {
	p := ru.plan
	var b strings.Builder
	// A blank line on fd 4 first: the container has started.
	b.WriteString("echo >&4\n")
	fmt.Fprintf(&b, "%s >&3 2>&3\ns=$?\n", gotool.ShellJoin(p.Build))
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
	b.WriteString("exec 5<&- 6>&- env -i ")
	env := gotool.RunEnv(ru.req, p, ctrTmp, ctrTmp)
	b.WriteString(gotool.ShellJoin(append(append(env, p.Binary), p.Args...)))
	b.WriteString("\n")
	return b.String()
}

// statusKeepFailed is the build status the script reports when the binary
// could not be copied out for the repeats.
const statusKeepFailed = 125

// nextID names the run's next container.
func (ru *run) nextID() string {
	ru.n++
	return ru.id + "-" + strconv.Itoa(ru.n)
}

// buildAndRun runs the first container. It reports whether the program
// was built and the repeats may go on.
func (ru *run) buildAndRun(ctx context.Context) (bool, error) {
	r := ru.r
	// The build's output goes to a file, not a pipe: the runtime keeps its
	// own copy of the container's extra fds open while it runs, so a pipe
	// would never report its end.
	logPath := filepath.Join(ru.dir, "build.log")
	keep := ru.req.Repeat > 1
	// The container's ends (fds 3 to 6) are closed here once it started;
	// racelab's ends when this function returns.
	var extra, ours []*os.File
	defer func() {
		for _, f := range append(extra, ours...) {
			f.Close()
		}
	}()
	bW, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return false, err
	}
	extra = append(extra, bW)
	sR, sW, err := os.Pipe()
	if err != nil {
		return false, err
	}
	extra, ours = append(extra, sW), append(ours, sR)
	gR, gW, err := os.Pipe()
	if err != nil {
		return false, err
	}
	extra, ours = append(extra, gR), append(ours, gW)
	if keep {
		f, err := os.OpenFile(filepath.Join(ru.dir, "prog"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
		if err != nil {
			return false, err
		}
		extra = append(extra, f)
	}
	spec := containerSpec{
		args:     []string{"/bin/sh", "-c", ru.script(keep)},
		env:      r.buildEnv(),
		workDir:  filepath.Join(ru.data, "src"),
		cacheDir: filepath.Join(ru.data, "cache"),
	}
	w := &watch{ru: ru, run: 1, build: true, goAhead: gW}
	w.buildLog = logPath
	w.started, w.status = readStatus(sR)
	err = ru.launch(ctx, w, spec, extra)
	for _, f := range extra {
		f.Close() // the container has its own copies now
	}
	extra = nil
	if err != nil {
		return false, err
	}
	return w.supervise(ctx)
}

// runAgain runs the kept binary in a fresh container, with its own empty
// tmpfs /work and /tmp that vanish with it: repeat number i. It reports
// whether the repeats may go on.
func (ru *run) runAgain(ctx context.Context, i int) (bool, error) {
	spec := containerSpec{
		args:   append([]string{ctrProg}, ru.plan.Args...),
		env:    gotool.RunEnv(ru.req, ru.plan, ctrTmp, ctrTmp),
		binary: filepath.Join(ru.dir, "prog"),
	}
	w := &watch{ru: ru, run: i}
	if err := ru.launch(ctx, w, spec, nil); err != nil {
		return false, err
	}
	return w.supervise(ctx)
}

// launch writes the bundle, makes the container's cgroup and starts it.
func (ru *run) launch(ctx context.Context, w *watch, spec containerSpec, extra []*os.File) error {
	r := ru.r
	w.ctrID = ru.nextID()
	spec.cgroup = r.cg.path(w.ctrID)
	spec.uid, spec.gid = ru.uid, r.cfg.GID+(ru.uid-r.cfg.UID)
	bundle := filepath.Join(ru.dir, "b"+strconv.Itoa(ru.n))
	if err := r.writeBundle(bundle, spec); err != nil {
		return fmt.Errorf("runc: bundle: %w", err)
	}
	cpus := r.cfg.Limits.CPUs
	if w.build {
		cpus = r.cfg.Limits.BuildCPUs
	}
	if err := r.cg.create(w.ctrID, r.cfg.Limits.MemoryFor(ru.req.Mode), cpus); err != nil {
		r.cg.remove(w.ctrID)
		return err
	}
	w.start = time.Now()
	w.out = stream.New(ru.emit, ru.runIndex(w.run), r.cfg.Limits.OutputFor(ru.req.Mode), w.start)
	w.out.SetRewrite(gotool.Renamed, gotool.Original)
	c, err := r.start(w.ctrID, bundle, w.out, extra)
	if err != nil {
		r.cg.remove(w.ctrID)
		return err
	}
	w.c = c
	return nil
}

// capped is what a bounded reader read.
type capped struct {
	data      []byte
	truncated bool
}

// readCapped reads at most limit bytes of the file at path.
func readCapped(path string, limit int64) capped {
	f, err := os.Open(path)
	if err != nil {
		return capped{}
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, limit+1))
	if int64(len(b)) > limit {
		return capped{data: b[:limit], truncated: true}
	}
	return capped{data: b}
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
