package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/runc"
)

// cmdWarm builds the runc backend's warm build cache ahead of time, as an
// image build does, so that the first racelab serve starts in seconds.
func cmdWarm(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("racelab warm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	// Only the directories of the backend's flags matter here; the limits
	// keep their defaults so that parseFlags can check them.
	backend := backendFlags{limits: sandbox.DefaultLimits()}
	fs.StringVar(&backend.stateDir, "state-dir", runc.DefaultStateDir, "`dir` whose cache/ holds the warm build caches unless -cache-dir is given")
	fs.StringVar(&backend.cacheDir, "cache-dir", "", "`dir` for the warm build caches, as racelab serve's -cache-dir (default: STATE-DIR/cache)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: racelab warm [flags]\n\nBuild the runc sandbox's warm build cache (the standard library with and\nwithout -race, for the Go toolchain on PATH and gcc) and download the modules\nthe sandbox provides, unless they exist. No container is started: an image\nbuild runs this so that racelab serve starts in seconds.\n\nflags:\n")
		printDefaults(fs.Output(), fs)
	}
	if code, ok := parseFlags(fs, args, &backend); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "racelab warm: unexpected arguments %q: racelab warm takes only flags\n", fs.Args())
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	dir, err := runc.Warm(ctx, runc.Config{StateDir: backend.stateDir, CacheDir: backend.cacheDir, Log: log})
	if err != nil {
		fmt.Fprintf(stderr, "racelab warm: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "warm build cache: %s\n", dir)
	return 0
}
