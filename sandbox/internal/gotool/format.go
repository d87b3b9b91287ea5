package gotool

import (
	"go/format"
	"go/scanner"
	"path"
	"strings"
	"time"

	"github.com/racelab/racelab/sandbox"
)

// Format runs gofmt over the .go files of a request, in process: parsing
// is all it does, so it needs no container. It returns a fmt event with
// every file (formatted, or unchanged when it is not Go) or, when a file
// does not parse, compile_error events and false.
func Format(files map[string]string) ([]sandbox.Event, bool) {
	out := make(map[string]string, len(files))
	var errs []sandbox.Event
	for name, src := range files {
		if !strings.HasSuffix(name, ".go") {
			out[name] = src
			continue
		}
		b, err := format.Source([]byte(src))
		if err != nil {
			errs = append(errs, formatErrors(name, err)...)
			continue
		}
		out[name] = string(b)
	}
	if len(errs) > 0 {
		return errs, false
	}
	return []sandbox.Event{{Kind: sandbox.KindFmt, Files: out}}, true
}

func formatErrors(name string, err error) []sandbox.Event {
	list, ok := err.(scanner.ErrorList)
	if !ok {
		return []sandbox.Event{{Kind: sandbox.KindCompileError, File: name, Msg: err.Error()}}
	}
	evs := make([]sandbox.Event, 0, len(list))
	for _, e := range list {
		evs = append(evs, sandbox.Event{
			Kind: sandbox.KindCompileError,
			File: path.Base(name),
			Line: e.Pos.Line,
			Col:  e.Pos.Column,
			Msg:  e.Msg,
		})
	}
	return evs
}

// FormatRun carries out a fmt request: the fmt event (or the parse
// errors), then the exit event.
func FormatRun(req *sandbox.Request, l sandbox.Limits, emit func(sandbox.Event)) {
	start := time.Now()
	evs, ok := Format(req.Files)
	for _, e := range evs {
		emit(e)
	}
	exit := sandbox.Event{Kind: sandbox.KindExit, Reason: sandbox.ReasonExited, Ms: time.Since(start).Milliseconds(),
		Msg: "The files are formatted."}
	if !ok {
		exit.Code, exit.Reason = 2, sandbox.ReasonBuildFailed
		exit.Msg = "The files do not parse, so they cannot be formatted; the errors point at the lines to fix."
	}
	emit(exit)
}
