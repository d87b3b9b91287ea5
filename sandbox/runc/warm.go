package runc

import (
	"context"
	"fmt"
	"os"
)

// Warm makes what New would otherwise make at start-up in cfg.CacheDir:
// the trusted warm build cache of cfg.GOROOT and gcc, and the download
// directory of cfg.Modules. It skips whatever already exists, removes the
// warm caches of other toolchains no runner uses (see pruneWarm), and
// returns the warm cache's directory.
//
// Unlike New it needs no OCI runtime, no cgroups and no state directory,
// and it starts no container: the cache is built on the host by trusted
// code either way. So an image build (racelab warm in the Dockerfile) can
// bake the cache in, and a container of the image serves in seconds. A
// runner finds the cache only with the same GOROOT, toolchain and gcc.
func Warm(ctx context.Context, cfg Config) (string, error) {
	if err := cfg.fill(); err != nil {
		return "", err
	}
	r := &Runner{cfg: cfg}
	if err := r.checkToolchain(); err != nil {
		return "", fmt.Errorf("%w: %v", ErrSetup, err)
	}
	// Root's alone, as New leaves it (see setupDirs).
	if err := os.MkdirAll(cfg.CacheDir, 0o700); err != nil {
		return "", err
	}
	if err := os.Chmod(cfg.CacheDir, 0o700); err != nil {
		return "", err
	}
	err := r.ensureWarmCache(ctx)
	if r.warmUse != nil {
		defer r.warmUse.Close()
	}
	if err != nil {
		return "", fmt.Errorf("%w: warm build cache: %v", ErrSetup, err)
	}
	r.pruneWarm()
	// New carries on without the modules (programs then import only the
	// standard library); an image built without them would do so for
	// good, so here it is an error.
	r.ensureModules(ctx)
	if len(cfg.Modules) > 0 && r.proxyDir == "" {
		return r.warmDir, fmt.Errorf("%w: the modules %v could not be downloaded (the log says why; is the Go module proxy reachable?)", ErrSetup, cfg.Modules)
	}
	return r.warmDir, nil
}
