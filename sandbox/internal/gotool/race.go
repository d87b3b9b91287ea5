package gotool

import (
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/racelab/racelab/sandbox"
)

// raceRule is the line that opens and closes every race report.
const raceRule = "=================="

// accessRE matches the header of one access of a race report:
// "Read at 0x00c000012345 by goroutine 8:", "Previous write at 0x… by
// main goroutine:"; atomic accesses say "Atomic write at" or "Previous
// atomic read at".
var accessRE = regexp.MustCompile(`^(?:Previous )?(?:(?i:atomic) )?(Read|Write|read|write) at (0x[0-9a-f]+) by (?:(main) goroutine|goroutine (\d+)):$`)

// originRE matches "Goroutine 8 (running) created at:".
var originRE = regexp.MustCompile(`^Goroutine (\d+) \(([^)]*)\) created at:$`)

// Races parses every "WARNING: DATA RACE" report of a program's standard
// error, in order. userFiles holds the submitted files' names and dir is
// the directory they were built in: a frame is the learner's when its
// file is dir/NAME with NAME in userFiles. A report cut short (the output
// limit, a kill) is kept as far as it goes, provided it names an access.
func Races(stderr string, userFiles map[string]bool, dir string) []sandbox.RaceReport {
	lines := strings.Split(stderr, "\n")
	var reports []sandbox.RaceReport
	for i := 0; i+1 < len(lines); i++ {
		if strings.TrimRight(lines[i], "\r") != raceRule || !strings.HasPrefix(lines[i+1], "WARNING: DATA RACE") {
			continue
		}
		end := i + 2
		for end < len(lines) && strings.TrimRight(lines[end], "\r") != raceRule {
			end++
		}
		last := min(end, len(lines)-1)
		rep := parseRace(lines[i+2:end], userFiles, dir)
		rep.Raw = strings.Join(lines[i:last+1], "\n")
		if len(rep.Accesses) > 0 {
			reports = append(reports, rep)
		}
		i = last
	}
	return reports
}

// parseRace parses the body of one report, between its WARNING line and
// its closing rule. Frames go to the section opened last.
func parseRace(body []string, userFiles map[string]bool, dir string) sandbox.RaceReport {
	rep := sandbox.RaceReport{Accesses: []sandbox.RaceAccess{}, Goroutines: []sandbox.GoroutineOrigin{}}
	var stack *[]sandbox.Frame
	for i := 0; i < len(body); i++ {
		line := strings.TrimRight(body[i], "\r")
		if m := accessRE.FindStringSubmatch(line); m != nil {
			rep.Accesses = append(rep.Accesses, access(m))
			stack = &rep.Accesses[len(rep.Accesses)-1].Stack
			continue
		}
		if m := originRE.FindStringSubmatch(line); m != nil {
			id, _ := strconv.Atoi(m[1])
			rep.Goroutines = append(rep.Goroutines, sandbox.GoroutineOrigin{Goroutine: id, State: m[2], Created: []sandbox.Frame{}})
			stack = &rep.Goroutines[len(rep.Goroutines)-1].Created
			continue
		}
		// A frame is a function line indented by two spaces and its
		// position indented by six.
		if stack == nil || !strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "   ") || i+1 >= len(body) {
			continue
		}
		if f, ok := parseFrame(line, body[i+1], userFiles, dir); ok {
			*stack = append(*stack, f)
			i++
		}
	}
	return rep
}

// access turns a match of accessRE into an access with an empty stack.
func access(m []string) sandbox.RaceAccess {
	a := sandbox.RaceAccess{Op: strings.ToLower(m[1]), Addr: m[2], Stack: []sandbox.Frame{}}
	if m[3] == "main" {
		a.Goroutine, a.Main = 1, true
	} else {
		a.Goroutine, _ = strconv.Atoi(m[4])
	}
	return a
}

// parseFrame parses a function line ("main.f(0x1?)", "  main.main.func1()")
// and the position line under it ("\t/work/main.go:9 +0x1d fp=… sp=…",
// "      /work/main.go:8 +0x33"). It reports false when pos is no
// position.
func parseFrame(fn, pos string, userFiles map[string]bool, dir string) (sandbox.Frame, bool) {
	fn = strings.TrimSpace(fn)
	if i := strings.LastIndex(fn, "("); i > 0 && strings.HasSuffix(fn, ")") {
		fn = fn[:i]
	}
	pos = strings.TrimSpace(pos)
	if i := strings.IndexByte(pos, ' '); i >= 0 {
		pos = pos[:i]
	}
	i := strings.LastIndex(pos, ":")
	if i <= 0 {
		return sandbox.Frame{}, false
	}
	line, err := strconv.Atoi(pos[i+1:])
	if err != nil {
		return sandbox.Frame{}, false
	}
	f := sandbox.Frame{Func: fn, File: pos[:i], Line: line}
	if name := path.Base(f.File); path.Dir(f.File) == path.Clean(dir) && userFiles[name] {
		f.File, f.User = name, true
		if rest, ok := strings.CutPrefix(f.Func, testPackage+"."); ok {
			// A test binary names the learner's package by its module
			// path; run mode, and the learner, call it main.
			f.Func = "main." + rest
		}
	}
	return f, true
}
