package check

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/racelab/racelab/lessons"
	"github.com/racelab/racelab/sandbox"
)

// observe builds what a request showed from its runs: for each, stdout,
// stderr and the exit reason and code. A single run is unrepeated (its
// events carry run 0, as the sandbox sends them).
func observe(runs ...run) *Observed {
	o := NewObserved()
	for i, r := range runs {
		n := i + 1
		if len(runs) == 1 {
			n = 0
		}
		o.Add(sandbox.Event{Kind: sandbox.KindStdout, Run: n, Data: r.stdout})
		o.Add(sandbox.Event{Kind: sandbox.KindStderr, Run: n, Data: r.stderr})
		o.Add(sandbox.Event{Kind: sandbox.KindExit, Run: n, Reason: r.reason, Code: r.code})
	}
	return o
}

type run struct {
	stdout, stderr string
	reason         sandbox.Reason
	code           int
}

const race = "==================\nWARNING: DATA RACE\nRead at ...\n"

func ok(stdout string) run { return run{stdout: stdout, reason: sandbox.ReasonExited} }

func TestUnmet(t *testing.T) {
	tests := []struct {
		name   string
		expect []lessons.Expect
		o      *Observed
		unmet  string
	}{
		{"output equal", []lessons.Expect{{Kind: "output", Value: "hello\n"}}, observe(ok("hello\n")), ""},
		{"output trailing space ignored", []lessons.Expect{{Kind: "output", Value: "hello"}}, observe(ok("hello \n\n")), ""},
		{"output differs", []lessons.Expect{{Kind: "output", Value: "hello"}}, observe(ok("bye\n")), "output=hello"},
		{"output every run", []lessons.Expect{{Kind: "output", Value: "2000"}}, observe(ok("2000"), ok("1987")), "output=2000"},
		{"output-match", []lessons.Expect{{Kind: "output-match", Value: `^counter = \d+$`}}, observe(ok("counter = 1234")), ""},
		{"output-match fails", []lessons.Expect{{Kind: "output-match", Value: `^x$`}}, observe(ok("y")), "x"},
		{"some-output one of many", []lessons.Expect{{Kind: "some-output", Value: `^1\d{3}$`}}, observe(ok("2000"), ok("1500"), ok("2000")), ""},
		{"some-output none", []lessons.Expect{{Kind: "some-output", Value: `^1\d{3}$`}}, observe(ok("2000"), ok("2000")), "1"},
		{"no-output in no run", []lessons.Expect{{Kind: "no-output", Value: `r1=1 r2=0`}}, observe(ok("r1=0 r2=0: 5\n"), ok("r1=1 r2=1: 3\n")), ""},
		{"no-output in one run", []lessons.Expect{{Kind: "no-output", Value: `r1=1 r2=0`}}, observe(ok("r1=0 r2=0: 5\n"), ok("r1=1 r2=0: 1\n")), "no-output~=r1=1 r2=0"},
		{"no-output needs a run", []lessons.Expect{{Kind: "no-output", Value: `x`}}, observe(), "no-output~=x"},
		{"outputs distinct", []lessons.Expect{{Kind: "outputs", Value: "2"}}, observe(ok("a"), ok("b"), ok("a")), ""},
		{"outputs too few", []lessons.Expect{{Kind: "outputs", Value: "2"}}, observe(ok("a"), ok("a ")), "2"},
		{"race in one run is enough", []lessons.Expect{{Kind: "race"}}, observe(ok("1"), run{stderr: race, reason: sandbox.ReasonExited, code: 66}), ""},
		{"race missing", []lessons.Expect{{Kind: "race"}}, observe(ok("1")), "race"},
		{"no-race broken by one run", []lessons.Expect{{Kind: "no-race"}}, observe(ok("1"), run{stderr: race, reason: sandbox.ReasonExited, code: 66}), "no-race"},
		{"exit", []lessons.Expect{{Kind: "exit", Value: "66"}}, observe(run{stderr: race, reason: sandbox.ReasonExited, code: 66}), ""},
		{"exit wrong", []lessons.Expect{{Kind: "exit", Value: "0"}}, observe(run{reason: sandbox.ReasonExited, code: 2}), "exit=0"},
		{"deadlock", []lessons.Expect{{Kind: "deadlock"}}, observe(run{stderr: "fatal error: all goroutines are asleep - deadlock!\n", reason: sandbox.ReasonExited, code: 2}), ""},
		{"timeout", []lessons.Expect{{Kind: "timeout"}}, observe(run{stderr: "SIGQUIT: quit", reason: sandbox.ReasonTimeout, code: 2}), ""},
		{"timeout but exited", []lessons.Expect{{Kind: "timeout"}}, observe(ok("")), "timeout"},
		{"stderr", []lessons.Expect{{Kind: "stderr", Value: "concurrent map writes"}}, observe(run{stderr: "fatal error: concurrent map writes\n", reason: sandbox.ReasonExited, code: 2}), ""},
		{"compile-error", []lessons.Expect{{Kind: "compile-error"}}, observe(run{stderr: "./main.go:3:2: undefined: x", reason: sandbox.ReasonBuildFailed, code: 1}), ""},
		{"exit is no build failure", []lessons.Expect{{Kind: "exit", Value: "1"}}, observe(run{reason: sandbox.ReasonBuildFailed, code: 1}), "exit=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(Unmet(tt.expect, tt.o), "; ")
			if (got == "") != (tt.unmet == "") || !strings.Contains(got, tt.unmet) {
				t.Errorf("Unmet(%v) = %q, want %q", tt.expect, got, tt.unmet)
			}
		})
	}
}

