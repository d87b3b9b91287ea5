// Command racelab serves interactive lessons on Go concurrency and runs
// the code in them, for real, in a sandbox.
//
//	racelab serve [flags]          serve the lessons at http://127.0.0.1:8080/
//	racelab run [flags] FILE...    run Go files through the sandbox
//	racelab check [flags]          prove every lesson cell's claims
//	racelab runner [flags]         run code for web tiers (serve --runner URL)
//	racelab warm [flags]           build the sandbox's warm cache ahead of time
//
// Run "racelab <command> -h" for a command's flags. Each command parses
// its flags into a config (cmd_*.go) whose run wires the packages
// together; this package holds nothing else.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/racelab/racelab/sandbox/tracing"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// commands is the table of racelab's commands, in the order the usage
// lists them.
func commands() []command {
	return []command{
		{name: "serve", flags: serveFlags,
			summary: "serve the lessons and run their code in the sandbox",
			doc:     "Serve the lessons and run their code in the sandbox."},
		{name: "run", args: "FILE...", flags: runFlags,
			summary: "build and run Go files in the sandbox and print what they print",
			doc:     "Build and run Go files in the sandbox."},
		{name: "check", flags: checkFlags,
			summary: "run every cell of the lessons and verify what each claims",
			doc: "Run every cell of the lessons in the sandbox and verify what each claims.\n" +
				"Prints one line per cell and \"N passed, M failed\"; exit status 1 on any failure."},
		{name: "runner", flags: runnerFlags,
			summary: "run code for web tiers started with serve --runner URL",
			doc:     "Run code for web tiers started with racelab serve --runner URL."},
		{name: "warm", flags: warmFlags,
			summary: "build the sandbox's warm build cache ahead of time (image builds)",
			doc: "Build the runc sandbox's warm build cache (the standard library with and\n" +
				"without -race, for the Go toolchain on PATH and gcc) and download the modules\n" +
				"the sandbox provides, unless they exist. No container is started: an image\n" +
				"build runs this so that racelab serve starts in seconds."},
	}
}

// run runs the command args names and returns the process's exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return 0
	case tracing.Command:
		// Hidden: racelab's own child process that parses a traced run's
		// trace under limits (see tracing.Run); never listed.
		return tracing.Main(args[1:], os.Stdin, stdout, stderr)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.main(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "racelab: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

// usage lists the commands.
func usage(w io.Writer) {
	fmt.Fprint(w, "usage: racelab <command> [flags]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-14s %s\n", c.name+prefixed(" ", c.args), c.summary)
	}
	fmt.Fprint(w, "\nRun \"racelab <command> -h\" for a command's flags.\n")
}
