package gotool

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/racelab/racelab/sandbox"
)

var testTracing = Tracing{Bytes: 4 << 20, Time: 2 * time.Second}

// TestWrapTraced: a traced program is wrapped even without a go statement
// and with main on one line; its lines stay; the leak report, when there
// is one, is deferred first so that it runs after the tracer's stop.
func TestWrapTraced(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"no go statement", "package main\n\nfunc main() {\n\tprintln()\n}\n",
			"package main\n\nfunc main() {defer racelabTraceStart()();\n\tprintln()\n}\n"},
		{"one-line main", "package main\n\nfunc main() { println() }\n",
			"package main\n\nfunc main() {defer racelabTraceStart()(); println() }\n"},
		{"a goroutine", "package main\n\nfunc main() {\n\tgo println()\n}\n",
			"package main; import racelabExit \"racelabexit\"\n\nfunc main() {defer racelabExit.Report();defer racelabTraceStart()();\n\tgo println()\n}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := Source(map[string]string{"main.go": tt.src}, sandbox.ModeRun, testTracing, "/opt/go")
			if out["main.go"] != tt.want {
				t.Errorf("main.go =\n%s\nwant\n%s", out["main.go"], tt.want)
			}
			if _, ok := out[TraceWrapFile]; !ok {
				t.Errorf("no %s", TraceWrapFile)
			}
		})
	}
	// Not traced: no trace wrapper, and the untraced program is as before.
	plain := Source(map[string]string{"main.go": tests[0].src}, sandbox.ModeRun, Tracing{}, "/opt/go")
	if _, ok := plain[TraceWrapFile]; ok || plain["main.go"] != tests[0].src {
		t.Errorf("an untraced program without a go statement was wrapped: %v", plain)
	}
	// The learner's racelab names: not wrapped at all, so nothing traced.
	clash := Source(map[string]string{"main.go": "package main\n\nvar racelabX int\n\nfunc main() {\n}\n"}, sandbox.ModeRun, testTracing, "/opt/go")
	if _, ok := clash[TraceWrapFile]; ok {
		t.Error("a program using a racelab name was wrapped")
	}
	src := testTracing.source()
	for _, want := range []string{"2097152", "4194304", "2000000000", "racelab.cut", "racelab.returned", "--trace-time", "--trace-bytes"} {
		if !strings.Contains(src, want) {
			t.Errorf("the trace wrapper lacks %q", want)
		}
	}
}

// TestReadTrace: the file is read within its bound, and only when it is a
// regular file: the program could have put a link or a FIFO in its place.
func TestReadTrace(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, TraceFile)
	if _, _, err := ReadTrace(p, 10); !errors.Is(err, ErrNoTrace) {
		t.Errorf("ReadTrace(missing) = %v, want ErrNoTrace", err)
	}
	if err := os.WriteFile(p, []byte("0123456789abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	if data, cut, err := ReadTrace(p, 10); err != nil || !cut || string(data) != "0123456789" {
		t.Errorf("ReadTrace(13 bytes, max 10) = %q, %v, %v; want the first 10, cut", data, cut, err)
	}
	if data, cut, err := ReadTrace(p, 13); err != nil || cut || len(data) != 13 {
		t.Errorf("ReadTrace(13 bytes, max 13) = %q, %v, %v; want all, not cut", data, cut, err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadTrace(link, 10); err == nil {
		t.Error("ReadTrace followed a symbolic link")
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, _, err := ReadTrace(fifo, 10); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("ReadTrace(FIFO) = %v, want not a regular file", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadTrace blocked on a FIFO")
	}
}
