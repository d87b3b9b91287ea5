package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

// A command is one subcommand of racelab: its words for the usage, and
// its flags, parsed into a config that runs it.
type command struct {
	name    string                     // racelab NAME
	args    string                     // what follows the flags in its usage line ("FILE..."); "" when it takes none
	summary string                     // one line, for racelab's own usage
	doc     string                     // what it does, for racelab NAME -h
	flags   func(*flag.FlagSet) config // registers the flags on the set, into the config it returns
}

// A config is a command's flags, parsed.
type config interface {
	// check refuses a bad value or combination of flags, or bad
	// arguments, before anything starts (exit status 2).
	check(args []string) error
	// run does what the command does. An error wrapping a usageError
	// ends it with status 2, an exitStatus with that status, any other
	// with status 1.
	run(ctx context.Context, stdout, stderr io.Writer) error
}

// usageError marks an error in what the command was given (exit status 2).
type usageError struct{ error }

// Unwrap returns the error in what the command was given.
func (e usageError) Unwrap() error { return e.error }

// exitStatus is a status a command ends with, without a message.
type exitStatus int

// Error names the status.
func (s exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(s)) }

// main runs the command with args and returns the process's exit status.
func (c command) main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("racelab "+c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := c.flags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s [flags]%s\n\n%s\n\nflags:\n", fs.Name(), prefixed(" ", c.args), c.doc)
		printDefaults(fs.Output(), fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2 // the flag package has said why
	}
	err := applyEnv(fs)
	if err == nil && c.args == "" && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q: %s takes only flags", fs.Arg(0), fs.Name())
	}
	if err == nil {
		err = cfg.check(fs.Args())
	}
	if err != nil {
		err = usageError{err}
	} else {
		err = cfg.run(ctx, stdout, stderr)
	}
	var status exitStatus
	switch {
	case err == nil:
		return 0
	case errors.As(err, &status):
		return int(status)
	}
	fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
	if errors.As(err, new(usageError)) {
		return 2
	}
	return 1
}

// prefixed returns s with p before it, or "" when s is empty.
func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}