func TestUnmetAsm(t *testing.T) {
	o := NewObserved()
	o.Add(sandbox.Event{Kind: sandbox.KindAsm, Lines: []sandbox.AsmLine{
		{Func: "main.main", Text: "MOVQ AX, BX"},
		{Func: "main.main", Text: "LOCK XADDQ CX, (DX)"},
	}})
	o.Add(sandbox.Event{Kind: sandbox.KindExit, Reason: sandbox.ReasonExited})
	if got := Unmet([]lessons.Expect{{Kind: "asm", Value: `LOCK XADDQ`}}, o); len(got) != 0 {
		t.Errorf("LOCK XADDQ present, unmet %v", got)
	}
	if got := Unmet([]lessons.Expect{{Kind: "asm", Value: `chansend1`}}, o); len(got) != 1 {
		t.Errorf("chansend1 absent, unmet %v", got)
	}
}

func TestJudge(t *testing.T) {
	cell := &lessons.Cell{Mode: "race", Expect: []lessons.Expect{{Kind: "race"}, {Kind: "exit", Value: "66"}}}
	v := Judge(cell, observe(run{stderr: race, reason: sandbox.ReasonExited, code: 66}))
	if !v.OK || len(v.Missed) != 0 || strings.Join(v.Claims, "; ") != "a data race is reported; exit status 66" {
		t.Errorf("a race as claimed: %+v", v)
	}
	v = Judge(cell, observe(ok("n = 2000\n")))
	if v.OK || len(v.Missed) != 2 || !strings.Contains(v.Missed[0], "Run it again") || !strings.Contains(v.Missed[1], "exit status 66, but it exited with status 0") {
		t.Errorf("no race where one is claimed: %+v", v)
	}
	printing := &lessons.Cell{Expect: []lessons.Expect{{Kind: "output-match", Value: `n = \d+`}}}
	v = Judge(printing, observe(ok("hello\n")))
	if v.OK || !strings.Contains(v.Missed[0], "output like “n = …”") || !strings.Contains(v.Missed[0], "it printed “hello”") {
		t.Errorf("other output: %+v", v)
	}
	never := &lessons.Cell{Repeat: 3, Expect: []lessons.Expect{{Kind: "no-output", Value: `r1=1 r2=0`}}}
	v = Judge(never, observe(ok("r1=0 r2=0: 9\n"), ok("r1=1 r2=0: 1\n"), ok("r1=1 r2=0: 2\n")))
	if v.OK || len(v.Missed) != 1 || !strings.Contains(v.Missed[0], "no run prints output like “r1=1 r2=0”, but 2 of the 3 runs did") {
		t.Errorf("an outcome claimed never to appear: %+v", v)
	}
}

