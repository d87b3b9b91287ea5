// Package gotool knows how each sandbox mode drives the go command: what
// to build, what to run, with which environment, and how to read what the
// toolchain prints. Every backend shares it, so all of them behave alike.
package gotool

import (
	"fmt"
	"maps"
	"regexp"
	"runtime"
	"strconv"
	"strings"

	"github.com/racelab/racelab/sandbox"
)

// Plan is how one mode is carried out: a build step, then (for modes that
// run code) the built binary.
type Plan struct {
	// Build is the go command's argv, run in the source directory.
	Build []string
	// Binary is the path Build writes the program to, "" when nothing runs.
	Binary string
	// Args are the arguments the binary runs with.
	Args []string
	// Race is set when the binary carries the race detector.
	Race bool
	// Output says how to read the build step's output.
	Output BuildOutput
	// Env is added to the build step's environment (a cross-compiled
	// listing's GOARCH).
	Env []string
}

// PlanOf returns the plan of req, with the program written to bin: its
// mode's, compiling for req.GOARCH when the request names another
// architecture than the toolchain's own. Such a listing is compiled
// without cgo, which would need a cross-compiling C compiler.
func PlanOf(req *sandbox.Request, bin string) Plan {
	p := PlanFor(req.Mode, bin)
	if req.Mode == sandbox.ModeAsm && req.GOARCH != "" && req.GOARCH != runtime.GOARCH {
		p.Env = []string{"GOARCH=" + req.GOARCH, "CGO_ENABLED=0"}
	}
	return p
}

// BuildOutput says what the build step prints.
type BuildOutput int

// What a build step prints.
const (
	CompilerErrors BuildOutput = iota // only errors, one per line
	AsmListing                        // the -S listing (and errors)
	VetReport                         // go vet's findings
	Formatted                         // gofmt's errors; the files are rewritten in place
)

// PlanFor returns the plan of mode m, with the program written to bin.
func PlanFor(m sandbox.Mode, bin string) Plan {
	switch m {
	case sandbox.ModeRace:
		return Plan{Build: []string{"go", "build", "-race", "-overlay=" + OverlayFile, "-o", bin, "."}, Binary: bin, Race: true}
	case sandbox.ModeAsm:
		// -gcflags without a package pattern applies to the packages named
		// on the command line only: the user's, not the standard library.
		return Plan{Build: []string{"go", "build", "-gcflags=-S", "-o", "/dev/null", "."}, Output: AsmListing}
	case sandbox.ModeTest:
		return Plan{Build: []string{"go", "test", "-c", "-race", "-o", bin, "."}, Binary: bin,
			Args: []string{"-test.v"}, Race: true}
	case sandbox.ModeBench:
		return Plan{Build: []string{"go", "test", "-c", "-o", bin, "."}, Binary: bin,
			Args: []string{"-test.run=^$", "-test.bench=.", "-test.benchmem"}}
	case sandbox.ModeVet:
		return Plan{Build: []string{"go", "vet", "."}, Output: VetReport}
	case sandbox.ModeFmt:
		return Plan{Build: []string{"gofmt", "-w", "."}, Output: Formatted}
	default:
		return Plan{Build: []string{"go", "build", "-overlay=" + OverlayFile, "-o", bin, "."}, Binary: bin}
	}
}

// BuildEnv is the environment of the build step. home, cache and tmp are
// the directories the toolchain may write to. The toolchain must never
// reach for the network: no proxy, no checksum database, no toolchain
// switch, no VCS stamping.
func BuildEnv(goroot, home, cache, tmp string) []string {
	return []string{
		"PATH=" + goroot + "/bin:/usr/local/bin:/usr/bin:/bin",
		"HOME=" + home,
		"GOROOT=" + goroot,
		"GOCACHE=" + cache,
		"GOPATH=" + home + "/go",
		"GOTMPDIR=" + tmp,
		"TMPDIR=" + tmp,
		"GOTOOLCHAIN=local",
		"GOPROXY=off",
		"GOSUMDB=off",
		"GOTELEMETRY=off",
		"GOFLAGS=-buildvcs=false",
		"GOENV=off",
		"GOWORK=off",
		"CGO_ENABLED=1",
		"LANG=C.UTF-8",
	}
}

// RunEnv is the environment of the program.
func RunEnv(req *sandbox.Request, p Plan, home, tmp string) []string {
	env := []string{
		"PATH=/usr/bin:/bin",
		"HOME=" + home,
		"TMPDIR=" + tmp,
		"LANG=C.UTF-8",
	}
	if p.Race {
		// Race binaries otherwise sleep a second at exit.
		env = append(env, "GORACE=atexit_sleep_ms=0")
	}
	if req.GOMAXPROCS > 0 {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(req.GOMAXPROCS))
	}
	return env
}

// GoMod is the go.mod written when the request brings none.
const GoMod = "module " + testPackage + "\n\ngo 1.26\n"

// testPackage is the module path of GoMod, by which a test binary names
// the learner's package main in its stacks.
const testPackage = "prog"

// CheckGoMod rejects what a go.mod could use to reach outside the
// sandbox. The toolchain would fail too (GOPROXY=off, GOTOOLCHAIN=local),
// but a clear message up front beats a confusing one later.
func CheckGoMod(src string) error {
	for i, line := range strings.Split(src, "\n") {
		if m := goModDirectiveRE.FindStringSubmatch(line); m != nil {
			return fmt.Errorf("%w: go.mod:%d: %q directives are not supported: the sandbox has no network and only the standard library",
				sandbox.ErrBadRequest, i+1, m[1])
		}
	}
	return nil
}

// goModDirectiveRE matches a go.mod directive that could reach outside the
// sandbox or change the toolchain, alone or opening a block, with or
// without a space before the parenthesis ("require(" is valid go.mod).
var goModDirectiveRE = regexp.MustCompile(`^\s*(require|replace|toolchain|godebug|tool|ignore)\b`)

// ShellQuote quotes s for a POSIX shell.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ShellJoin quotes and joins argv for a POSIX shell.
func ShellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = ShellQuote(a)
	}
	return strings.Join(q, " ")
}

// Source returns the files to build for a request of mode with the
// toolchain at goroot (as the build sees it): the submitted files, the
// default go.mod when they bring none, and in the run and race modes the
// exit wrapper (see WrapMain), which also starts and stops the tracer when
// t traces, and the exit package's files, which these modes' builds
// always read (PlanFor). files is not changed.
func Source(files map[string]string, mode sandbox.Mode, t Tracing, goroot string) map[string]string {
	out := make(map[string]string, len(files)+4)
	out["go.mod"] = GoMod
	for name, body := range files {
		out[name] = body
	}
	if mode == sandbox.ModeRun || mode == sandbox.ModeRace {
		out, _ = wrap(out, t)
		maps.Copy(out, exitFiles(goroot))
	}
	return out
}
