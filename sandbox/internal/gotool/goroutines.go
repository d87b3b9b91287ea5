package gotool

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/racelab/racelab/sandbox"
)

// deadlockMsg is how the runtime says that no goroutine can ever run again.
const deadlockMsg = "all goroutines are asleep - deadlock!"

// goroutineRE matches the header of one goroutine of a dump:
// "goroutine 1 [chan receive]:", "goroutine 5 [chan send, 2 minutes]:",
// and with GOTRACEBACK=system (a SIGQUIT) "goroutine 1 gp=0x… m=0
// mp=0x… [running]:".
var goroutineRE = regexp.MustCompile(`^goroutine (\d+)(?: gp=\S+ m=\S+(?: mp=\S+)?)? \[(.*)\]:$`)

// elsewhereMsg is the runtime's line, in place of a stack, for a
// goroutine that was running on another thread and did not stop while
// the dump was printed.
const elsewhereMsg = "goroutine running on other thread; stack unavailable"

// waitRE matches the blocked time in a goroutine's header ("2 minutes").
var waitRE = regexp.MustCompile(`^\d+ minutes?$`)

// IsDeadlock reports whether a program's standard error holds the
// runtime's deadlock report.
func IsDeadlock(stderr string) bool {
	return strings.Contains(stderr, deadlockMsg)
}

// Goroutines parses a goroutine dump in a program's standard error: the
// runtime's answer to SIGQUIT (cause "timeout") or its deadlock report
// (cause "deadlock"); cause is "" when stderr says neither. userFiles and
// dir say which frames are the learner's, as for Races. It keeps
// goroutine 1 and every goroutine with a frame in the submitted files,
// in the order printed; the runtime's own goroutines are left out.
func Goroutines(stderr string, userFiles map[string]bool, dir string) (cause string, gs []sandbox.Goroutine) {
	switch {
	case IsDeadlock(stderr):
		cause = sandbox.CauseDeadlock
	case strings.Contains(stderr, "SIGQUIT: quit"):
		cause = sandbox.CauseTimeout
	}
	for _, g := range parseDump(stderr, userFiles, dir) {
		if g.ID == 1 || g.Top != nil {
			gs = append(gs, g)
		}
	}
	return cause, gs
}

// ExitGoroutines parses the dump a program wrapped by WrapMain prints
// when goroutines are still running after the user's main returned: the
// goroutine blocks after LeakHeader. It keeps those with a frame in the
// submitted files, in the order printed, and drops the goroutine that
// printed the report (see inWrapper). It returns nil when
// stderr holds no such report.
func ExitGoroutines(stderr string, userFiles map[string]bool, dir string) []sandbox.Goroutine {
	i := strings.Index(stderr, LeakHeader+"\n")
	if i < 0 {
		return nil
	}
	var gs []sandbox.Goroutine
	for _, g := range parseDump(stderr[i+len(LeakHeader)+1:], userFiles, dir) {
		if g.Top != nil && !inWrapper(g) {
			gs = append(gs, g)
		}
	}
	return gs
}

// inWrapper reports whether a goroutine has a frame of ExitPackage's.
func inWrapper(g sandbox.Goroutine) bool {
	for _, f := range g.Stack {
		if strings.HasPrefix(f.Func, ExitPackage+".") {
			return true
		}
	}
	return false
}

// parseDump parses every goroutine block of a dump, in the order printed.
func parseDump(stderr string, userFiles map[string]bool, dir string) []sandbox.Goroutine {
	var gs []sandbox.Goroutine
	lines := strings.Split(stderr, "\n")
	for i := 0; i < len(lines); i++ {
		m := goroutineRE.FindStringSubmatch(strings.TrimRight(lines[i], "\r"))
		if m == nil {
			continue
		}
		end := i + 1
		for end < len(lines) && strings.TrimSpace(lines[end]) != "" {
			end++
		}
		gs = append(gs, parseGoroutine(m, lines[i+1:end], userFiles, dir))
		i = end - 1
	}
	return gs
}

// parseGoroutine makes a goroutine of a matched header and the lines of
// its stack, up to (not including) its "created by" frame.
func parseGoroutine(m []string, body []string, userFiles map[string]bool, dir string) sandbox.Goroutine {
	id, _ := strconv.Atoi(m[1])
	g := sandbox.Goroutine{ID: id, Stack: []sandbox.Frame{}}
	parts := strings.Split(m[2], ", ")
	g.State = parts[0]
	for _, p := range parts[1:] {
		if waitRE.MatchString(p) {
			g.Wait = p
		}
	}
	if len(body) > 0 && strings.TrimSpace(body[0]) == elsewhereMsg {
		g.Elsewhere = true
		return g
	}
	for i := 0; i+1 < len(body); i++ {
		line := strings.TrimRight(body[i], "\r")
		if strings.HasPrefix(line, "created by ") {
			break
		}
		if strings.HasPrefix(line, "\t") || !strings.HasPrefix(body[i+1], "\t") {
			continue // "...additional frames elided...", a stray line
		}
		if f, ok := parseFrame(line, body[i+1], userFiles, dir); ok {
			g.Stack = append(g.Stack, f)
			i++
		}
	}
	g.Top = topFrame(g.Stack)
	return g
}

// topFrame returns a copy of the innermost frame of stack in the submitted
// files (Goroutine.Top), or nil.
func topFrame(stack []sandbox.Frame) *sandbox.Frame {
	for _, f := range stack {
		if f.User {
			return &f
		}
	}
	return nil
}
