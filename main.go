// Command racelab serves interactive lessons on Go concurrency and runs
// the code in them, for real, in a sandbox.
//
//	racelab serve [flags]          serve the lessons at http://127.0.0.1:8080/
//	racelab run [flags] FILE...    run Go files through the sandbox
//	racelab check [flags]          prove every lesson cell's claims
//	racelab runner [flags]         run code for web tiers (serve --runner URL)
//
// Run "racelab <command> -h" for a command's flags.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and returns the process's exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(ctx, args[1:], stdout, stderr)
	case "serve":
		return cmdServe(ctx, args[1:], stdout, stderr)
	case "check":
		return cmdCheck(ctx, args[1:], stdout, stderr)
	case "runner":
		return cmdRunner(ctx, args[1:], stdout, stderr)
	case "warm":
		return cmdWarm(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "racelab: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: racelab <command> [flags]

commands:
  serve          serve the lessons and run their code in the sandbox
  run FILE...    build and run Go files in the sandbox and print what they print
  check          run every cell of the lessons and verify what each claims
  runner         run code for web tiers started with serve --runner URL
  warm           build the sandbox's warm build cache ahead of time (image builds)

Run "racelab <command> -h" for a command's flags.
`)
}
