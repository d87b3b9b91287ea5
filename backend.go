package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/racelab/racelab/internal/gate"
	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/local"
	"github.com/racelab/racelab/sandbox/runc"
)

// backendFlags choose and configure the sandbox; every command that runs
// code shares them.
type backendFlags struct {
	name     string
	runtime  string
	stateDir string
	cacheDir string
	seccomp  bool
	huge     bool // runc.Config.HugePages
	parallel int
	patience time.Duration // runc.Config.RuntimeTimeout
	binCache int64         // runc.Config.BinCacheBytes; 0 turns it off
	limits   sandbox.Limits
}

func (b *backendFlags) register(fs *flag.FlagSet) {
	b.limits = sandbox.DefaultLimits()
	fs.StringVar(&b.name, "sandbox", "runc", "sandbox backend: runc (isolated containers) or local (no isolation; your own machine only)")
	fs.StringVar(&b.runtime, "runtime", "runc", "OCI runtime `binary` of the runc backend: runc, crun (the same containers, less CPU a start), or runsc for gVisor")
	fs.StringVar(&b.stateDir, "state-dir", runc.DefaultStateDir, "`dir` for the runc backend's runtime state (one racelab per directory)")
	fs.StringVar(&b.cacheDir, "cache-dir", "", "`dir` for the runc backend's warm build caches, shareable (default: STATE-DIR/cache)")
	fs.BoolVar(&b.seccomp, "seccomp", true, "apply the runc backend's seccomp profile")
	fs.BoolVar(&b.huge, "huge-pages", true, "start race programs with their static data on huge pages, where the host's transparent huge pages allow (madvise or always): tens of milliseconds less a start on a virtual machine")
	fs.IntVar(&b.parallel, "parallel", 0, "containers running at once (0: one per core)")
	fs.Int64Var(&b.binCache, "bin-cache-size", runc.DefaultBinCacheBytes, "`bytes` of the runc backend's cache of built programs (the same source is built once; 0: no cache)")
	fs.DurationVar(&b.patience, "runtime-timeout", runc.DefaultRuntimeTimeout, "how `long` the runc backend waits for the OCI runtime to start or stop a container before it gives up on it (and kills it)")
	b.limits.RegisterFlags(fs)
}

// describe names the sandbox for the start-up line: its backend, and the
// OCI runtime of the runc backend ("runc, runtime crun").
func (b *backendFlags) describe() string {
	if b.name != "runc" {
		return b.name
	}
	return "runc, runtime " + b.runtime
}

// check refuses a limit that cannot work.
func (b *backendFlags) check() error {
	if b.binCache < 0 {
		return fmt.Errorf("-bin-cache-size must be 0 (no cache) or positive, not %d", b.binCache)
	}
	if b.patience <= 0 {
		return fmt.Errorf("-runtime-timeout must be positive, not %v", b.patience)
	}
	return b.limits.Check()
}

// opener returns the opening of the chosen backend, for a gate that
// opens it in the background; log lines go to logw.
func (b *backendFlags) opener(logw io.Writer) gate.Opener {
	return func(ctx context.Context) (sandbox.Runner, func(), error) { return b.open(ctx, logw) }
}

// open starts the chosen backend; log lines go to logw.
func (b *backendFlags) open(ctx context.Context, logw io.Writer) (sandbox.Runner, func(), error) {
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelInfo}))
	switch b.name {
	case "runc":
		r, err := runc.New(ctx, runc.Config{
			Runtime:     b.runtime,
			StateDir:    b.stateDir,
			CacheDir:    b.cacheDir,
			Limits:      b.limits,
			Concurrency: b.parallel,
			Seccomp:     b.seccomp,
			HugePages:   b.huge,
			Log:         log,

			RuntimeTimeout: b.patience,
			BinCacheBytes:  cmp.Or(b.binCache, -1), // the flag's 0 is off
		})
		if err != nil {
			return nil, nil, err
		}
		return r, func() { r.Close() }, nil
	case "local":
		r, err := local.New(local.Config{Limits: b.limits, Concurrency: b.parallel})
		if err != nil {
			return nil, nil, err
		}
		return r, func() {}, nil
	}
	return nil, nil, fmt.Errorf("unknown sandbox %q: use runc or local", b.name)
}
