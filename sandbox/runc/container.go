package runc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/racelab/racelab/sandbox/internal/stream"
)

// container is one `runc run` of a run: it starts the container, waits
// for its init process and removes it when that process exits.
type container struct {
	r      *Runner
	id     string
	bundle string
	cmd    *exec.Cmd
	exited chan struct{} // closed once runc has exited
	done   chan struct{} // closed once runc has exited and the output is drained
	killed chan struct{} // closed when kill was asked for
	err    error         // cmd.Wait's error, valid after done
}

// killRetry is how often kill asks the runtime again while the container
// is still being created (the runtime knows it only once created).
const killRetry = 20 * time.Millisecond

// drainWait bounds how long a container's output may go on after its
// runtime has exited (every process of it is dead by then; this only
// guards against a kernel that is slow to close the pipes).
const drainWait = time.Second

// start starts the container described by bundle. The container's stdout
// and stderr are pumped to out; extra become its fds 3, 4, ….
func (r *Runner) start(id, bundle string, out *sink, extra []*os.File) (*container, error) {
	p, err := newPipes()
	if err != nil {
		return nil, err
	}
	cmd := r.runCommand(id, bundle, len(extra))
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = p.outW, p.errW, extra
	// Its own process group: a Ctrl-C at the terminal reaches racelab,
	// which then stops the container in order, not the runtime directly.
	// Should racelab die, the runtime gets SIGTERM and passes it on to the
	// container's init, whose timeout then ends the program a grace later.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	err = cmd.Start()
	p.outW.Close() // the runtime has its own copies now
	p.errW.Close()
	if err != nil {
		p.outR.Close()
		p.errR.Close()
		return nil, fmt.Errorf("runc: start %s: %w", id, err)
	}
	c := &container{r: r, id: id, bundle: bundle, cmd: cmd, exited: make(chan struct{}), done: make(chan struct{}), killed: make(chan struct{})}
	go c.wait(p, out)
	return c, nil
}

// pipes are the container's stdout and stderr.
type pipes struct{ outR, outW, errR, errW *os.File }

func newPipes() (*pipes, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll([]*os.File{outR, outW})
		return nil, err
	}
	return &pipes{outR, outW, errR, errW}, nil
}

// wait pumps the container's output to out until the runtime has exited
// and the output is drained (at most drainWait after the exit), then
// closes c.done. It ends then.
func (c *container) wait(p *pipes, out *sink) {
	var pumps sync.WaitGroup
	pumps.Go(func() { stream.Pump(p.outR, out.writer(false)) })
	pumps.Go(func() { stream.Pump(p.errR, out.writer(true)) })
	c.err = c.cmd.Wait()
	close(c.exited)
	drained := make(chan struct{})
	go func() {
		pumps.Wait()
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(drainWait):
		p.outR.Close() // ends the pumps' reads
		p.errR.Close()
		<-drained
	}
	p.outR.Close()
	p.errR.Close()
	out.flush()
	close(c.done)
}

// quit sends SIGQUIT to the container's init process, which passes it on
// to the program (the Go runtime then prints where every goroutine is).
// runc passes on the signals it receives; runsc, a Go program, would dump
// its own goroutines instead, so it is asked through its kill command.
func (c *container) quit() {
	select {
	case <-c.done:
		return
	default:
	}
	if !c.r.flavour.gvisor {
		_ = c.cmd.Process.Signal(syscall.SIGQUIT)
		return
	}
	go func() { // ends within the runtime timeout (ask bounds it)
		_, _ = c.r.ask(context.Background(), "kill", c.id, "QUIT")
	}()
}

// kill stops every process of the container with SIGKILL (the init
// process of a PID namespace takes the rest with it). It returns at once;
// a goroutine repeats the request until the runtime has exited, and ends
// then or after the runtime timeout, when it kills the runtime itself: a
// runtime that does not answer cannot hold the run (and its slot) for
// ever.
func (c *container) kill() {
	select {
	case <-c.killed:
		return
	default:
		close(c.killed)
	}
	go c.killLoop()
}

func (c *container) killLoop() {
	ctx, cancel := context.WithTimeout(context.Background(), c.r.cfg.RuntimeTimeout)
	defer cancel()
	t := time.NewTicker(killRetry)
	defer t.Stop()
	for {
		select {
		case <-c.exited:
			return
		default:
		}
		_, _ = c.r.ask(ctx, "kill", c.id, "KILL")
		select {
		case <-c.exited:
			return
		case <-ctx.Done():
			_ = c.cmd.Process.Kill() // the runtime does not answer
			return
		case <-t.C:
		}
	}
}

// stop kills the container unless it has ended, and waits until it has:
// at most the runtime timeout and drainWait, as kill guarantees.
func (c *container) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	c.kill()
	<-c.done
}

// exitCode returns the init process's exit status (128+N for signal N).
func (c *container) exitCode() int {
	var ee *exec.ExitError
	if errors.As(c.err, &ee) {
		return ee.ExitCode()
	}
	if c.err != nil {
		return -1
	}
	return 0
}

// runtimeError returns the error the runtime logged, if it failed to run
// the container at all; a program's own exit status is not an error.
func (c *container) runtimeError() error {
	b, err := os.ReadFile(filepath.Join(c.bundle, "runtime.log"))
	if err != nil {
		return nil
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		var entry struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal(line, &entry) == nil && (entry.Level == "error" || entry.Level == "fatal") {
			return fmt.Errorf("runc: container %s: %s", c.id, entry.Msg)
		}
	}
	return nil
}

// notStarted is the error of a container that ended before its shell
// said it started: the runtime's own reason when it logged one.
func (c *container) notStarted() error {
	if err := c.runtimeError(); err != nil {
		return err
	}
	return fmt.Errorf("%s: container %s did not start (status %d)", c.r.runtime, c.id, c.exitCode())
}
