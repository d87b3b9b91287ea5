// Package local runs racelab requests directly on the host, as the user
// who started racelab, with NO isolation: it is for a learner running
// racelab on their own laptop, never for code written by strangers.
//
// From the client's side it behaves like the runc backend: both are
// carried by the same run driver (sandbox/internal/driver), so the events,
// their order, the exit reasons and messages are the same. What it cannot
// do is keep the sandbox's security invariants: the program can use the
// network, read and write the user's files, and the build cache is the
// user's own, shared by every run (which is what makes builds fast). Of
// the limits it enforces the wall times, the output bytes and the
// request's size; there are NO memory, process, CPU or tmpfs limits, as
// those need cgroups, and so a memory reason never occurs (PeakBytes is
// the largest resident set, from rusage). Each process runs in its own
// process group, which is signalled as a whole, so a run's child
// processes end with it unless they leave the group themselves.
//
// Because of that, a server using this backend must listen on loopback
// only; CheckListenAddr says whether an address is.
package local

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/internal/driver"
)

// Config sets up a Runner.
type Config struct {
	// GOROOT is the toolchain that builds the programs (default: the
	// GOROOT of the go command on PATH).
	GOROOT string
	// Limits bound every run (default sandbox.DefaultLimits()). Only the
	// wall times, the output limits and the request limits are enforced.
	Limits sandbox.Limits
	// Concurrency is how many runs may build or run at once (default: cores).
	Concurrency int
	// CacheDir is the go build cache (default: the user's own, go env
	// GOCACHE), so that builds are as fast as the user's own.
	CacheDir string
}

// Runner is the local backend of sandbox.Runner.
type Runner struct {
	cfg Config
	drv *driver.Driver
}

var _ sandbox.Runner = (*Runner)(nil)

// New checks the toolchain and fills in the defaults of cfg.
func New(cfg Config) (*Runner, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(cfg.GOROOT, "bin", "go")); err != nil {
		return nil, fmt.Errorf("local: GOROOT %s has no bin/go", cfg.GOROOT)
	}
	r := &Runner{cfg: cfg}
	r.drv = driver.New(r, cfg.GOROOT, cfg.Limits, cfg.Concurrency)
	return r, nil
}

func (c *Config) fill() error {
	if err := driver.Fill(&c.Limits, &c.Concurrency); err != nil {
		return err
	}
	if c.GOROOT != "" && c.CacheDir != "" {
		return nil
	}
	return c.fromGoEnv()
}

// fromGoEnv fills GOROOT and CacheDir from the go command's environment.
func (c *Config) fromGoEnv() error {
	goCmd := "go"
	if c.GOROOT != "" {
		goCmd = filepath.Join(c.GOROOT, "bin", "go")
	}
	out, err := exec.Command(goCmd, "env", "GOROOT", "GOCACHE").Output()
	if err != nil {
		return fmt.Errorf("local: no Go toolchain found (%s env: %v); install Go or set its GOROOT", goCmd, err)
	}
	vals := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(vals) != 2 {
		return fmt.Errorf("local: %s env GOROOT GOCACHE printed %q", goCmd, out)
	}
	c.GOROOT = cmp.Or(c.GOROOT, vals[0])
	c.CacheDir = cmp.Or(c.CacheDir, vals[1])
	if c.CacheDir == "" || c.CacheDir == "off" {
		return errors.New("local: the go build cache is off (GOCACHE=off): unset GOCACHE or give a cache directory")
	}
	return nil
}

// Run builds and runs req on the host; see sandbox.Runner.
func (r *Runner) Run(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
	return r.drv.Run(ctx, req, emit)
}
