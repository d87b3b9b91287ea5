package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/racelab/racelab/runner"
	"github.com/racelab/racelab/sandbox/local"
	"github.com/racelab/racelab/sandbox/remote"
)

// runnerConfig is racelab runner: where it listens, the protocol's
// limits, its shutdown grace and the sandbox it serves.
type runnerConfig struct {
	addr    string
	runner  runner.Config
	backend backendFlags
}

func runnerFlags(fs *flag.FlagSet) config {
	c := &runnerConfig{}
	h := &c.runner.Handler
	fs.StringVar(&c.addr, "addr", runner.DefaultAddr, "listen `address`; the protocol has no authentication, so only the web tier may reach it")
	fs.Int64Var(&h.MaxBodyBytes, "max-body", remote.DefaultHandlerMaxBody, "`bytes` of one request")
	fs.DurationVar(&h.WriteTimeout, "write-timeout", remote.DefaultHandlerWrite, "stop a run whose web tier reads nothing for this `long`")
	fs.DurationVar(&h.Heartbeat, "heartbeat", remote.DefaultHeartbeat, "send a heartbeat after this `long` without an event, so the web tier can tell a silent run from a lost runner")
	fs.DurationVar(&c.runner.ShutdownGrace, "shutdown-grace", runner.DefaultShutdownGrace, "on SIGTERM, how `long` runs in flight may go on before they are stopped")
	c.backend.register(fs)
	return c
}

func (c *runnerConfig) check([]string) error {
	h := c.runner.Handler
	if err := c.backend.check(); err != nil {
		return err
	}
	switch {
	case h.MaxBodyBytes <= 0 || h.WriteTimeout <= 0 || c.runner.ShutdownGrace < 0:
		return fmt.Errorf("-max-body and -write-timeout must be positive, -shutdown-grace not negative (not %d, %v, %v)",
			h.MaxBodyBytes, h.WriteTimeout, c.runner.ShutdownGrace)
	case h.Heartbeat < remote.MinHeartbeat:
		return fmt.Errorf("-heartbeat must be at least %v (and well below the web tier's -runner-idle, %v by default)", remote.MinHeartbeat, remote.DefaultIdleTimeout)
	case c.backend.name == "local":
		return local.CheckListenAddr(c.addr)
	}
	return nil
}

// run serves the sandbox for web tiers until ctx ends (SIGTERM), or the
// sandbox cannot open.
func (c *runnerConfig) run(ctx context.Context, stdout, stderr io.Writer) error {
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	c.runner.Open, c.runner.Log = c.backend.opener(stderr), slog.New(slog.NewTextHandler(stderr, nil))
	fmt.Fprintf(stdout, "racelab runner is listening at http://%s/ (sandbox: %s); ready once the sandbox is open\n", ln.Addr(), c.backend.describe())
	return runner.Serve(ctx, ln, c.runner)
}
