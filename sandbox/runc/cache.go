package runc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"time"

	"golang.org/x/sys/unix"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/internal/gotool"
)

// warmSample is built in every mode when the warm cache is made, so that
// the packages a lesson imports (and go vet's facts about them, and the
// test main's) are in the cache before the first learner presses Run. It
// imports what the built-in lessons import (TestWarmCoversLessonImports
// holds them to it) and what a learner's edit of them commonly adds: 198
// packages with their dependencies, not all of std's 362. On two idle
// cores the warm cache took 163 s and 439 MiB with all of std, 107 s and
// 254 MiB with these (with the asm sample below). A package outside them
// still builds, inside the run, at its own cost.
func warmSample() map[string]string {
	return map[string]string{"go.mod": gotool.GoMod, "main.go": warmMain, "main_test.go": warmTest}
}

const warmMain = `package main

import (
	"bufio"
	"bytes"
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"maps"
	"math"
	"math/rand"
	randv2 "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/trace"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"
)

var _ = []any{bufio.NewReader, bytes.NewBuffer, heap.Init, context.Background, json.Marshal,
	errors.New, flag.Parse, fmt.Println, io.Copy, log.Println, slog.Info, maps.Keys[map[int]int],
	math.Abs, rand.Int, randv2.IntN, net.Dial, http.ListenAndServe, httptest.NewServer, os.Exit,
	signal.Notify, runtime.Gosched, debug.SetGCPercent, trace.Start, slices.Sort[[]int], sort.Ints,
	strconv.Itoa, strings.Cut, new(sync.Mutex), new(atomic.Int64), syscall.Getpid, time.Now,
	utf8.RuneLen}

func main() {}
`

const warmTest = `package main

import (
	"testing"
	"testing/synctest"
)

func TestX(t *testing.T) { synctest.Test(t, func(*testing.T) {}) }

func BenchmarkX(b *testing.B) {}
`

// warmExitSample is a program the run and race modes wrap (it starts a
// goroutine), so that its builds put the exit package
// (gotool.ExitPackage) in the warm cache, as every wrapped program's
// build then finds it.
func warmExitSample() map[string]string {
	return map[string]string{"go.mod": gotool.GoMod, "main.go": "package main\n\nfunc main() {\n\tgo func() {}()\n}\n"}
}

// warmAsmSample is compiled, with -S, for each architecture of the asm
// mode other than the host's (whose listing builds on the run mode's
// packages): what the asm cells import and a little more, 64 packages
// where warmSample would compile 187 for each architecture.
func warmAsmSample() map[string]string {
	return map[string]string{"go.mod": gotool.GoMod, "main.go": warmAsmMain}
}

const warmAsmMain = `package main

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var _ = []any{errors.New, fmt.Println, maps.Keys[map[int]int], math.Abs, os.Exit, runtime.Gosched,
	slices.Sort[[]int], strconv.Itoa, strings.Cut, new(sync.Mutex), new(atomic.Int64), time.Now}

func main() {}
`

// farFuture is the modification time of every warm cache file. The go
// command refreshes an entry's mtime when it is more than an hour old,
// which in the read-only lower layer would copy the whole file up into the
// run's layer on every build; a time in the future never looks old.
func farFuture() time.Time { return time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC) }

// ensureWarmCache makes the trusted warm build cache unless it exists.
// It is keyed by the toolchain, gcc and the sandbox user, so a new Go
// release gets a new cache. The runner holds a shared lock on the key's
// use file (r.warmUse) from before it looks until Close, so that no
// pruner (pruneWarm) removes the cache while it may be used.
func (r *Runner) ensureWarmCache(ctx context.Context) error {
	key, err := r.cacheKey(ctx)
	if err != nil {
		return err
	}
	r.warmDir = filepath.Join(r.cfg.CacheDir, key)
	use, err := flockWait(ctx, r.warmDir+".use", unix.LOCK_SH)
	if err != nil {
		return err
	}
	r.warmUse = use
	if _, err := os.Stat(filepath.Join(r.warmDir, "README")); err == nil {
		return nil
	}
	// One builder at a time; a runner that waited finds the cache ready.
	unlock, err := lockFile(ctx, r.warmDir+".lock")
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(r.warmDir, "README")); err == nil {
		return nil
	}
	return r.makeWarm(ctx)
}

// warmKeyRE matches the name of a warm cache's directory (cacheKey).
var warmKeyRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

// pruneWarm removes the warm caches of other keys from the cache
// directory (an older Go's, gcc's or racelab's: ~250 MB each, which no
// runner of this toolchain will use again), unless a runner holds its use
// file (it may be the lower layer of that runner's containers) or a
// builder its build lock. A racelab from before the use files took no
// lock: one still running on a shared cache directory would lose its
// cache. The lock files stay: a runner waiting on one must find the file
// it opened.
func (r *Runner) pruneWarm() {
	entries, err := os.ReadDir(r.cfg.CacheDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		key := e.Name()
		if !e.IsDir() || key == filepath.Base(r.warmDir) || !warmKeyRE.MatchString(key) {
			continue
		}
		dir := filepath.Join(r.cfg.CacheDir, key)
		removed, err := pruneUnused(dir)
		switch {
		case err != nil:
			r.cfg.Log.Warn("could not remove an old warm build cache", "dir", dir, "err", err)
		case removed:
			r.cfg.Log.Info("removed a warm build cache of another toolchain that no runner uses", "dir", dir)
		}
	}
}

