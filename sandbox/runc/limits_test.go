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
// (here inotify instances; also mqueue bytes, pipe pages, pending
// signals) are shared: one run can exhaust them for every other run.
func TestRunsDoNotShareUserBudgets(t *testing.T) {
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
