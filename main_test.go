package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/racelab/racelab/sandbox"
)

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Bad input is rejected before any sandbox starts: one line on stderr,
// exit status 2.
func TestRunBadInput(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "main.go", "package main\n\nfunc main() {}\n")
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	dup := writeFile(t, sub, "main.go", "package main\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no files", []string{"run"}, "no files given"},
		{"missing file", []string{"run", filepath.Join(dir, "nosuch.go")}, "no such file"},
		{"bad flag", []string{"run", "--explode", good}, "flag provided but not defined"},
		{"unknown mode", []string{"run", "--mode", "warp", good}, `unknown mode "warp"`},
		{"repeat too large", []string{"run", "--repeat", "1000", good}, "repeat 1000 is out of range"},
		{"oversized", []string{"run", writeFile(t, dir, "big.go", strings.Repeat("/", 70<<10))}, "at most 65536"},
		{"not utf-8", []string{"run", writeFile(t, dir, "bin.go", "package main\n\xff\n")}, "not valid UTF-8"},
		{"not go", []string{"run", writeFile(t, dir, "notes.txt", "hi")}, "not a .go file"},
		{"same name twice", []string{"run", good, dup}, "two files are named main.go"},
		{"directory", []string{"run", sub}, "not a regular file"},
		{"bad limit", []string{"run", "--run-timeout", "0s", good}, "-run-timeout must be positive"},
		{"bad runtime timeout", []string{"run", "--runtime-timeout", "0s", good}, "-runtime-timeout must be positive"},
		{"bad bin cache size", []string{"run", "--bin-cache-size", "-1", good}, "-bin-cache-size must be 0"},
		{"unknown command", []string{"fly"}, `unknown command "fly"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != 2 {
				t.Errorf("exit status %d, want 2 (stderr %q)", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr = %q, want it to say %q", stderr.String(), tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}

// The local backend needs nothing but the go command.
func TestRunLocal(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		src    string
		code   int
		stdout string
	}{
		{"hello", "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n", 0, "hello\n"},
		{"exit status mirrored", "package main\n\nimport \"os\"\n\nfunc main() { os.Exit(3) }\n", 3, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, dir, "main.go", tt.src)
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"run", "--sandbox", "local", p}, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit status %d, want %d (stderr %q)", code, tt.code, stderr.String())
			}
			if stdout.String() != tt.stdout {
				t.Errorf("stdout = %q, want %q", stdout.String(), tt.stdout)
			}
		})
	}
}

// racelab run --mode race --json on a racy file streams stdout events
// before the exit event, through the real runc sandbox.
func TestRunRaceJSON(t *testing.T) {
	base := needRunc(t)
	p := filepath.Join("examples", "racy.go")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"run", "--mode", "race", "--json",
		"--state-dir", filepath.Join(base, "cli"), "--cache-dir", filepath.Join(base, "cache"), p}, &stdout, &stderr)
	if code != 66 {
		t.Errorf("exit status %d, want 66 (stderr %q)", code, stderr.String())
	}
	var kinds []sandbox.Kind
	var exit sandbox.Event
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var e sandbox.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q is not an event: %v", sc.Text(), err)
		}
		kinds = append(kinds, e.Kind)
		if e.Kind == sandbox.KindExit {
			exit = e
		}
	}
	if len(kinds) == 0 || kinds[len(kinds)-1] != sandbox.KindExit {
		t.Fatalf("events %v: want exit last", kinds)
	}
	stdoutBeforeExit := false
	for _, k := range kinds[:len(kinds)-1] {
		stdoutBeforeExit = stdoutBeforeExit || k == sandbox.KindStdout
	}
	if !stdoutBeforeExit {
		t.Errorf("events %v: want stdout events before exit", kinds)
	}
	if exit.Code != 66 || exit.Reason != sandbox.ReasonExited {
		t.Errorf("exit = %+v, want code 66, reason exited", exit)
	}
}

// needRunc skips a test that needs the runc sandbox when it is not
// available (root and runc), and fails it under CI=true, where nothing may
// skip. It returns the base of the tests' state directories.
func needRunc(t *testing.T) string {
	t.Helper()
	if reason := runcUnavailable(); reason != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("runc sandbox unavailable in CI: %s", reason)
		}
		t.Skipf("runc sandbox unavailable: %s", reason)
	}
	if base := os.Getenv("RACELAB_TEST_STATE_DIR"); base != "" {
		return base
	}
	return "/var/lib/racelab-test"
}

func runcUnavailable() string {
	if os.Geteuid() != 0 {
		return "not root"
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return "runc is not installed (apt-get install runc)"
	}
	return ""
}

// racelab serve refuses to start on a lesson that does not parse, naming
// the file and line.
func TestServeBrokenLesson(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "01-ok.md", "---\ntitle: OK\nsummary: Fine.\norder: 1\n---\n\nText.\n")
	writeFile(t, dir, "02-broken.md", "---\ntitle: Broken\nsummary: Not fine.\norder: 2\n---\n\nText.\n\n```go {mode=warp}\npackage main\n```\n")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"serve", "--sandbox", "local", "--addr", "127.0.0.1:0", "--lessons", dir}, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "02-broken.md:9") {
		t.Errorf("stderr = %q, want it to name 02-broken.md:9", stderr.String())
	}
}

// The local sandbox has no isolation: serving it beyond loopback is refused.
func TestServeLocalRefusesPublicAddr(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"serve", "--sandbox", "local", "--addr", "0.0.0.0:8080"}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "127.0.0.1") {
		t.Errorf("exit %d, stderr %q: want 2 and advice to listen on 127.0.0.1", code, stderr.String())
	}
}

// Every cell of the built-in lessons is run in the real sandbox and held
// to its claims: racelab check, as an author's CI would run it. The run
// limit is short, for the one cell that is meant to time out (04-select),
// but not 3 s: beside the other packages' tests a solution of
// 12-assembly (TestMaxContended, up to 1.2 s of two goroutines spinning,
// under -race) took 1.1-2.2 s, and once, beside the browser suite, over 3 s.
func TestCheckBuiltinLessons(t *testing.T) {
	base := needRunc(t)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"check", "--run-timeout", "6s",
		"--state-dir", filepath.Join(base, "check"), "--cache-dir", filepath.Join(base, "cache")}, &stdout, &stderr)
	t.Logf("racelab check:\n%s", stdout.String())
	if code != 0 {
		t.Errorf("racelab check exit status %d, want 0; stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), " passed, 0 failed") {
		t.Errorf("no summary line with 0 failed")
	}
}

// racelab check --count runs every cell, solution and wrong solution n
// times in the real sandbox and gives each run's time; a wrong solution
// the check accepts fails the check, naming the mistake. A count out of
// range is refused.
func TestCheckCount(t *testing.T) {
	base := needRunc(t)
	dir := t.TempDir()
	writeFile(t, dir, "01-x.md", "---\ntitle: X\nsummary: x\norder: 1\n---\n"+
		"```go {}\npackage main\n\nfunc main() {}\n```\n\n"+
		"```go {exercise=e expect=output=ok}\npackage main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"no\") }\n```\n\n"+
		"```go {solution=e}\npackage main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"ok\") }\n```\n\n"+
		"```go {wrong=e why=\"prints the wrong word\"}\npackage main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"ko\") }\n```\n\n"+
		"```go {wrong=e why=\"is right after all\"}\npackage main\n\nimport \"fmt\"\n\nfunc main() { fmt.Print(\"ok\\n\") }\n```\n")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"check", "--lessons", dir, "--count", "3", "--cell", "^x-2$",
		"--state-dir", filepath.Join(base, "check"), "--cache-dir", filepath.Join(base, "cache")}, &stdout, &stderr)
	out := stdout.String()
	t.Logf("racelab check --count 3:\n%s", out)
	if code != 1 {
		t.Errorf("exit status %d, want 1 (a wrong solution is accepted); stderr:\n%s", code, stderr.String())
	}
	for _, want := range []string{
		"PASS  x-2                          start     run       ",
		"PASS  x-2                          solution  run       ",
		"PASS  x-2                          wrong-1   run       ",
		"FAIL  x-2                          wrong-2   run       ",
		"the check accepts a known-wrong solution (01-x.md:36): is right after all",
		"3 passed, 1 failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if n := strings.Count(out, "(3/3 passed: "); n != 3 {
		t.Errorf("%d lines with \"(3/3 passed: \", want 3 (start, solution, wrong-1)", n)
	}
	if n := strings.Count(out, "(0/3 passed: "); n != 1 {
		t.Errorf("%d lines with \"(0/3 passed: \", want 1 (wrong-2)", n)
	}
	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), []string{"check", "--lessons", dir, "--count", "0"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "-count 0: use 1 to 1000") {
		t.Errorf("--count 0: exit %d, stderr %q; want 2 and the range", code, stderr.String())
	}
}

