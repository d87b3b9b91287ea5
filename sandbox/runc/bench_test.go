package runc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/internal/gotool"
)

// benchProgram is a small racy program; n makes each iteration's source
// unique, so that neither side can reuse the previous iteration's
// compiled package (nor the runner its cache of built programs, which
// outlives a run of the benchmarks: n starts from freshSeed) and both
// compile the user's code every time, against a warm standard library.
func benchProgram(n int) string {
	return fmt.Sprintf(`package main

import (
	"fmt"
	"sync"
)

const iteration = %d

func main() {
	var wg sync.WaitGroup
	n := 0
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				n++
			}
		}()
	}
	wg.Wait()
	fmt.Println(n, iteration)
}
`, n)
}

// freshSeed is a number no earlier run of the benchmarks used.
func freshSeed() int { return int(time.Now().UnixNano() / 1000 * 1000) }

// bareToolchain runs the same build and program without a sandbox, with
// a private copy of the warm cache.
type bareToolchain struct {
	dir, cache string
	env        []string
}

func newBare(b *testing.B, r *Runner) *bareToolchain {
	b.Helper()
	dir := b.TempDir()
	bt := &bareToolchain{dir: dir, cache: filepath.Join(dir, "cache")}
	if out, err := exec.Command("cp", "-a", r.warmDir, bt.cache).CombinedOutput(); err != nil {
		b.Fatalf("copy warm cache: %v\n%s", err, out)
	}
	for _, d := range []string{"src", "home", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	bt.env = gotool.BuildEnv(r.cfg.GOROOT, filepath.Join(dir, "home"), bt.cache, filepath.Join(dir, "tmp"))
	if err := os.WriteFile(filepath.Join(dir, "src", "go.mod"), []byte(gotool.GoMod), 0o644); err != nil {
		b.Fatal(err)
	}
	return bt
}

// buildAndRun is `go build -race -o prog . && ./prog`.
func (bt *bareToolchain) buildAndRun(b *testing.B, src string) {
	if err := os.WriteFile(filepath.Join(bt.dir, "src", "main.go"), []byte(src), 0o644); err != nil {
		b.Fatal(err)
	}
	prog := filepath.Join(bt.dir, "prog")
	build := exec.Command("go", "build", "-race", "-o", prog, ".")
	build.Dir, build.Env = filepath.Join(bt.dir, "src"), bt.env
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("bare build: %v\n%s", err, out)
	}
	bt.run(b, prog)
}

func (bt *bareToolchain) run(b *testing.B, prog string) {
	cmd := exec.Command(prog)
	cmd.Env = []string{"GORACE=atexit_sleep_ms=0"}
	if out, err := cmd.CombinedOutput(); err != nil && cmd.ProcessState.ExitCode() != 66 {
		b.Fatalf("bare run: %v\n%s", err, out)
	}
}

// runnerRun runs req on r, which must end with an exit of its own;
// watch, if given, sees every event as it comes.
func runnerRun(b *testing.B, r *Runner, req *sandbox.Request, watch ...func(sandbox.Event)) {
	var exit sandbox.Event
	if err := r.Run(context.Background(), req, func(e sandbox.Event) {
		for _, w := range watch {
			w(e)
		}
		if e.Kind == sandbox.KindExit {
			exit = e
		}
	}); err != nil {
		b.Fatal(err)
	}
	if exit.Reason != sandbox.ReasonExited {
		b.Fatalf("runner: %s: %s", exit.Reason, exit.Msg)
	}
}

// benchRunner is a runner a benchmark measures, by its runtime's name.
type benchRunner struct {
	name string
	r    *Runner
}

// benchRunners are the runners a benchmark compares: one on runc, one on
// crun and one on gVisor's runsc when they are installed (apt-get install
// crun; make runsc), whichever the suite runs on.
func benchRunners(b *testing.B) []benchRunner {
	var rs []benchRunner
	for _, rt := range []string{"runc", "crun", "runsc"} {
		_, err := exec.LookPath(rt)
		if err == nil && rt == "crun" {
			err = crunRefuses()
		}
		switch {
		case rt == testRuntime():
			rs = append(rs, benchRunner{rt, runner(b)})
		case err != nil:
			b.Logf("%s cannot run here, not measured: %v", rt, err)
		default:
			rs = append(rs, benchRunner{rt, runnerOn(b, "bench-"+rt, rt, func(*sandbox.Limits) {})})
		}
	}
	return rs
}

// settle waits until every runner of rs has the next run of each idle
// slot prepared, as a server has between requests, so that no
// preparation of the last request competes with the next measurement.
func settle(rs []benchRunner) {
	for _, br := range rs {
		prepared(br.r)
	}
}

