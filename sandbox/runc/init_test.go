package runc

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/racelab/racelab/sandbox"
)

// buildTestInit builds racelab's init into a temporary skeleton.
func buildTestInit(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatal("gcc is missing (racelab's sandbox needs it: apt-get install gcc libc6-dev)")
	}
	root := t.TempDir()
	if err := writeInit(t.Context(), root); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, ctrInit)
}

// initRun runs the init with args on the host and returns its exit
// status, its output and how long it took.
func initRun(t *testing.T, cmd *exec.Cmd) (int, string, time.Duration) {
	t.Helper()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), time.Since(start)
}

// The init on the host, as coreutils' timeout was in the containers: it
// exits as its program did, sends the signal at the deadline and SIGKILL a
// grace later, passes on a signal it gets and starts the grace then, says
// why a program could not run, and keeps the ready/go-ahead handshake of a
// container prepared ahead.
func TestInit(t *testing.T) {
	bin := buildTestInit(t)
	init := func(args ...string) *exec.Cmd { return exec.Command(bin, args...) }
	quit := "3"
	cases := []struct {
		name   string
		cmd    *exec.Cmd
		code   int
		output string
		within time.Duration
	}{
		{"its status", init("-1", "-1", quit, "500", "5000", "/bin/sh", "-c", "echo out; exit 7"), 7, "out\n", 4 * time.Second},
		{"the deadline's signal", init("-1", "-1", quit, "2000", "200", "/bin/sleep", "10"), 128 + 3, "", 4 * time.Second},
		{"SIGKILL a grace after it", init("-1", "-1", quit, "300", "200", "/bin/sh", "-c", "trap '' QUIT; exec sleep 10"), 128 + 9, "", 4 * time.Second},
		{"SIGKILL at once without a grace", init("-1", "-1", "9", "0", "200", "/bin/sleep", "10"), 128 + 9, "", 4 * time.Second},
		{"a missing program", init("-1", "-1", quit, "500", "5000", "/no/such/program"), 127, "racelab init: /no/such/program: No such file or directory\n", 4 * time.Second},
		{"a wrong call", init("-1", "x"), 125, "usage: init READY_FD GO_FD SIGNAL GRACE_MS TIMEOUT_MS PROGRAM [ARG...]\n", 4 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, took := initRun(t, c.cmd)
			if code != c.code || out != c.output {
				t.Errorf("status %d, output %q; want %d, %q", code, out, c.code, c.output)
			}
			if took > c.within {
				t.Errorf("took %v, want it ended well within %v", took, c.within)
			}
		})
	}

	t.Run("a signal passed on, then the grace", func(t *testing.T) {
		cmd := init("-1", "-1", quit, "300", "60000", "/bin/sh", "-c", "trap 'echo got QUIT' QUIT; echo trapped; while :; do sleep 0.05; done")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		if !sc.Scan() || sc.Text() != "trapped" {
			t.Fatalf("the program's first line: %q (%v)", sc.Text(), sc.Err())
		}
		start := time.Now()
		if err := cmd.Process.Signal(syscall.SIGQUIT); err != nil {
			t.Fatal(err)
		}
		var rest []string
		for sc.Scan() {
			rest = append(rest, sc.Text())
		}
		err = cmd.Wait()
		if code := cmd.ProcessState.ExitCode(); code != 128+9 || !slices.Contains(rest, "got QUIT") {
			t.Errorf("status %d (%v), output %q; want the program to get SIGQUIT, then SIGKILL (137)", code, err, rest)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("ended %v after the signal; the grace is 300 ms and the deadline a minute", took)
		}
	})

	handshake := func(t *testing.T, goAhead bool) (int, string) {
		readyR, readyW, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		goR, goW, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd := init("3", "4", quit, "500", "5000", "/bin/echo", "the program ran")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = &out, &out, []*os.File{readyW, goR}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		readyW.Close()
		goR.Close()
		line := make([]byte, 1)
		if _, err := readyR.Read(line); err != nil || line[0] != '\n' {
			t.Fatalf("ready line %q, %v", line, err)
		}
		if out.Len() != 0 {
			t.Fatalf("the program ran before its go-ahead: %q", out.String())
		}
		if goAhead {
			_, _ = goW.Write([]byte("go\n"))
		}
		goW.Close()
		_ = cmd.Wait()
		readyR.Close()
		return cmd.ProcessState.ExitCode(), out.String()
	}
	t.Run("go-ahead", func(t *testing.T) {
		if code, out := handshake(t, true); code != 0 || out != "the program ran\n" {
			t.Errorf("status %d, output %q", code, out)
		}
	})
	t.Run("no go-ahead", func(t *testing.T) {
		if code, out := handshake(t, false); code != 0 || out != "" {
			t.Errorf("status %d, output %q; want 0 and nothing run", code, out)
		}
	})
}