// Every flag can come from the environment (RACELAB_<NAME>); the command
// line wins; a bad value is refused naming the variable.
func TestFlagsFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "main.go", "package main\n\nfunc main() {}\n")
	t.Setenv("RACELAB_MODE", "warp")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"run", p}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), `unknown mode "warp"`) {
		t.Errorf("RACELAB_MODE=warp: exit %d, stderr %q; want the mode taken from the environment", code, stderr.String())
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"run", "--sandbox", "local", "--mode", "run", p}, &stdout, &stderr); code != 0 {
		t.Errorf("--mode on the command line: exit %d, stderr %q; want it to win over RACELAB_MODE", code, stderr.String())
	}
	t.Setenv("RACELAB_MODE", "run")
	t.Setenv("RACELAB_RUN_TIMEOUT", "soon")
	stderr.Reset()
	if code := run(context.Background(), []string{"run", p}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "RACELAB_RUN_TIMEOUT") {
		t.Errorf("RACELAB_RUN_TIMEOUT=soon: exit %d, stderr %q; want a refusal naming the variable", code, stderr.String())
	}
	stderr.Reset()
	run(context.Background(), []string{"serve", "-h"}, &stdout, &stderr)
	for _, want := range []string{"RACELAB_ADDR", "RACELAB_RUN_TIMEOUT", "RACELAB_MEMORY", "RACELAB_MAX_RUNS"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("serve -h does not name %s", want)
		}
	}
}
