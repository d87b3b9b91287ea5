// Tests of the kernel budgets and limits each run gets to itself.

package runc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/racelab/racelab/sandbox"
)

// Every container runs as the same host uid, so per-user kernel budgets
// (here pipe pages; also mqueue bytes, pending signals, and inotify
// instances before seccomp took inotify away) are shared: one run can
// exhaust them for every other run. Past the user's share of pipe pages
// (fs.pipe-user-pages-soft, 16384 pages by default), a new pipe gets one
// or two pages instead of sixteen.
func TestRunsDoNotShareUserBudgets(t *testing.T) {
	holding := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	var held string // what the holding run said
	wg.Add(1)
	go func() {
		defer wg.Done()
		req := &sandbox.Request{Files: main(`n, size := 0, uintptr(0)
	for ; n < 1800; n++ {
		var p [2]int
		if err := syscall.Pipe(p[:]); err != nil {
			break
		}
		if size, _, _ = syscall.Syscall(syscall.SYS_FCNTL, uintptr(p[0]), 1032, 0); size < 65536 {
			break // F_GETPIPE_SZ: the user's pipe pages are used up
		}
	}
	fmt.Println("holding", n, "pipes; used up:", size < 65536)
	time.Sleep(2500 * time.Millisecond)`, "fmt", "syscall", "time")}
		runner(t).Run(context.Background(), req, func(e sandbox.Event) {
			if e.Kind == sandbox.KindStdout {
				once.Do(func() { held = e.Data; close(holding) })
			}
		})
		once.Do(func() { close(holding) })
	}()
	<-holding
	if !strings.Contains(held, "used up: true") && !gvisor() {
		// (Under gVisor pipes are its own kernel's, so no run can use up
		// a budget of the host's; the second run is checked all the same.)
		t.Fatalf("the first run said %q: it did not use up its pipe pages, so the test shows nothing", held)
	}
	res := runSrc(t, sandbox.ModeRun, `package main

import (
	"fmt"
	"syscall"
)

func main() {
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil {
		fmt.Println("pipe:", err)
		return
	}
	size, _, _ := syscall.Syscall(syscall.SYS_FCNTL, uintptr(p[0]), 1032, 0) // F_GETPIPE_SZ
	fmt.Println("pipe:", size)
}
`)
	wg.Wait()
	outcome{reason: sandbox.ReasonExited, stdout: []string{"pipe: 65536"}}.check(t, res)
}

// On cgroup v1 the memory limit is set on memory.limit_in_bytes only;
// with swap on the host (and swap accounting, as here), a program's
// excess goes to swap instead of ending the run with reason memory.
func TestSwapIsLimited(t *testing.T) {
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
