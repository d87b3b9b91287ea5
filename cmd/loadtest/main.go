// Command loadtest plays a classroom against a running racelab: N learners
// open a websocket at once and each runs a race-mode cell and a repeat=10
// cell, as a class does when the instructor says "press Run". It reports
// successes, the queue positions seen, percentiles of the time to the
// first output and to the exit, and the server's memory.
//
// Before the class (or after it, -quiet), while nothing else runs, it
// compares K warm race runs of a fresh racy counter through the server
// with K bare `go build -race -o prog . && ./prog` on this machine, run by
// turns, and reports the medians of both, their ratio and where the
// difference goes.
//
//	racelab serve --trust-proxy --rate 1000 --burst 100 &
//	go run ./cmd/loadtest -url http://127.0.0.1:8080 -clients 60 -pid $!
//
// Each learner sends its own X-Forwarded-For, so that the per-client rate
// limit sees N learners, as it does behind a reverse proxy. The bare side
// needs the same toolchain as the server (and gcc), on the same machine.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"
)

func main() {
	var cfg config
	flag.StringVar(&cfg.URL, "url", "http://127.0.0.1:8080", "racelab's `address`")
	flag.IntVar(&cfg.Clients, "clients", 60, "learners at once")
	flag.IntVar(&cfg.PID, "pid", 0, "the server's `pid`, to report its memory")
	flag.IntVar(&cfg.QuietRuns, "k", 10, "warm race runs on each side of the quiet comparison (0: none)")
	flag.StringVar(&cfg.QuietAt, "quiet", quietBefore, "when the quiet comparison runs: before, after or both (the class)")
	flag.StringVar(&cfg.GoCache, "gocache", "", "GOCACHE of the bare side (default: this machine's own, go env GOCACHE)")
	flag.BoolVar(&cfg.Verbose, "v", false, "print every run of the quiet comparison")
	flag.DurationVar(&cfg.Timeout, "timeout", 15*time.Minute, "give up after this `long`")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := run(ctx, cfg, os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadtest: %v\n", err)
		os.Exit(1)
	}
	if !rep.allSucceeded() {
		os.Exit(1)
	}
}
