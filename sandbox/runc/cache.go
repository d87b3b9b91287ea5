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
	"time"

	"golang.org/x/sys/unix"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/internal/gotool"
)

// warmSample is built in every mode when the warm cache is made, so that
// the packages a lesson imports (and go vet's facts about them, and the
// test main's) are in the cache before the first learner presses Run.
func warmSample() map[string]string {
	return map[string]string{"go.mod": gotool.GoMod, "main.go": warmMain, "main_test.go": warmTest}
}

const warmMain = `package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math/rand"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var _ = []any{context.Background, errors.New, fmt.Println, log.Println, rand.Int,
	http.ListenAndServe, os.Exit, signal.Notify, runtime.Gosched, strings.Cut,
	new(sync.Mutex), new(atomic.Int64), time.Now}

func main() {}
`

const warmTest = `package main

import "testing"

func TestX(t *testing.T) {}

func BenchmarkX(b *testing.B) {}
`

// farFuture is the modification time of every warm cache file. The go
// command refreshes an entry's mtime when it is more than an hour old,
// which in the read-only lower layer would copy the whole file up into the
// run's layer on every build; a time in the future never looks old.
func farFuture() time.Time { return time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC) }

// ensureWarmCache makes the trusted warm build cache unless it exists.
// It is keyed by the toolchain, gcc and the sandbox user, so a new Go
// release gets a new cache.
func (r *Runner) ensureWarmCache(ctx context.Context) error {
	key, err := r.cacheKey(ctx)
	if err != nil {
		return err
	}
	r.warmDir = filepath.Join(r.cfg.CacheDir, key)
	if _, err := os.Stat(filepath.Join(r.warmDir, "README")); err == nil {
		return nil
	}
	// One builder at a time; a runner that waited finds the cache ready.
	unlock, err := lockFile(ctx, filepath.Join(r.cfg.CacheDir, key+".lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(r.warmDir, "README")); err == nil {
		return nil
	}
	return r.makeWarm(ctx)
}

// makeWarm builds the warm cache beside r.warmDir and moves it in place
// once it is complete and sealed.
func (r *Runner) makeWarm(ctx context.Context) error {
	start := time.Now()
	r.cfg.Log.Info("building the warm build cache (once per toolchain; about a minute)", "dir", r.warmDir)
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
	fmt.Fprintf(h, "racelab-warm-v3 %s\n", r.cfg.GOROOT)
	for _, argv := range [][]string{{filepath.Join(r.cfg.GOROOT, "bin", "go"), "version"}, {"gcc", "--version"}} {
		out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
		if err != nil {
			return "", fmt.Errorf("%s: %w", argv[0], err)
		}
		h.Write(out)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// buildWarm builds std with and without -race and the sample in every
// mode, as trusted code on the host, into dir.
func (r *Runner) buildWarm(ctx context.Context, dir string) error {
	work, err := os.MkdirTemp("", "racelab-warm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	src := filepath.Join(work, "src")
	if err := writeWarmSample(work); err != nil {
		return err
	}
	env := gotool.BuildEnv(r.cfg.GOROOT, filepath.Join(work, "home"), dir, filepath.Join(work, "tmp"))
	for _, step := range warmSteps(work) {
		cmd := exec.CommandContext(ctx, filepath.Join(r.cfg.GOROOT, "bin", "go"), step.Build[1:]...)
		cmd.Dir, cmd.Env = src, append(env, step.Env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%v %v: %v\n%s", step.Env, step.Build, err, out)
		}
	}
	return nil
}

// writeWarmSample makes work's src, home and tmp, and the sample in src.
func writeWarmSample(work string) error {
	for _, d := range []string{"src", "home", "tmp"} {
		if err := os.MkdirAll(filepath.Join(work, d), 0o755); err != nil {
			return err
		}
	}
	for name, body := range warmSample() {
		if err := os.WriteFile(filepath.Join(work, "src", name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// warmSteps are the go commands that fill the warm cache: std with and
// without -race, and the sample's build in every mode, its listing for
// every architecture included.
func warmSteps(work string) []gotool.Plan {
	steps := []gotool.Plan{
		{Build: []string{"go", "build", "std"}},
		{Build: []string{"go", "build", "-race", "std"}},
	}
	for _, m := range []sandbox.Mode{sandbox.ModeVet, sandbox.ModeRun, sandbox.ModeRace, sandbox.ModeTest, sandbox.ModeBench} {
		steps = append(steps, gotool.PlanFor(m, filepath.Join(work, "tmp", "prog")))
	}
	for _, arch := range sandbox.Architectures() {
		steps = append(steps, gotool.PlanOf(&sandbox.Request{Mode: sandbox.ModeAsm, GOARCH: arch}, ""))
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
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
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
