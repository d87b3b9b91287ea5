package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/racelab/racelab/internal/gate"
	"github.com/racelab/racelab/lessons"
	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/local"
	"github.com/racelab/racelab/sandbox/remote"
	"github.com/racelab/racelab/server"
)

// runsPerRunner is the default of -max-runs with -runner: a runner
// queues what it cannot start at once, so the web tier may send a few
// more than the runner's slots.
const runsPerRunner = 4

// listFlag is a flag that may be given several times, each time with one
// value or several separated by commas (-runner, -host).
type listFlag []string

// String returns the values, separated by commas.
func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set adds the values of v, separated by commas.
func (l *listFlag) Set(v string) error {
	for _, u := range strings.Split(v, ",") {
		if u = strings.TrimSpace(u); u != "" {
			*l = append(*l, u)
		}
	}
	return nil
}

// serveConfig is racelab serve: the web tier's config, the lessons, and
// where their code runs (the sandbox here, or runners).
type serveConfig struct {
	server     server.Config
	backend    backendFlags
	dir        string
	runners    listFlag
	runnerIdle time.Duration
	client     *remote.Client // of the runners, when -runner is given
}

func serveFlags(fs *flag.FlagSet) config {
	c := &serveConfig{}
	cfg := &c.server
	fs.StringVar(&cfg.Addr, "addr", server.DefaultAddr, "listen `address`")
	fs.StringVar(&c.dir, "lessons", "", "serve the lessons in `dir` instead of the built-in ones, and reload them (and open pages) when they change")
	fs.IntVar(&cfg.MaxRuns, "max-runs", 0, fmt.Sprintf("runs going at once (0: one per core; with -runner, %d per runner URL)", runsPerRunner))
	fs.IntVar(&cfg.QueueSize, "queue", server.DefaultQueueSize, "runs that may wait for a slot; more are told the server is busy")
	fs.IntVar(&cfg.ClientRuns, "client-runs", server.DefaultClientRuns, "runs one client (address) may have going at once")
	fs.IntVar(&cfg.ClientQueue, "client-queue", server.DefaultClientQueue, "runs one client (address) may have waiting for a slot; more are refused at once")
	fs.Float64Var(&cfg.RunsPerMinute, "rate", server.DefaultRunsPerMinute, "programs one client may run per minute, on average (a run with repeat N counts N)")
	fs.IntVar(&cfg.Burst, "burst", server.DefaultBurst, "programs one client may run at once, before -rate holds it back")
	fs.Int64Var(&cfg.MaxBodyBytes, "max-body", server.DefaultMaxBodyBytes, "`bytes` of a POST /api/run body")
	fs.Int64Var(&cfg.MaxMessageBytes, "max-message", server.DefaultMaxMessageBytes, "`bytes` of one websocket message")
	fs.DurationVar(&cfg.WriteTimeout, "write-timeout", server.DefaultWriteTimeout, "drop a client that reads nothing for this `long`")
	fs.IntVar(&cfg.MaxConns, "max-conns", 0, fmt.Sprintf("connections open at once, all clients; more are answered 503 (0: %d, or fewer to stay below the open-file limit)", server.DefaultMaxConns))
	fs.IntVar(&cfg.ClientConns, "client-conns", server.DefaultClientConns, "connections one client (address; an IPv6 /64) may have open at once; more are answered 503 (not applied with -trust-proxy, where the proxy bounds them)")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", server.DefaultIdleTimeout, "close a kept-alive connection, or a websocket with no run going, that sends nothing for this `long`")
	fs.DurationVar(&cfg.BodyTimeout, "body-timeout", server.DefaultBodyTimeout, "a POST /api/run body must arrive whole within this `long`")
	fs.Int64Var(&cfg.InflightBytes, "inflight-bytes", server.DefaultInflightBytes, "`bytes` of request bodies and websocket messages being received at once, all clients; a request past them is told the server is busy")
	fs.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", server.DefaultShutdownGrace, "how `long` shutdown waits for connections")
	fs.BoolVar(&cfg.TrustProxy, "trust-proxy", false, "behind a reverse proxy: rate-limit by the address in X-Forwarded-For")
	fs.Var((*listFlag)(&cfg.Hosts), "host", "serve the pages and runs to browsers that reach racelab by the host `name` (as well as by localhost or an IP address); repeat the flag (or separate with commas) for several")
	fs.Var(&c.runners, "runner", "send runs to the racelab runner at `URL` instead of running them here; repeat the flag (or separate with commas) for several")
	fs.DurationVar(&c.runnerIdle, "runner-idle", remote.DefaultIdleTimeout, "take a runner that sends nothing (not even a heartbeat) for this `long` for gone")
	c.backend.register(fs)
	return c
}