func TestApplies(t *testing.T) {
	cell := &lessons.Cell{Mode: "race", Repeat: 20, Expect: []lessons.Expect{{Kind: "race"}}}
	for _, tt := range []struct {
		req  sandbox.Request
		want bool
	}{
		{sandbox.Request{Mode: sandbox.ModeRace, Repeat: 20}, true},
		{sandbox.Request{Mode: sandbox.ModeRun, Repeat: 20}, false},
		{sandbox.Request{Mode: sandbox.ModeRace, Repeat: 1}, false},
	} {
		if got := Applies(cell, &tt.req); got != tt.want {
			t.Errorf("Applies(%+v) = %v, want %v", tt.req, got, tt.want)
		}
	}
	arm := &lessons.Cell{Mode: "asm", GOARCH: "arm64", Expect: []lessons.Expect{{Kind: "asm", Value: "STLR"}}}
	amd := &lessons.Cell{Mode: "asm", Expect: []lessons.Expect{{Kind: "asm", Value: "XCHG"}}}
	for _, tt := range []struct {
		cell *lessons.Cell
		arch string
		want bool
	}{
		{arm, "arm64", true},
		{arm, "", false},
		{arm, "amd64", false},
		{amd, "", true},
		{amd, "amd64", true},
		{amd, "arm64", false},
	} {
		req := sandbox.Request{Mode: sandbox.ModeAsm, Repeat: 1, GOARCH: tt.arch}
		if got := Applies(tt.cell, &req); got != tt.want {
			t.Errorf("Applies(cell goarch=%q, request goarch=%q) = %v, want %v", tt.cell.GOARCH, tt.arch, got, tt.want)
		}
	}
	if Applies(&lessons.Cell{}, &sandbox.Request{Mode: sandbox.ModeRun, Repeat: 1}) {
		t.Error("a cell that claims nothing applies")
	}
}

// TestEdgeClaim: expect=edge= holds when the timeline shows the edge, and
// its verdict says which edges it showed instead; it applies to traced
// runs only.
func TestEdgeClaim(t *testing.T) {
	cell := &lessons.Cell{Mode: "run", Trace: true, Expect: []lessons.Expect{{Kind: "edge", Value: "send@12->receive@8"}}}
	tl := &sandbox.Timeline{Edges: []sandbox.TraceEdge{{From: 1, To: 7, FromOp: "send", ToOp: "receive",
		FromAt: &sandbox.TracePos{File: "main.go", Line: 12}, ToAt: &sandbox.TracePos{File: "main.go", Line: 8}}}}
	o := NewObserved()
	o.Add(sandbox.Event{Kind: sandbox.KindTimeline, Timeline: tl})
	o.Add(sandbox.Event{Kind: sandbox.KindExit, Reason: sandbox.ReasonExited})
	if v := Judge(cell, o); !v.OK {
		t.Errorf("Judge = %+v, want OK", v)
	}
	tl.Edges[0].FromOp = "close"
	v := Judge(cell, o)
	if v.OK || len(v.Missed) != 1 || !strings.Contains(v.Missed[0], "the timeline shows close@12->receive@8") {
		t.Errorf("Judge = %+v, want a miss naming close@12->receive@8", v)
	}
	if !Applies(cell, &sandbox.Request{Mode: sandbox.ModeRun, Repeat: 1, Trace: true}) ||
		Applies(cell, &sandbox.Request{Mode: sandbox.ModeRun, Repeat: 1}) {
		t.Error("a traced cell's claims must apply to its traced runs only")
	}
}

