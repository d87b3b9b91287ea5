package runc

// Regression tests from the security review of the sandbox: each failed
// before its fix.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/racelab/racelab/sandbox"
)

// AF_VSOCK is not confined by network namespaces on this kernel: a socket
// made inside the "no network" container can reach the hypervisor (CID 2)
// or any VM-local vsock service. The test only creates the socket; it
// never connects anywhere.
func TestReviewNoVsock(t *testing.T) {
	res := runSrc(t, sandbox.ModeRun, `package main

import (
	"fmt"
	"syscall"
)

func main() {
	const afVsock = 40
	fd, err := syscall.Socket(afVsock, syscall.SOCK_STREAM, 0)
	fmt.Println("vsock:", fd, err)
}
`)
	outcome{reason: sandbox.ReasonExited, stdout: []string{"vsock: -1 "}}.check(t, res)
}

// The trusted warm cache is owned by the sandbox uid on the host, so any
// host process running as that uid ("nobody") can plant or rewrite cache
// entries that every later run then builds with. The go command checks
// only an output's size against its action entry, not its content.
func TestReviewWarmCacheNotWritableBySandboxUID(t *testing.T) {
	r := runner(t)
	target := filepath.Join(r.warmDir, "00", "review-poison")
	defer os.Remove(target)
	cmd := exec.Command("/bin/sh", "-c", `: > "$1"`, "sh", target)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(r.cfg.UID), Gid: uint32(r.cfg.GID)}}
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("a host process with uid %d created %s in the trusted warm cache (%s)", r.cfg.UID, target, out)
	}
}

// Canceling a repeated request while one of its later containers is being
// created makes Run fail with a runtime error (and forwards runc's own
// error line to the learner as stderr) instead of ending with an exit
// event of reason canceled.
func TestReviewCancelDuringRepeatsIsNotABackendError(t *testing.T) {
	r := runner(t)
	for i := 0; i < 60; i++ {
		delay := time.Duration(i) * 600 * time.Microsecond
		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		var evs []sandbox.Event
		exits := 0
		req := &sandbox.Request{Repeat: 20, Files: main(`println("x")`)}
		err := r.Run(ctx, req, func(e sandbox.Event) {
			mu.Lock()
			defer mu.Unlock()
			evs = append(evs, e)
			if e.Kind == sandbox.KindExit {
				if exits++; exits == 2 {
					time.AfterFunc(delay, cancel)
				}
			}
		})
		cancel()
		if err != nil {
			t.Fatalf("cancel %v after the second exit: Run = %v, want nil and an exit event with reason canceled%s",
				delay, err, (&result{events: evs}).dump())
		}
	}
}

// The summary keeps every distinct output in full: 100 repeats that each
// print 1 MiB of distinct text make a single ~100 MiB event (~600 MiB of
// JSON when the bytes need escaping), held in memory until the end.
func TestReviewSummaryIsBounded(t *testing.T) {
	l := runner(t).cfg.Limits
	res := runReq(t, context.Background(), &sandbox.Request{Repeat: 5, Files: main(`b := make([]byte, 70<<10)
	for i := range b {
		b[i] = 1
	}
	b[0] = byte('a' + time.Now().UnixNano()%26)
	os.Stdout.Write(b)`, "os", "time")})
	if res.err != nil {
		t.Fatal(res.err)
	}
	last := res.events[len(res.events)-1]
	if last.Kind != sandbox.KindSummary {
		t.Fatalf("last event is %s, want summary", last.Kind)
	}
	b, _ := json.Marshal(last)
	if int64(len(b)) > l.OutputBytes {
		t.Errorf("summary event is %d bytes of JSON for 5 runs, over one run's output limit (%d)", len(b), l.OutputBytes)
	}
}

// Every repeat gets /work on the run's one shared tmpfs, and what an
// earlier repeat wrote there is never removed: a repeat can find the
// space taken (ENOSPC), and those pages stay on the host, charged to a
// container cgroup that no longer exists.
func TestReviewRepeatStartsWithFreshTmpfs(t *testing.T) {
	l := runner(t).cfg.Limits
	n := l.TmpBytes * 6 / 10
	res := runReq(t, context.Background(), &sandbox.Request{Repeat: 2, Files: main(fmt.Sprintf(`f, err := os.Create("/work/fill")
	if err != nil {
		fmt.Println("create:", err)
		return
	}
	buf := make([]byte, 1<<20)
	for left := %d; left > 0; left -= len(buf) {
		if _, err := f.Write(buf); err != nil {
			fmt.Println("write:", err)
			return
		}
	}
	fmt.Println("wrote all")`, n), "fmt", "os")})
	if res.err != nil {
		t.Fatal(res.err)
	}
	for _, e := range res.events {
		if e.Kind == sandbox.KindStdout && !strings.Contains(e.Data, "wrote all") {
			t.Errorf("run %d: %q, want %q: an earlier repeat's files still fill the tmpfs", e.Run, e.Data, "wrote all")
		}
	}
}

