package driver

import (
	"fmt"
	"strings"
	"testing"

	"github.com/racelab/racelab/sandbox"
)

// kinds lists the kinds of evs, and the reason and code of an exit.
func kinds(evs []sandbox.Event) string {
	var b strings.Builder
	for i, e := range evs {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(string(e.Kind))
		if e.Kind == sandbox.KindExit {
			fmt.Fprintf(&b, "(%s %d)", e.Reason, e.Code)
		}
	}
	return b.String()
}

func TestAfterBuild(t *testing.T) {
	l := sandbox.DefaultLimits()
	const compileError = "./main.go:3:2: undefined: x\n"
	tests := []struct {
		name  string
		b     BuildResult
		mode  sandbox.Mode
		want  string // kinds of the events
		runs  bool
		msgIs string // part of the exit's message
	}{
		{"built", BuildResult{Ms: 300, StartMs: 40}, sandbox.ModeRace, "build", true, ""},
		{"built with notes", BuildResult{Output: "go: downloading golang.org/x/sync v0.25.0\nwarning: x\n"}, sandbox.ModeRun,
			"build stderr", true, ""},
		{"built, only module notes", BuildResult{Output: "go: downloading golang.org/x/sync v0.25.0\n"}, sandbox.ModeRun,
			"build", true, ""},
		{"compile error", BuildResult{Status: 1, Code: 0, Output: compileError}, sandbox.ModeRun,
			"compile_error stderr exit(build-failed 1)", false, "The build failed"},
		{"vet clean", BuildResult{}, sandbox.ModeVet, "exit(exited 0)", false, "no problems"},
		{"vet findings", BuildResult{Status: 1, Output: "./main.go:5:2: fmt.Printf format %d has arg x of wrong type string\n"},
			sandbox.ModeVet, "compile_error stderr exit(exited 1)", false, "go vet found problems"},
		{"asm", BuildResult{Output: "main.main STEXT size=1 args=0x0 locals=0x0\n"}, sandbox.ModeAsm,
			"asm exit(exited 0)", false, "assembly listing"},
		{"asm cut", BuildResult{Output: "main.main STEXT\n", Truncated: true}, sandbox.ModeAsm,
			"asm exit(output-limit 0)", false, "longer than the asm output limit"},
		{"timeout", BuildResult{Stopped: sandbox.ReasonTimeout, Code: 137}, sandbox.ModeRun,
			"exit(timeout 137)", false, "The build took longer than 30s"},
		{"canceled", BuildResult{Stopped: sandbox.ReasonCanceled, Code: 137, Status: 0}, sandbox.ModeRace,
			"exit(canceled 137)", false, "stopped before it finished"},
		{"compiler killed for memory", BuildResult{Status: 1, MemoryHit: true, Output: "go build: compile: signal: killed\n"},
			sandbox.ModeRun, "exit(memory 0)", false, "The compiler needed more than"},
		{"memory hit, other failure", BuildResult{Status: 1, MemoryHit: true, Output: compileError},
			sandbox.ModeRun, "compile_error stderr exit(build-failed 1)", false, "The build failed"},
		{"formatted", BuildResult{Files: map[string]string{"main.go": "package main\n"}}, sandbox.ModeFmt,
			"fmt exit(exited 0)", false, "The files are formatted."},
		{"fmt parse error", BuildResult{Status: 2, Output: "main.go:4:1: expected operand, found '}'\n"}, sandbox.ModeFmt,
			"compile_error stderr exit(build-failed 2)", false, "do not parse"},
		{"formatted too large", BuildResult{FilesCut: true}, sandbox.ModeFmt,
			"exit(output-limit 0)", false, "larger than the output limit"},
		{"gofmt killed for memory", BuildResult{Status: 137, MemoryHit: true}, sandbox.ModeFmt,
			"exit(memory 0)", false, "Formatting needed more than the 512 MiB"},
		{"gofmt out of memory at the limit", BuildResult{Status: 2, MemoryHit: true, Output: "fatal error: runtime: out of memory\n\ngoroutine 1 [running]:\n"},
			sandbox.ModeFmt, "exit(memory 0)", false, "Formatting needed more than the 512 MiB"},
		{"fmt parse error at the limit", BuildResult{Status: 2, MemoryHit: true, Output: "main.go:4:1: expected operand, found '}'\n"}, sandbox.ModeFmt,
			"compile_error stderr exit(build-failed 2)", false, "do not parse"},
		{"gofmt broke", BuildResult{Status: 2, Output: "fatal error: unexpected signal\n"}, sandbox.ModeFmt,
			"stderr exit(build-failed 2)", false, "The formatter failed (status 2) without pointing at a line"},
		{"fmt stopped", BuildResult{Stopped: sandbox.ReasonTimeout, Code: 137}, sandbox.ModeFmt,
			"exit(timeout 137)", false, "Formatting took longer than 30s"},
		{"killed without the limit", BuildResult{Status: 1, Output: "signal: killed\n"},
			sandbox.ModeRun, "stderr exit(build-failed 1)", false, "The build failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, runs := AfterBuild(tt.b, tt.mode, l, 0, "/work")
			if got := kinds(evs); got != tt.want || runs != tt.runs {
				t.Fatalf("AfterBuild = %s, runs %v; want %s, runs %v", got, runs, tt.want, tt.runs)
			}
			if last := evs[len(evs)-1]; last.Kind == sandbox.KindExit && !strings.Contains(last.Msg, tt.msgIs) {
				t.Errorf("exit message %q, want it to contain %q", last.Msg, tt.msgIs)
			}
		})
	}
}

