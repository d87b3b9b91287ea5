package runc

import (
	"context"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/racelab/racelab/sandbox/internal/gotool"
	"github.com/racelab/racelab/sandbox/internal/stream"
)

// spareAhead is how many containers of later executions a repeated
// request has prepared at once. Starting a container on runc costs about
// 25 ms of CPU, more than a small program's run: with one prepared
// during each run, the next run would wait for the rest of its start.
const spareAhead = 2

// spare is the container of a later execution, prepared during the
// executions before it: started, its init a shell that said it started
// and waits for the go-ahead on a pipe to become the program. It has run
// nothing before its go-ahead.
type spare struct {
	standing
	goAhead *os.File
}

// prepareNext starts preparing the containers of the executions after i
// that the request may still run, up to spareAhead of them.
func (j *job) prepareNext(i int) {
	for len(j.next) < spareAhead && i+len(j.next) < j.req.Repeat {
		j.next = append(j.next, j.startSpare())
	}
}

// startSpare names the job's next container and starts preparing it.
func (j *job) startSpare() *pending[*spare] {
	j.n++
	id, bundle := j.ctr(j.n)
	spec := containerSpec{
		args:   j.spareArgs(),
		env:    gotool.RunEnv(j.req, j.plan, ctrTmp, ctrTmp),
		binary: j.binary,
	}
	pl, memory := j.place, j.r.cfg.Limits.MemoryFor(j.req.Mode)
	return prepareAhead(func(ctx context.Context) (*spare, error) {
		return pl.startSpare(ctx, id, bundle, spec, memory)
	})
}

// spareArgs is the init of a spare container: racelab's init (or,
// without it, a shell) that says it started (fd 3), waits for racelab's
// go-ahead (fd 4) and then runs the program under its deadline, with the
// environment of the spec (a shell's own PWD unset); racelab closing fd 4
// instead ends it.
func (j *job) spareArgs() []string {
	if j.r.hasInit {
		return j.initArgs(3, 4, append([]string{ctrProg}, j.plan.Args...))
	}
	argv := j.deadline(append([]string{ctrProg}, j.plan.Args...), false)
	return []string{"/bin/sh", "-c", "echo >&3\nread -r go <&4 || exit 0\nunset PWD OLDPWD\nexec 3>&- 4<&- " + gotool.ShellJoin(argv) + "\n"}
}

// startSpare starts the spare container id with the program's limits and
// returns it once its shell is ready.
func (p place) startSpare(ctx context.Context, id, bundle string, spec containerSpec, memory int64) (*spare, error) {
	s := &spare{standing: standing{sink: &sink{}}}
	fds := &fdSet{}
	ready := fds.pipe(true)
	s.goAhead = fds.pipe(false)
	defer closeAll(fds.theirs)
	if fds.err != nil {
		closeAll(fds.ours)
		return nil, fds.err
	}
	s.ours = fds.ours
	c, err := p.launch(id, bundle, spec, memory, p.r.cfg.Limits.CPUs, s.sink, fds.theirs)
	if err != nil {
		closeAll(s.ours)
		return nil, err
	}
	s.c = c
	if err := awaitReady(ctx, c, readReady(ready)); err != nil {
		p.notReady(ctx, &s.standing, err)
		return nil, err
	}
	return s, nil
}

// notReady logs why the container of s, prepared ahead, did not start
// (unless its preparation was abandoned), and ends it.
func (p place) notReady(ctx context.Context, s *standing, err error) {
	if ctx.Err() == nil {
		p.r.cfg.Log.Warn("a container prepared ahead did not start", "container", s.c.id, "err", err, "output", s.sink.heldText())
	}
	s.end()
}

// goOn binds the spare's output to out and starts the program.
func (s *spare) goOn(out *stream.Output) error {
	s.sink.bind(out)
	if _, err := s.goAhead.Write([]byte("go\n")); err != nil {
		return fmt.Errorf("runc: container %s ended before its program", s.c.id)
	}
	return nil
}

// readReady reads the line a container's shell writes on f as it starts:
// the channel gets the time it arrived, or is closed if the shell never
// wrote it. The goroutine ends then (at the latest with the container,
// when its runtime closes its copy of the pipe, or when racelab closes f).
func readReady(f *os.File) <-chan time.Time {
	ch := make(chan time.Time, 1)
	go func() {
		var b [1]byte
		if _, err := io.ReadFull(f, b[:]); err != nil {
			close(ch)
			return
		}
		ch <- time.Now()
	}()
	return ch
}

// copyFile copies the file at src to the file at dst, which it makes
// empty first (keeping its inode, which a container may have bound). It
// holds syscall.ForkLock while dst is open for writing: a process racelab
// forked meanwhile would hold a copy of that fd until its exec, and a
// container's exec of dst could then fail with ETXTBSY (golang/go#22315).
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
