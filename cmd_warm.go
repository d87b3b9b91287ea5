package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/racelab/racelab/sandbox/runc"
)

// warmConfig is racelab warm: where the runc backend's warm build cache
// goes. Only the directories of the backend's flags matter here.
type warmConfig struct {
	stateDir string
	cacheDir string
}

func warmFlags(fs *flag.FlagSet) config {
	c := &warmConfig{}
	fs.StringVar(&c.stateDir, "state-dir", runc.DefaultStateDir, "`dir` whose cache/ holds the warm build caches unless -cache-dir is given")
	fs.StringVar(&c.cacheDir, "cache-dir", "", "`dir` for the warm build caches, as racelab serve's -cache-dir (default: STATE-DIR/cache)")
	return c
}

func (c *warmConfig) check([]string) error { return nil }

// run builds the warm build cache ahead of time, as an image build
// does, so that the first racelab serve starts in seconds.
func (c *warmConfig) run(ctx context.Context, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	dir, err := runc.Warm(ctx, runc.Config{StateDir: c.stateDir, CacheDir: c.cacheDir, Log: log})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "warm build cache: %s\n", dir)
	return nil
}