func (c *serveConfig) check([]string) error {
	if err := c.backend.check(); err != nil {
		return err
	}
	if c.runnerIdle <= 0 {
		return errors.New("-runner-idle must be positive")
	}
	if c.server.MaxConns < 0 {
		return fmt.Errorf("-max-conns must be 0 (the default) or positive, not %d", c.server.MaxConns)
	}
	if c.server.ClientConns < 1 {
		return fmt.Errorf("-client-conns must be at least 1, not %d (a class behind one address needs more; see the README)", c.server.ClientConns)
	}
	if c.server.IdleTimeout <= 0 || c.server.BodyTimeout <= 0 {
		return errors.New("-idle-timeout and -body-timeout must be positive")
	}
	if c.server.InflightBytes < c.server.MaxBodyBytes || c.server.InflightBytes < c.server.MaxMessageBytes {
		return fmt.Errorf("-inflight-bytes (%d) must hold at least one whole request: -max-body (%d) and -max-message (%d)", c.server.InflightBytes, c.server.MaxBodyBytes, c.server.MaxMessageBytes)
	}
	if c.server.ClientRuns < 1 || c.server.ClientQueue < 1 {
		return errors.New("-client-runs and -client-queue must be at least 1 (a class behind one address needs more; see the README)")
	}
	for _, h := range c.server.Hosts {
		if err := server.CheckHostName(h); err != nil {
			return fmt.Errorf("-host: %w", err)
		}
	}
	if len(c.runners) == 0 {
		if c.backend.name == "local" {
			return local.CheckListenAddr(c.server.Addr)
		}
		return nil
	}
	client, err := remote.NewClient(c.runners, remote.ClientOptions{IdleTimeout: c.runnerIdle, Limits: c.backend.limits})
	if err != nil {
		return fmt.Errorf("-runner: %w", err)
	}
	c.client = client
	if c.server.MaxRuns == 0 {
		c.server.MaxRuns = runsPerRunner * len(c.runners)
	}
	return nil
}

// run serves the lessons until ctx ends (SIGINT, SIGTERM), or the
// sandbox cannot open.
func (c *serveConfig) run(ctx context.Context, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	c.server.Log, c.server.Limits, c.server.Live = log, c.backend.limits, c.dir != ""
	lib, watcher, err := c.loadLessons(log)
	if err != nil {
		return err
	}
	if watcher != nil {
		defer watcher.close()
	}
	ln, err := net.Listen("tcp", c.server.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	// The pages are served at once. Until the sandbox is open (a first
	// start builds its warm cache, about a minute) the gate refuses runs
	// with words that say to try again in a moment, and /readyz is 503.
	// A sandbox that cannot open ends the server, with its reason.
	serveCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var runner sandbox.Runner = c.client
	where := "runners " + strings.Join(c.runners, ", ")
	if c.client == nil {
		g := gate.Open(serveCtx, c.backend.opener(stderr), log, stop)
		defer g.Close()
		runner, where, c.server.Ready = g, c.backend.describe(), g.NotReady
	}
	srv, err := server.New(c.server, lib, runner)
	if err != nil {
		return err
	}
	var background sync.WaitGroup
	if watcher != nil {
		// The watcher ends with the server: its context is canceled and
		// it is waited for before run returns.
		background.Go(func() { watcher.run(serveCtx, srv.Reload) })
	}
	fmt.Fprintf(stdout, "racelab is serving %d lessons at http://%s/ (sandbox: %s); Ctrl-C stops it\n",
		len(lib.Lessons()), ln.Addr(), where)
	err = srv.Serve(serveCtx, ln)
	if ctx.Err() == nil && serveCtx.Err() != nil {
		err = context.Cause(serveCtx) // only a sandbox that cannot open ends serving early
	}
	stop(nil)
	background.Wait()
	if err == nil {
		log.Info("stopped")
	}
	return err
}

// loadLessons loads the lessons. With -lessons it watches their
// directory too, from before the first load, so that no change made
// while the sandbox warms up is missed; the watcher then waits, unseen,
// for its run, and closes when that ends.
func (c *serveConfig) loadLessons(log *slog.Logger) (*lessons.Library, *lessonWatcher, error) {
	if c.dir == "" {
		lib, err := lessons.Load(lessons.Builtin())
		return lib, nil, err
	}
	w, err := watchLessons(c.dir, log)
	if err != nil {
		return nil, nil, err
	}
	lib, err := lessons.Load(os.DirFS(c.dir))
	if err != nil {
		w.close()
		return nil, nil, err
	}
	return lib, w, nil
}