// TestInitRunsPrograms checks from the host that a program's container,
// the first one and a repeat's prepared ahead, has racelab's init as its
// program's parent: no shell and no coreutils timeout left between them.
func TestInitRunsPrograms(t *testing.T) {
	r := runner(t)
	if !r.hasInit {
		t.Fatal("the runner has no init in its skeleton")
	}
	checkParents(t, r, "init")
}

// programParent is the name of the parent of the sandbox's process named
// prog.
func programParent(r *Runner) string {
	pid := processNamed(r, "prog")
	if pid == "" {
		return "no process named prog"
	}
	stat, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return err.Error()
	}
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	comm, err := os.ReadFile(filepath.Join("/proc", f[1], "comm"))
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(string(comm))
}

// Without racelab's init (gcc could not link it), programs run under a
// shell and coreutils' timeout as before: their status, the deadline's
// goroutine dump, and a repeat's prepared containers all still work.
func TestWithoutInit(t *testing.T) {
	t.Parallel() // a runner of its own, waiting on a timeout (see TestMain)
	r := runnerWith(t, "runc-noinit", func(l *sandbox.Limits) { l.RunTimeout = time.Second })
	r.hasInit = false // before any request: the containers made ahead so far have run no program
	run := func(req *sandbox.Request) *result { return runOn(t, r, context.Background(), req) }
	outcome{reason: sandbox.ReasonExited, code: 3}.check(t, run(&sandbox.Request{Mode: sandbox.ModeRun, Files: main(`os.Exit(3)`, "os")}))
	outcome{reason: sandbox.ReasonTimeout, stderr: []string{"SIGQUIT: quit", "goroutine 1 "}}.check(t,
		run(&sandbox.Request{Mode: sandbox.ModeRun, Files: main(`for {}`)}))
	checkParents(t, r, "timeout")
}

// checkParents runs a program twice (a first container, then a repeat's
// prepared one) and checks from the host that its parent was named want
// each time; on gVisor, whose processes are not the host's, that both
// executions ran.
func checkParents(t *testing.T, r *Runner, want string) {
	t.Helper()
	var (
		mu      sync.Mutex
		parents []string
	)
	res := &result{}
	res.err = r.Run(context.Background(), &sandbox.Request{Mode: sandbox.ModeRun, Repeat: 2, Files: map[string]string{"main.go": hugeProgram}},
		func(e sandbox.Event) {
			res.add(e)
			if e.Kind == sandbox.KindStdout && strings.Contains(e.Data, "ready") && !gvisor() {
				mu.Lock()
				parents = append(parents, programParent(r))
				mu.Unlock()
			}
		})
	if n := strings.Count(res.text(sandbox.KindStdout), "ready"); n != 2 || res.err != nil {
		t.Fatalf("%d executions printed ready (%v), want 2", n, res.err)
	}
	if !gvisor() && len(parents) != 2 {
		t.Fatalf("saw the program run %d times, want 2", len(parents))
	}
	for i, p := range parents {
		if p != want {
			t.Errorf("execution %d: the program's parent is %q, want %s", i+1, p, want)
		}
	}
}
