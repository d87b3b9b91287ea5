package runc

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/racelab/racelab/sandbox"
)

// deadlineChildEnv makes the test binary another racelab (see TestMain
// and deadlineChild): its value is the state directory to open.
const deadlineChildEnv = "RACELAB_TEST_DEADLINE_CHILD"

// stubborn ignores every signal a process may ignore and spins.
const stubborn = `package main

import (
	"fmt"
	"os/signal"
	"syscall"
)

func main() {
	signal.Ignore(syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGINT, syscall.SIGHUP)
	fmt.Println("spinning")
	for {
	}
}
`

// deadlineChild runs the stubborn program on a runner of its own on
// stateDir, says "running" once the program printed, and waits to be
// killed. It returns an exit status.
func deadlineChild(stateDir string) int {
	r, err := openTestRunner(stateDir, os.Getenv("RACELAB_TEST_CACHE_DIR"))
	if err != nil {
		fmt.Println("open:", err)
		return 1
	}
	// Killed with its runtime while it creates a container, a runner
	// leaves that container in the runtime's created state, its init
	// waiting (it has run nothing) until the next runner on the state
	// directory removes it. What is tested here is the program's end, so
	// no container is being prepared ahead when the kill comes.
	prepared(r)
	req := &sandbox.Request{Files: map[string]string{"main.go": stubborn}}
	err = r.Run(context.Background(), req, func(e sandbox.Event) {
		if e.Kind == sandbox.KindStdout {
			fmt.Println("running")
		}
	})
	fmt.Println("the run ended before the kill:", err)
	return 1
}

// TestDeadlineWithoutRacelab: a container dies by its own deadline even
// when racelab is killed with SIGKILL and cannot stop it, also a program
// that ignores SIGTERM and SIGQUIT. Checked from the host: no process is
// left in the dead runner's cgroups by the run timeout, the kill grace
// and the backstop after the program started (and a second of slack);
// a runner opened next on its state directory removes what it left.
// Killing racelab alone leaves the runtime to pass on a SIGTERM (its
// parent-death signal), which starts the grace; killing the runtime too
// (as a service manager that kills the whole service may) leaves only
// the container's own deadline.
func TestDeadlineWithoutRacelab(t *testing.T) {
	t.Parallel() // a state directory of its own, waiting on deadlines (see TestMain)
	for _, tt := range []struct {
		name    string
		runtime bool // kill the runtime's processes too
	}{{"racelab killed", false}, {"racelab and runtime killed", true}} {
		t.Run(tt.name, func(t *testing.T) {
			base := runner(t)
			stateDir := filepath.Join(filepath.Dir(base.cfg.StateDir), "runc-deadline")
			started := killDuringRun(t, stateDir, base.cfg.CacheDir, tt.runtime)
			prefix := (&Runner{cfg: Config{StateDir: stateDir}}).prefix()
			l := base.cfg.Limits
			deadline := started.Add(l.RunTimeout + l.KillGrace + backstop + time.Second)
			for procs := processesIn(prefix); len(procs) > 0; procs = processesIn(prefix) {
				if time.Now().After(deadline) {
					t.Fatalf("%v after the program started, with racelab killed, its processes still run: %v",
						time.Since(started).Round(time.Millisecond), procs)
				}
				time.Sleep(50 * time.Millisecond)
			}
			t.Logf("the container's processes were gone %v after the program started", time.Since(started).Round(time.Millisecond))
			r, err := openTestRunner(stateDir, base.cfg.CacheDir)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if left := r.Leftovers(); len(left) > 0 {
				t.Errorf("a runner opened on the state directory left %v", left)
			}
		})
	}
}

// killDuringRun starts another racelab (this test binary, see
// deadlineChild) on stateDir, and once its stubborn program runs kills it
// with SIGKILL, and the runtime processes it started too when runtime is
// set. It returns when the program started, about.
func killDuringRun(t *testing.T, stateDir, cacheDir string, runtime bool) time.Time {
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), deadlineChildEnv+"="+stateDir, "RACELAB_TEST_CACHE_DIR="+cacheDir)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	started := time.Now()
	if strings.TrimSpace(line) != "running" {
		child.Process.Kill()
		child.Wait()
		t.Fatalf("the child racelab said %q, want running", line)
	}
	var kids []int
	if runtime {
		kids = childrenOf(child.Process.Pid)
		if len(kids) == 0 {
			t.Fatal("the child racelab has no runtime process")
		}
	}
	child.Process.Signal(syscall.SIGKILL)
	for _, pid := range kids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	child.Wait()
	return started
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	var kids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		_, rest, _ := strings.Cut(string(b), ") ")
		var state string
		var ppid, kid int
		if _, err := fmt.Sscan(rest, &state, &ppid); err == nil && ppid == pid {
			fmt.Sscan(e.Name(), &kid)
			kids = append(kids, kid)
		}
	}
	return kids
}

// processesIn lists the live host processes in a cgroup of the runner
// whose runs' ids start with prefix. A zombie is dead: it holds nothing
// but its pid until the host's init reaps it (a container's init outlives
// its killed parents only as one).
func processesIn(prefix string) []string {
	var procs []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		cg, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cgroup"))
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if _, rest, _ := strings.Cut(string(stat), ") "); strings.HasPrefix(rest, "Z") {
			continue
		}
		if err == nil && strings.Contains(string(cg), "/"+cgroupParent+"/"+prefix) {
			comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
			procs = append(procs, e.Name()+" "+strings.TrimSpace(string(comm)))
		}
	}
	return procs
}
