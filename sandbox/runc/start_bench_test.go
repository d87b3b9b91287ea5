package runc

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/internal/gotool"
	"github.com/racelab/racelab/sandbox/internal/stream"
)

// BenchmarkStartParts measures, on the suite's runtime, each part of a
// run's first container's life, one at a time: the run's directories
// (tmpfs mounts, the cache's overlay), the container's start (fds,
// bundle, cgroup, the runtime until the shell runs), the claim (files,
// memory limit, output, script, until the shell has run it), the end
// (from the shell's exit to the runtime's) and the removal (cgroup,
// mounts, directories). The first two are prepared ahead; a request
// waits for the claim, and for the end and the removal of its
// containers. It also reports the CPU the runtime's processes and the
// container's shell took per container (runtime-cpu-ms): what a start
// costs the machine even when it is off a request's path.
func BenchmarkStartParts(b *testing.B) {
	r := runner(b)
	req := &sandbox.Request{Mode: sandbox.ModeRace, Files: map[string]string{"main.go": "package main\n"}}
	var dirs, start, claim, end, remove time.Duration
	cpu0, all0 := childrenCPU(b), machineCPU(b)
	for range b.N {
		t0 := time.Now()
		pl := r.newPlace(r.cfg.Concurrency) // a slot no request takes
		if err := pl.makeDirs(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		first, err := pl.startFirst(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		j := &job{place: pl, req: req, files: req.Files, plan: gotool.PlanFor(req.Mode, ctrTmp+"/prog")}
		out := stream.New(func(sandbox.Event) {}, 0, 1<<20, time.Now())
		if err := j.writeFiles(); err != nil {
			b.Fatal(err)
		}
		if err := j.handOver(first, out, "exec 7<&-\necho 0 >&4\nexit 0\n"); err != nil {
			b.Fatal(err)
		}
		<-first.status
		t3 := time.Now()
		<-first.c.done
		t4 := time.Now()
		first.end()
		pl.remove()
		t5 := time.Now()
		dirs, start, claim, end, remove = dirs+t1.Sub(t0), start+t2.Sub(t1), claim+t3.Sub(t2), end+t4.Sub(t3), remove+t5.Sub(t4)
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(per(dirs), "dirs-ms")
	b.ReportMetric(per(start), "start-ms")
	b.ReportMetric(per(claim), "claim-ms")
	b.ReportMetric(per(end), "end-ms")
	b.ReportMetric(per(remove), "remove-ms")
	b.ReportMetric(per(childrenCPU(b)-cpu0), "runtime-cpu-ms")
	b.ReportMetric(per(machineCPU(b)-all0), "machine-cpu-ms")
}

// machineCPU is the CPU time every core has spent busy (/proc/stat: all
// but idle and iowait), the kernel's own workers included: a container's
// network namespace, for one, is torn down by a kworker after it ends.
func machineCPU(b *testing.B) time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		b.Fatal(err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		b.Fatalf("/proc/stat starts %q", line)
	}
	var ticks int64
	for i, v := range f[1:8] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		if i != 3 && i != 4 { // idle, iowait
			ticks += n
		}
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

// childrenCPU is the user and system CPU time of the test's children that
// have ended (the runtime's commands, and what they waited for).
func childrenCPU(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_CHILDREN, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