// pruneUnused removes the warm cache dir (and a build of it left
// unfinished) if no runner or builder holds its locks, and reports
// whether it did.
func pruneUnused(dir string) (bool, error) {
	for _, lock := range []string{dir + ".use", dir + ".lock"} {
		f, err := os.OpenFile(lock, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return false, err
		}
		defer f.Close()
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); errors.Is(err, unix.EWOULDBLOCK) {
			return false, nil
		} else if err != nil {
			return false, err
		}
	}
	if err := os.RemoveAll(dir + ".new"); err != nil {
		return false, err
	}
	return true, os.RemoveAll(dir)
}

// makeWarm builds the warm cache beside r.warmDir and moves it in place
// once it is complete and sealed.
func (r *Runner) makeWarm(ctx context.Context) error {
	start := time.Now()
	r.cfg.Log.Info("building the warm build cache (once per toolchain; under two minutes on two cores)", "dir", r.warmDir)
	tmp := r.warmDir + ".new"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := r.buildWarm(ctx, tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := r.sealWarm(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, r.warmDir); err != nil {
		return err
	}
	r.cfg.Log.Info("warm build cache ready", "dir", r.warmDir, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func (r *Runner) cacheKey(ctx context.Context) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "racelab-warm-v5 %s\n", r.cfg.GOROOT)
	for _, argv := range [][]string{{filepath.Join(r.cfg.GOROOT, "bin", "go"), "version"}, {"gcc", "--version"}} {
		out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
		if err != nil {
			return "", fmt.Errorf("%s: %w", argv[0], err)
		}
		h.Write(out)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// buildWarm builds the samples in every mode, as trusted code on the
// host, into dir.
func (r *Runner) buildWarm(ctx context.Context, dir string) error {
	work, err := os.MkdirTemp("", "racelab-warm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if err := writeWarmSamples(work, r.cfg.GOROOT); err != nil {
		return err
	}
	env := gotool.BuildEnv(r.cfg.GOROOT, filepath.Join(work, "home"), dir, filepath.Join(work, "tmp"))
	for _, step := range warmSteps(work) {
		cmd := exec.CommandContext(ctx, filepath.Join(r.cfg.GOROOT, "bin", "go"), step.Build[1:]...)
		cmd.Dir, cmd.Env = step.dir, append(env, step.Env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%v %v: %v\n%s", step.Env, step.Build, err, out)
		}
	}
	return nil
}

// writeWarmSamples makes work's home and tmp, warmSample in work/src,
// warmExitSample in work/exit and warmAsmSample in work/asm, each with
// the files a build of the toolchain at goroot gets in the run and race
// modes (gotool.Source).
func writeWarmSamples(work, goroot string) error {
	for _, d := range []string{"home", "tmp"} {
		if err := os.MkdirAll(filepath.Join(work, d), 0o755); err != nil {
			return err
		}
	}
	samples := map[string]map[string]string{"src": warmSample(), "exit": warmExitSample(), "asm": warmAsmSample()}
	for d, files := range samples {
		if err := os.MkdirAll(filepath.Join(work, d), 0o755); err != nil {
			return err
		}
		for name, body := range gotool.Source(files, sandbox.ModeRace, gotool.Tracing{}, goroot) {
			if err := os.WriteFile(filepath.Join(work, d, name), []byte(body), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// A warmStep is one go command that fills the warm cache, run in dir.
type warmStep struct {
	gotool.Plan
	dir string
}

// warmSteps are the go commands that fill the warm cache: warmSample's
// build in every mode, its listing on the host's architecture included,
// warmExitSample's in the modes that wrap a program (which compile the
// exit package), and warmAsmSample's listing for every other
// architecture.
func warmSteps(work string) []warmStep {
	src, exit, asm := filepath.Join(work, "src"), filepath.Join(work, "exit"), filepath.Join(work, "asm")
	var steps []warmStep
	for _, m := range []sandbox.Mode{sandbox.ModeVet, sandbox.ModeRun, sandbox.ModeRace, sandbox.ModeTest, sandbox.ModeBench} {
		steps = append(steps, warmStep{gotool.PlanFor(m, filepath.Join(work, "tmp", "prog")), src})
	}
	for _, m := range []sandbox.Mode{sandbox.ModeRun, sandbox.ModeRace} {
		steps = append(steps, warmStep{gotool.PlanFor(m, filepath.Join(work, "tmp", "prog")), exit})
	}
	for _, arch := range sandbox.Architectures() {
		p := gotool.PlanOf(&sandbox.Request{Mode: sandbox.ModeAsm, GOARCH: arch}, "")
		if len(p.Env) == 0 { // the host's architecture
			steps = append(steps, warmStep{p, src})
		} else {
			steps = append(steps, warmStep{p, asm})
		}
	}
	return steps
}

// sealWarm moves every mtime of the cache into the future. The cache stays
// root's and read-only to everyone else; a run adds entries through the
// directories of its own upper layer, which it owns (see writeFiles).
func (r *Runner) sealWarm(dir string) error {
	future := farFuture()
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, future, future)
	})
}

// lockFile takes an exclusive lock on path, waiting for it as long as ctx
// allows, and returns its release.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := flockWait(ctx, path, unix.LOCK_EX)
	if err != nil {
		return nil, err
	}
	return func() { f.Close() }, nil
}

// flockWait opens (or creates) path and takes a flock of kind how on it
// (unix.LOCK_EX or unix.LOCK_SH), waiting while another holds a lock that
// excludes it; closing the file releases it.
func flockWait(ctx context.Context, path string, how int) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