// Every container runs as the same host uid, so per-user kernel budgets
// (here inotify instances; also mqueue bytes, pipe pages, pending
// signals) are shared: one run can exhaust them for every other run.
func TestReviewRunsDoNotShareUserBudgets(t *testing.T) {
	holding := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		req := &sandbox.Request{Files: main(`n := 0
	for ; n < 1000; n++ {
		if _, err := syscall.InotifyInit1(0); err != nil {
			break
		}
	}
	fmt.Println("holding", n)
	time.Sleep(2500 * time.Millisecond)`, "fmt", "syscall", "time")}
		runner(t).Run(context.Background(), req, func(e sandbox.Event) {
			if e.Kind == sandbox.KindStdout {
				once.Do(func() { close(holding) })
			}
		})
		once.Do(func() { close(holding) })
	}()
	<-holding
	res := runSrc(t, sandbox.ModeRun, `package main

import (
	"fmt"
	"syscall"
)

func main() {
	_, err := syscall.InotifyInit1(0)
	fmt.Println("inotify:", err)
}
`)
	wg.Wait()
	outcome{reason: sandbox.ReasonExited, stdout: []string{"inotify: <nil>"}}.check(t, res)
}

// On cgroup v1 the memory limit is set on memory.limit_in_bytes only;
// with swap on the host (and swap accounting, as here), a program's
// excess goes to swap instead of ending the run with reason memory.
func TestReviewSwapIsLimited(t *testing.T) {
	r := runner(t)
	files := map[string]string{} // file → the value it must hold while a program runs
	var once sync.Once
	got := map[string]string{}
	res := &result{}
	res.err = r.Run(context.Background(), &sandbox.Request{Files: main(`fmt.Println("up"); time.Sleep(500 * time.Millisecond)`, "fmt", "time")},
		func(e sandbox.Event) {
			res.add(e)
			if e.Kind != sandbox.KindStdout {
				return
			}
			once.Do(func() {
				for _, id := range r.cg.leftovers(r.prefix()) {
					if r.cg.v2 {
						files[filepath.Join(r.cg.dir("", id), "memory.swap.max")] = "0"
						continue
					}
					d := r.cg.dir("memory", id)
					if _, err := os.Stat(filepath.Join(d, "memory.memsw.limit_in_bytes")); err == nil {
						files[filepath.Join(d, "memory.memsw.limit_in_bytes")] = fmt.Sprint(r.cfg.Limits.MemoryBytes + swapSliver)
					} else {
						// Without swap accounting, swap cannot be bounded;
						// the cgroup is told not to use it.
						files[filepath.Join(d, "memory.swappiness")] = "0"
					}
				}
				for f := range files {
					b, _ := os.ReadFile(f)
					got[f] = strings.TrimSpace(string(b))
				}
			})
		})
	res.exit(t)
	if len(files) == 0 {
		t.Fatal("no cgroup of the run was found while it ran")
	}
	for f, want := range files {
		if got[f] != want {
			t.Errorf("%s = %q, want %q", f, got[f], want)
		}
	}
}

// The run's tmpfs holds both what the program writes to /work and the
// host's own files (the next container's bundle, runc's log). A program
// that fills /work makes the next repeat fail as a backend error.
func TestReviewFullTmpfsIsNotABackendError(t *testing.T) {
	// Race mode: its memory limit is above the tmpfs size, as with the
	// default limits in every mode.
	res := runReq(t, context.Background(), &sandbox.Request{Mode: sandbox.ModeRace, Repeat: 2, Files: main(`f, err := os.Create("/work/fill")
	if err != nil {
		fmt.Println("create:", err)
		return
	}
	buf := make([]byte, 1<<20)
	for {
		if _, err := f.Write(buf); err != nil {
			fmt.Println("filled:", err)
			return
		}
	}`, "fmt", "os")})
	if res.err != nil {
		t.Fatalf("Run = %v, want nil: a program filling its own /work must not break the runner%s", res.err, res.dump())
	}
	if n := len(res.exits()); n != 2 {
		t.Errorf("%d exit events, want 2%s", n, res.dump())
	}
}

// TestRuntimeThatCannotStart: a runtime that fails to start the build's
// container without a runc-style log (another OCI runtime refusing the
// bundle) is a failure of the runtime, returned as an error, not a build
// the learner's code failed.
func TestRuntimeThatCannotStart(t *testing.T) {
	base := runner(t) // root and runc, or skip (never under CI)
	fake := filepath.Join(t.TempDir(), "fake-runtime")
	script := "#!/bin/sh\n" +
		"for a in \"$@\"; do [ \"$a\" = run ] && { echo 'unknown version specified' >&2; exit 1; }; done\n" +
		"exec runc \"$@\"\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := New(t.Context(), Config{Runtime: fake, StateDir: filepath.Join(filepath.Dir(base.cfg.StateDir), "runc-fake"),
		CacheDir: base.cfg.CacheDir, Limits: base.cfg.Limits, Seccomp: true, Log: base.cfg.Log})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var kinds []sandbox.Kind
	err = r.Run(t.Context(), &sandbox.Request{Files: map[string]string{"main.go": "package main\n\nfunc main() {}\n"}},
		func(e sandbox.Event) { kinds = append(kinds, e.Kind) })
	if err == nil || !strings.Contains(err.Error(), "did not start") {
		t.Fatalf("err = %v (events %v), want the runtime's failure to start", err, kinds)
	}
	for _, k := range kinds {
		if k == sandbox.KindExit {
			t.Errorf("events %v: a run that never started has no exit event", kinds)
		}
	}
	if left := r.Leftovers(); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}
