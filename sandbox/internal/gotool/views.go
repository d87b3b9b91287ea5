package gotool

import (
	"github.com/racelab/racelab/sandbox"
)

// EmitViews emits what a finished program's standard error shows beyond
// its text, before the backend emits the exit event: one race event per
// data race report, then, when the run timed out or the runtime found a
// deadlock, one goroutines event listing where the goroutines were stuck,
// or, when a program wrapped by WrapMain reported goroutines still running
// after its main returned, one goroutines event with cause "exit".
// run tags the events like the run's output; files are the request's
// files and dir the directory they were built in. A timeout whose program
// printed no dump (it caught SIGQUIT) gets no goroutines event.
func EmitViews(emit func(sandbox.Event), run int, stderr string, timedOut bool, files map[string]string, dir string) {
	user := make(map[string]bool, len(files))
	for name := range files {
		user[name] = true
	}
	for _, r := range Races(stderr, user, dir) {
		emit(sandbox.Event{Kind: sandbox.KindRace, Run: run, Race: &r})
	}
	if !timedOut && !IsDeadlock(stderr) {
		if gs := ExitGoroutines(stderr, user, dir); len(gs) > 0 {
			placeSpins(gs, files)
			emit(sandbox.Event{Kind: sandbox.KindGoroutines, Run: run, Cause: sandbox.CauseExit, Goroutines: gs})
		}
		return
	}
	cause, gs := Goroutines(stderr, user, dir)
	if timedOut {
		cause = sandbox.CauseTimeout
	}
	if len(gs) > 0 {
		placeSpins(gs, files)
		emit(sandbox.Event{Kind: sandbox.KindGoroutines, Run: run, Cause: cause, Goroutines: gs})
	}
}