func TestAfterBuildCarriesMeasures(t *testing.T) {
	l := sandbox.DefaultLimits()
	evs, _ := AfterBuild(BuildResult{Ms: 412, StartMs: 38}, sandbox.ModeRace, l, 1, "/work")
	if b := evs[0]; b.Ms != 412 || b.StartMs != 38 || b.TimeoutMs != l.RunTimeout.Milliseconds() {
		t.Errorf("build event ms %d start_ms %d timeout_ms %d, want 412, 38 and the run timeout", b.Ms, b.StartMs, b.TimeoutMs)
	}
	evs, _ = AfterBuild(BuildResult{Status: 2, Output: "x", Ms: 90, CPUMs: 70, PeakBytes: 5 << 20}, sandbox.ModeRun, l, 1, "/work")
	exit := evs[len(evs)-1]
	if exit.Run != 1 || exit.Ms != 90 || exit.CPUMs != 70 || exit.PeakBytes != 5<<20 {
		t.Errorf("exit = %+v, want run 1, ms 90, cpu 70, peak 5 MiB", exit)
	}
}

func TestExitEvent(t *testing.T) {
	l := sandbox.DefaultLimits()
	tests := []struct {
		name   string
		r      RunResult
		mode   sandbox.Mode
		reason sandbox.Reason
		msgIs  string
	}{
		{"exited", RunResult{Code: 0}, sandbox.ModeRun, sandbox.ReasonExited, "status 0"},
		{"race found", RunResult{Code: sandbox.RaceExitCode}, sandbox.ModeRace, sandbox.ReasonExited, "the race detector found a data race"},
		{"66 without -race", RunResult{Code: 66}, sandbox.ModeRun, sandbox.ReasonExited, "status 66."},
		{"panic", RunResult{Code: 2}, sandbox.ModeRun, sandbox.ReasonExited, "a Go panic"},
		{"timeout wins", RunResult{Stopped: sandbox.ReasonTimeout, Code: 137, Signaled: true, MemoryHit: true}, sandbox.ModeRun,
			sandbox.ReasonTimeout, "still running after 10s"},
		{"output limit", RunResult{Stopped: sandbox.ReasonOutput, Code: 137, Signaled: true}, sandbox.ModeRun,
			sandbox.ReasonOutput, "printed more than 1024 KiB"},
		{"canceled", RunResult{Stopped: sandbox.ReasonCanceled, Code: 137, Signaled: true}, sandbox.ModeRun,
			sandbox.ReasonCanceled, "stopped before it finished"},
		{"oom kill", RunResult{Code: 137, Signaled: true, MemoryHit: true}, sandbox.ModeRace,
			sandbox.ReasonMemory, "more than the 1024 MiB"},
		{"limit hit, then exited", RunResult{Code: 1, MemoryHit: true}, sandbox.ModeRun, sandbox.ReasonExited, "status 1"},
		{"signal", RunResult{Code: 139, Signaled: true}, sandbox.ModeRun, sandbox.ReasonKilled, "killed by a signal (exit status 139)"},
		{"sigkill without the limit", RunResult{Code: 137, Signaled: true}, sandbox.ModeRun, sandbox.ReasonKilled, "exit status 137"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := ExitEvent(tt.r, 3, 25, tt.mode, l)
			if ev.Kind != sandbox.KindExit || ev.Reason != tt.reason || ev.Code != tt.r.Code || ev.Run != 3 || ev.Ms != 25 {
				t.Errorf("ExitEvent = %+v, want exit %s code %d run 3 ms 25", ev, tt.reason, tt.r.Code)
			}
			if !strings.Contains(ev.Msg, tt.msgIs) {
				t.Errorf("message %q, want it to contain %q", ev.Msg, tt.msgIs)
			}
		})
	}
}
