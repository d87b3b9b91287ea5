package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"

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

// urlList is a flag that may be given several times, each time with one
// URL or several separated by commas.
type urlList []string

func (l *urlList) String() string { return strings.Join(*l, ",") }

func (l *urlList) Set(v string) error {
	for _, u := range strings.Split(v, ",") {
		if u = strings.TrimSpace(u); u != "" {
			*l = append(*l, u)
		}
	}
	return nil
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("racelab serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg server.Config
	var backend backendFlags
	fs.StringVar(&cfg.Addr, "addr", server.DefaultAddr, "listen `address`")
	dir := fs.String("lessons", "", "serve the lessons in `dir` instead of the built-in ones, and reload them (and open pages) when they change")
	fs.IntVar(&cfg.MaxRuns, "max-runs", 0, fmt.Sprintf("runs going at once (0: one per core; with -runner, %d per runner URL)", runsPerRunner))
	fs.IntVar(&cfg.QueueSize, "queue", server.DefaultQueueSize, "runs that may wait for a slot; more are told the server is busy")
	fs.Float64Var(&cfg.RunsPerMinute, "rate", server.DefaultRunsPerMinute, "runs one client may start per minute, on average")
	fs.IntVar(&cfg.Burst, "burst", server.DefaultBurst, "runs one client may start at once")
	fs.Int64Var(&cfg.MaxBodyBytes, "max-body", server.DefaultMaxBodyBytes, "`bytes` of a POST /api/run body")
	fs.Int64Var(&cfg.MaxMessageBytes, "max-message", server.DefaultMaxMessageBytes, "`bytes` of one websocket message")
	fs.DurationVar(&cfg.WriteTimeout, "write-timeout", server.DefaultWriteTimeout, "drop a client that reads nothing for this `long`")
	fs.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", server.DefaultShutdownGrace, "how `long` shutdown waits for connections")
	fs.BoolVar(&cfg.TrustProxy, "trust-proxy", false, "behind a reverse proxy: rate-limit by the address in X-Forwarded-For")
	var runners urlList
	fs.Var(&runners, "runner", "send runs to the racelab runner at `URL` instead of running them here; repeat the flag (or separate with commas) for several")
	runnerIdle := fs.Duration("runner-idle", remote.DefaultIdleTimeout, "take a runner that sends nothing (not even a heartbeat) for this `long` for gone")
	backend.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: racelab serve [flags]\n\nServe the lessons and run their code in the sandbox.\n\nflags:\n")
		printDefaults(fs.Output(), fs)
	}
	if code, ok := parseFlags(fs, args, &backend); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "racelab serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *runnerIdle <= 0 {
		fmt.Fprintf(stderr, "racelab serve: -runner-idle must be positive\n")
		return 2
	}
	var client *remote.Client
	if len(runners) > 0 {
		c, err := remote.NewClient(runners, remote.ClientOptions{IdleTimeout: *runnerIdle})
		if err != nil {
			fmt.Fprintf(stderr, "racelab serve: -runner: %v\n", err)
			return 2
		}
		client = c
		if cfg.MaxRuns == 0 {
			cfg.MaxRuns = runsPerRunner * len(runners)
		}
	} else if backend.name == "local" {
		if err := local.CheckListenAddr(cfg.Addr); err != nil {
			fmt.Fprintf(stderr, "racelab serve: %v\n", err)
			return 2
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	cfg.Log, cfg.Limits = log, backend.limits
	lessonFS := lessons.Builtin()
	var watcher *lessonWatcher
	if *dir != "" {
		lessonFS = os.DirFS(*dir)
		// Watching starts before the first load, so that no change made
		// while the sandbox warms up is missed.
		w, err := watchLessons(*dir, log)
		if err != nil {
			fmt.Fprintf(stderr, "racelab serve: %v\n", err)
			return 1
		}
		defer w.close()
		watcher = w
	}
	lib, err := lessons.Load(lessonFS)
	if err != nil {
		fmt.Fprintf(stderr, "racelab serve: %v\n", err)
		return 1
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		fmt.Fprintf(stderr, "racelab serve: %v\n", err)
		return 1
	}
	defer ln.Close()
	cfg.Live = *dir != ""
	// The pages are served at once. Until the sandbox is open (a first
	// start builds its warm cache, about a minute) the gate refuses runs
	// with words that say to try again in a moment, and /readyz is 503.
	var runner sandbox.Runner = client
	where := "runners " + strings.Join(runners, ", ")
	g := &gate{}
	if client == nil {
		runner, where = g, backend.name
		cfg.Ready = g.notReady
	}
	srv, err := server.New(cfg, lib, runner)
	if err != nil {
		fmt.Fprintf(stderr, "racelab serve: %v\n", err)
		return 1
	}
	serveCtx, stopServing := context.WithCancel(ctx)
	var background sync.WaitGroup
	defer func() { stopServing(); background.Wait() }()
	var openErr error
	var closeRunner func()
	if client == nil {
		// A sandbox that cannot open ends the server, with its reason.
		background.Go(func() {
			r, closeR, err := backend.open(serveCtx, stderr)
			if err != nil {
				openErr = err
				stopServing()
				return
			}
			closeRunner = closeR
			g.open(r)
			log.Info("ready: the sandbox is open")
		})
	}
	if watcher != nil {
		// The watcher ends with the server: its context is canceled and it
		// is waited for before serve returns.
		background.Go(func() { watcher.run(serveCtx, srv.Reload) })
	}
	fmt.Fprintf(stdout, "racelab is serving %d lessons at http://%s/ (sandbox: %s); Ctrl-C stops it\n",
		len(lib.Lessons()), ln.Addr(), where)
	err = srv.Serve(serveCtx, ln)
	stopServing()
	background.Wait()
	if closeRunner != nil {
		closeRunner()
	}
	if openErr != nil && ctx.Err() == nil {
		fmt.Fprintf(stderr, "racelab serve: %v\n", openErr)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "racelab serve: %v\n", err)
		return 1
	}
	log.Info("stopped")
	return 0
}