// TestCellArchitectures checks that a lesson cell may name every
// architecture the sandbox compiles for, and only those.
func TestCellArchitectures(t *testing.T) {
	for _, arch := range append(sandbox.Architectures(), "riscv64") {
		md := "---\ntitle: T\nsummary: S\norder: 1\n---\n\n```go {mode=asm goarch=" + arch + "}\npackage main\n```\n"
		_, err := lessons.Load(fstest.MapFS{"x.md": {Data: []byte(md)}})
		if want := arch != "riscv64"; (err == nil) != want {
			t.Errorf("a cell with goarch=%s: err = %v, want accepted %v", arch, err, want)
		}
	}
}

// scripted is a sandbox.Runner whose i-th run exits with codes[i] (the
// last code again after them), counting its runs.
type scripted struct {
	codes []int
	runs  int
}

func (s *scripted) Run(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
	code := s.codes[min(s.runs, len(s.codes)-1)]
	s.runs++
	emit(sandbox.Event{Kind: sandbox.KindExit, Reason: sandbox.ReasonExited, Code: code})
	return nil
}

// startTries gives c's exercise tries=n, for its starting code.
func startTries(c *lessons.Cell, n int) *lessons.Cell {
	c.Tries = n
	return c
}

// A known-wrong solution given tries=N is run until the check rejects it,
// at most N times, and so is the starting code of an exercise given
// tries=N; other jobs, and those without tries, once.
func TestWrongTries(t *testing.T) {
	cell := func(tries int) *lessons.Cell {
		return &lessons.Cell{Mode: "test", Expect: []lessons.Expect{{Kind: "exit", Value: "0"}},
			Wrong: []lessons.Wrong{{Why: "loses an update", Tries: tries}}}
	}
	tests := []struct {
		name    string
		job     Job
		codes   []int
		pass    bool
		runs    int
		gotSaid string
	}{
		{"caught in the second try", Job{Cell: cell(3), Variant: Wrong}, []int{0, 1}, true, 2, "rejected in try 2 of 3"},
		{"caught at once", Job{Cell: cell(3), Variant: Wrong}, []int{1}, true, 1, "rejected in try 1 of 3"},
		{"never caught", Job{Cell: cell(3), Variant: Wrong}, []int{0}, false, 3, "accepted in all 3 tries"},
		{"one try", Job{Cell: cell(1), Variant: Wrong}, []int{0, 1}, false, 1, "exited 0"},
		{"no tries given", Job{Cell: cell(0), Variant: Wrong}, []int{0, 1}, false, 1, "exited 0"},
		{"a solution runs once", Job{Cell: cell(3), Variant: Solution}, []int{1, 0}, false, 1, "exited 1"},
		{"the start runs once", Job{Cell: cell(3), Variant: Start}, []int{0, 1}, false, 1, "exited 0"},
		{"the start given tries", Job{Cell: startTries(cell(1), 3), Variant: Start}, []int{0, 1}, true, 2, "rejected in try 2 of 3"},
		{"the start never caught", Job{Cell: startTries(cell(1), 2), Variant: Start}, []int{0}, false, 2, "accepted in all 2 tries"},
		{"the start's tries are not a solution's", Job{Cell: startTries(cell(1), 3), Variant: Solution}, []int{1, 0}, false, 1, "exited 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &scripted{codes: tt.codes}
			res := tt.job.Run(context.Background(), r)
			if res.Pass != tt.pass || r.runs != tt.runs || !strings.Contains(res.Got, tt.gotSaid) {
				t.Errorf("pass %v after %d runs, got %q; want pass %v after %d runs, got saying %q", res.Pass, r.runs, res.Got, tt.pass, tt.runs, tt.gotSaid)
			}
		})
	}
}
