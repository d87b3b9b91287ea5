package gotool

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/racelab/racelab/sandbox"
)

// mainGo is the request of every captured program: one main.go, built in
// the runc container's /work.
var mainGo = map[string]bool{"main.go": true}

// readTestdata returns testdata/name.
func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkGolden compares v, as indented JSON, with testdata/name; -update
// rewrites the file.
func checkGolden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("result differs from %s; run go test -update if the change is intended\ngot:\n%s", golden, got)
	}
}

// firstUser is "file:line" of the innermost frame in the user's files.
func firstUser(stack []sandbox.Frame) string {
	for _, f := range stack {
		if f.User {
			return fmt.Sprintf("%s:%d", f.File, f.Line)
		}
	}
	return "none"
}

// raceSummary describes a report in one line: each access as "op gID
// file:line" (its innermost user frame), then each origin as "gID state
// file:line".
func raceSummary(r sandbox.RaceReport) string {
	var parts []string
	for _, a := range r.Accesses {
		who := fmt.Sprintf("g%d", a.Goroutine)
		if a.Main {
			who = "main"
		}
		parts = append(parts, fmt.Sprintf("%s %s %s", a.Op, who, firstUser(a.Stack)))
	}
	for _, g := range r.Goroutines {
		parts = append(parts, fmt.Sprintf("g%d %s %s", g.Goroutine, g.State, firstUser(g.Created)))
	}
	return strings.Join(parts, " | ")
}

// The race-*.txt files are the standard error of the programs in
// testdata/src, run with racelab run --mode race in the runc sandbox.
func TestRaces(t *testing.T) {
	tests := []struct {
		name string
		want []string
	}{
		{"counter", []string{"read g9 main.go:15 | write g8 main.go:15 | g9 running main.go:13 | g8 finished main.go:13"}},
		{"two", []string{
			"read main main.go:18 | write g8 main.go:10 | g8 finished main.go:15",
			"read main main.go:19 | write g9 main.go:12 | g9 finished main.go:16",
		}},
		{"map", []string{"write g7 main.go:8 | write main main.go:10 | g7 running main.go:7"}},
		{"mainprev", []string{"read g8 main.go:14 | write main main.go:17 | g8 running main.go:12"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := readTestdata(t, "race-"+tt.name+".txt")
			reps := Races(in, mainGo, "/work")
			var got []string
			for _, r := range reps {
				got = append(got, raceSummary(r))
				if !strings.HasPrefix(r.Raw, raceRule+"\nWARNING: DATA RACE\n") || !strings.HasSuffix(r.Raw, "\n"+raceRule) {
					t.Errorf("Raw is not the whole block:\n%s", r.Raw)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Races(race-%s.txt) =\n%s\nwant\n%s", tt.name, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			checkGolden(t, "race-"+tt.name+".golden.json", reps)
		})
	}
}

func TestRacesFrames(t *testing.T) {
	reps := Races(readTestdata(t, "race-map.txt"), mainGo, "/work")
	if len(reps) != 1 {
		t.Fatalf("got %d reports, want 1", len(reps))
	}
	got := reps[0].Accesses[0].Stack
	want := []sandbox.Frame{
		{Func: "runtime.mapassign_faststr", File: "/usr/local/go/src/internal/runtime/maps/runtime_faststr.go", Line: 263},
		{Func: "main.main.func1", File: "main.go", Line: 8, User: true},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stack = %+v, want %+v", got, want)
	}
	if a := reps[0].Accesses[0]; a.Addr != "0x00c00009a060" || a.Main {
		t.Errorf("access = %+v, want addr 0x00c00009a060 by goroutine 7", a)
	}
}

func TestRacesEdgeCases(t *testing.T) {
	counter := readTestdata(t, "race-counter.txt")
	cut := counter[:strings.Index(counter, "Goroutine 8 (finished)")]
	tests := []struct {
		name  string
		in    string
		files map[string]bool
		dir   string
		want  []string
	}{
		{"truncated report keeps what was parsed", cut, mainGo, "/work",
			[]string{"read g9 main.go:15 | write g8 main.go:15 | g9 running main.go:13"}},
		{"cut inside a frame", counter[:strings.Index(counter, "/work/main.go:15 +0x8d")], mainGo, "/work",
			[]string{"read g9 main.go:15 | write g8 none"}},
		{"cut before any access", counter[:40], mainGo, "/work", nil},
		{"no race", "hello\n==================\n", mainGo, "/work", nil},
		{"another file is not the user's", counter, map[string]bool{"other.go": true}, "/work",
			[]string{"read g9 none | write g8 none | g9 running none | g8 finished none"}},
		{"another directory is not the user's", counter, mainGo, "/tmp",
			[]string{"read g9 none | write g8 none | g9 running none | g8 finished none"}},
		{"CRLF", strings.ReplaceAll(counter, "\n", "\r\n"), mainGo, "/work",
			[]string{"read g9 main.go:15 | write g8 main.go:15 | g9 running main.go:13 | g8 finished main.go:13"}},
		{"atomic access", "==================\nWARNING: DATA RACE\nAtomic write at 0x01 by goroutine 3:\n  main.f()\n      /work/main.go:5 +0x1\n\nPrevious read at 0x01 by main goroutine:\n  main.main()\n      /work/main.go:9 +0x1\n==================\n",
			mainGo, "/work", []string{"write g3 main.go:5 | read main main.go:9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range Races(tt.in, tt.files, tt.dir) {
				got = append(got, raceSummary(r))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Races =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// A test binary names the learner's package main by its module path:
// the views call it main, as run mode does (only in the learner's files).
func TestFrameNamesTestPackageMain(t *testing.T) {
	user := map[string]bool{"main_test.go": true}
	f, ok := parseFrame("prog.TestRace.func1()", "\t/work/main_test.go:12 +0x44", user, "/work")
	if !ok || f.Func != "main.TestRace.func1" || !f.User {
		t.Errorf("frame = %+v, want main.TestRace.func1 in the learner's file", f)
	}
	f, _ = parseFrame("prog.helper()", "\t/usr/local/go/src/x.go:1 +0x1", user, "/work")
	if f.Func != "prog.helper" {
		t.Errorf("frame outside the learner's files = %+v, want its name as printed", f)
	}
}