// BenchmarkRaceVsBare alternates, in one run on the same machine, the
// bare `go build -race && ./prog` and the same through a runner on each
// runtime (a fresh program: a build, the warm cache), and reports each
// and their ratios to bare: the sandbox's overhead where a learner feels
// it. Each side starts from an idle machine (settle).
func BenchmarkRaceVsBare(b *testing.B) {
	rs := benchRunners(b)
	bt := newBare(b, rs[0].r)
	var bare time.Duration
	sand := make([]time.Duration, len(rs))
	seed := freshSeed()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		src := benchProgram(seed + i)
		settle(rs)
		t0 := time.Now()
		bt.buildAndRun(b, src)
		bare += time.Since(t0)
		for k, br := range rs {
			settle(rs)
			t := time.Now()
			runnerRun(b, br.r, &sandbox.Request{Mode: sandbox.ModeRace, Files: map[string]string{"main.go": src}})
			sand[k] += time.Since(t)
		}
	}
	report(b, "/op", b.N, bare, rs, sand)
}

// report reports the bare and sandboxed times per unit (n of them) and
// their ratios.
func report(b *testing.B, unit string, n int, bare time.Duration, rs []benchRunner, sand []time.Duration) {
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }
	b.ReportMetric(per(bare), "bare-ms"+unit)
	for k, br := range rs {
		b.ReportMetric(per(sand[k]), br.name+"-ms"+unit)
		b.ReportMetric(float64(sand[k])/float64(bare), br.name+"-ratio")
	}
}

// BenchmarkRepeatVsBare compares running an already-built race binary
// again: bare exec against a fresh container per run on each runtime
// (repeat=11 minus repeat=1, per extra run; both requests take the
// program from the cache, so neither builds).
func BenchmarkRepeatVsBare(b *testing.B) {
	rs := benchRunners(b)
	bt := newBare(b, rs[0].r)
	const extra = 10
	bt.buildAndRun(b, benchProgram(-1))
	prog := filepath.Join(bt.dir, "prog")
	var bare time.Duration
	sand := make([]time.Duration, len(rs))
	seed := freshSeed()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		src := map[string]string{"main.go": benchProgram(seed + i)}
		for _, br := range rs {
			runnerRun(b, br.r, &sandbox.Request{Mode: sandbox.ModeRace, Files: src}) // builds it
		}
		settle(rs)
		t0 := time.Now()
		for range extra {
			bt.run(b, prog)
		}
		bare += time.Since(t0)
		for k, br := range rs {
			settle(rs)
			t1 := time.Now()
			runnerRun(b, br.r, &sandbox.Request{Mode: sandbox.ModeRace, Files: src})
			settle(rs)
			t2 := time.Now()
			runnerRun(b, br.r, &sandbox.Request{Mode: sandbox.ModeRace, Repeat: extra + 1, Files: src})
			sand[k] += time.Since(t2) - t2.Sub(t1)
		}
	}
	report(b, "/run", b.N*extra, bare, rs, sand)
}

// BenchmarkCachedVsBare compares the same program again (taken from the
// cache of built programs: no build) with a bare ./prog of it: from the
// request to its exit event, against the bare process's start to its
// end.
func BenchmarkCachedVsBare(b *testing.B) {
	rs := benchRunners(b)
	bt := newBare(b, rs[0].r)
	bt.buildAndRun(b, benchProgram(-2))
	prog := filepath.Join(bt.dir, "prog")
	src := map[string]string{"main.go": benchProgram(freshSeed())}
	for _, br := range rs {
		runnerRun(b, br.r, &sandbox.Request{Mode: sandbox.ModeRace, Files: src}) // builds it
	}
	var bare time.Duration
	sand := make([]time.Duration, len(rs))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		settle(rs)
		t0 := time.Now()
		bt.run(b, prog)
		bare += time.Since(t0)
		for k, br := range rs {
			settle(rs)
			sand[k] += untilExit(b, br.r, &sandbox.Request{Mode: sandbox.ModeRace, Files: src})
		}
	}
	report(b, "/op", b.N, bare, rs, sand)
}

// untilExit runs req, which must be taken from the cache and exit, and
// returns the time from the request to its exit event.
func untilExit(b *testing.B, r *Runner, req *sandbox.Request) time.Duration {
	var took time.Duration
	var cached bool
	start := time.Now()
	runnerRun(b, r, req, func(e sandbox.Event) {
		switch e.Kind {
		case sandbox.KindBuild:
			cached = e.Cached
		case sandbox.KindExit:
			took = time.Since(start)
		}
	})
	if !cached {
		b.Fatal("the program was not taken from the cache")
	}
	return took
}

// crunRefuses says why crun cannot start containers on this host's
// cgroups (see crunReady), or nil when it can.
func crunRefuses() error {
	cg, err := detectCgroups()
	if err != nil {
		return err
	}
	return cg.crunReady()
}
