// Command loadtest plays a classroom against a running racelab: N learners
// open a websocket at once and each runs a race-mode cell and a repeat=10
// cell, as a class does when the instructor says "press Run": everyone on
// the same cell (-shape same), everyone on their own edit of it (fresh),
// or both, one class after the other. It reports successes, the queue
// positions seen, percentiles of the time to the first output and to the
// exit, the server's memory and (with -bin-cache) the size of its cache
// of built programs.
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
	shape := flag.String("shape", "both", "the class: same (everyone on the same cell), fresh (everyone's own edit) or both, same first")
	flag.StringVar(&cfg.BinCache, "bin-cache", "", "the server's cache of built programs (STATE-DIR/bin), to report its size")
	flag.Parse()
	switch *shape {
	case shapeSame, shapeFresh:
		cfg.Shapes = []string{*shape}
	case "both":
		cfg.Shapes = []string{shapeSame, shapeFresh}
	default:
		fmt.Fprintf(os.Stderr, "loadtest: -shape %q: want same, fresh or both\n", *shape)
		os.Exit(2)
	}
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
