// Tests of the cache of built programs, on real containers: a program is
// built once and run from the cache again, by as many requests as come at
// once; what failed to compile fails again without a build; and no run
// can write what the cache holds.

package runc

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/racelab/racelab/sandbox"
)

// builds counts the build events of res that built, and those that took
// the program from the cache.
func builds(res *result) (built, cached int) {
	for _, e := range res.events {
		if e.Kind == sandbox.KindBuild {
			if e.Cached {
				cached++
			} else {
				built++
			}
		}
	}
	return built, cached
}

func TestBinaryCacheHit(t *testing.T) {
	files := main(`fmt.Println("hello from a cached program") // `+randomHex(t), "fmt")
	first := runReq(t, context.Background(), &sandbox.Request{Mode: sandbox.ModeRace, Files: files})
	second := runReq(t, context.Background(), &sandbox.Request{Mode: sandbox.ModeRace, Files: files})
	for i, res := range []*result{first, second} {
		outcome{reason: sandbox.ReasonExited, stdout: []string{"hello from a cached program\n"}}.check(t, res)
		if built, cached := builds(res); built+cached != 1 || (i == 0) != (built == 1) {
			t.Errorf("run %d: %d builds and %d from the cache, want the first built and the second cached", i+1, built, cached)
		}
	}
	other := runReq(t, context.Background(), &sandbox.Request{Mode: sandbox.ModeRace, Files: main(`fmt.Println("another") // `+randomHex(t), "fmt")})
	if built, _ := builds(other); built != 1 {
		t.Error("a different source was taken from the cache")
	}
	outcome{reason: sandbox.ReasonExited, stdout: []string{"another\n"}}.check(t, other)
}

// Twelve identical requests at once: one build, the others wait for it.
func TestBinaryCacheOneBuild(t *testing.T) {
	files := main(`fmt.Println("class") // `+randomHex(t), "fmt")
	const n = 12
	results := make([]*result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i] = runReq(t, context.Background(), &sandbox.Request{Mode: sandbox.ModeRace, Files: files})
		})
	}
	wg.Wait()
	total := 0
	for _, res := range results {
		outcome{reason: sandbox.ReasonExited, stdout: []string{"class\n"}}.check(t, res)
		built, _ := builds(res)
		total += built
	}
	if total != 1 {
		t.Errorf("%d identical requests made %d builds, want 1", n, total)
	}
}

// Code that does not compile fails again, with the same errors, from the
// cache: the second time no build runs.
func TestBinaryCacheCompileError(t *testing.T) {
	r := runner(t)
	files := map[string]string{"main.go": "package main\n\nfunc main() {\n\tundefinedThing() // " + randomHex(t) + "\n}\n"}
	_, before := r.cache.Size()
	first := runReq(t, context.Background(), &sandbox.Request{Files: files})
	_, after := r.cache.Size()
	second := runReq(t, context.Background(), &sandbox.Request{Files: files})
	_, again := r.cache.Size()
	for _, res := range []*result{first, second} {
		outcome{reason: sandbox.ReasonBuildFailed, code: 1, diagLine: 4}.check(t, res)
	}
	if after != before+1 || again != after {
		t.Errorf("cache entries %d, %d, %d: want one more after the first failure, none after the second", before, after, again)
	}
}

// A program run from the cache cannot write or replace the cached binary:
// it is bound read-only, and the cache's directory is no container's.
func TestBinaryCacheNotWritable(t *testing.T) {
	r := runner(t)
	files := main(`for _, p := range []string{"/prog", "/cache"} {
		err := os.WriteFile(p, []byte("owned"), 0o755)
		fmt.Println(p, err)
	}
	// `+randomHex(t), "fmt", "os")
	runReq(t, context.Background(), &sandbox.Request{Mode: sandbox.ModeRun, Files: files})
	entries := cachedBinaries(t, r)
	hit := runReq(t, context.Background(), &sandbox.Request{Mode: sandbox.ModeRun, Files: files})
	if _, cached := builds(hit); cached != 1 {
		t.Fatalf("the second run was not taken from the cache%s", hit.dump())
	}
	refused := "/prog open /prog: read-only file system"
	if gvisor() {
		// gVisor refuses a write the user may not make before it looks
		// at the mount's read-only flag (see gvisorContainment).
		refused = "/prog open /prog: permission denied"
	}
	outcome{reason: sandbox.ReasonExited, stdout: []string{refused}, notStdout: []string{"/prog <nil>"}}.check(t, hit)
	for path, sum := range cachedBinaries(t, r) {
		if old, ok := entries[path]; ok && old != sum {
			t.Errorf("%s changed while a run used it", path)
		}
	}
}

// cachedBinaries returns the hash of every binary in r's cache, by path.
func cachedBinaries(t *testing.T, r *Runner) map[string][32]byte {
	sums := map[string][32]byte{}
	paths, _ := filepath.Glob(filepath.Join(r.cfg.StateDir, "bin", "*", "prog"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sums[p] = sha256.Sum256(b)
	}
	if len(sums) == 0 {
		t.Fatal("the cache holds no binary")
	}
	return sums
}
