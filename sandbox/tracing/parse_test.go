package tracing

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/internal/gotool"
)

// traced builds src as a traced program (racelab's wrapper, as a traced
// run gets it), runs it in a fresh directory and returns its trace and
// the directory it was built in.
func traced(t *testing.T, src string, tr gotool.Tracing) ([]byte, string) {
	t.Helper()
	dir := t.TempDir()
	files := gotool.Source(map[string]string{"main.go": src}, sandbox.ModeRun, tr)
	if _, ok := files[gotool.TraceWrapFile]; !ok {
		t.Fatal("the program was not wrapped for tracing")
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	build := exec.Command("go", "build", "-o", "prog", ".")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	run := exec.Command("./prog")
	run.Dir = dir
	if out, err := run.CombinedOutput(); err != nil {
		t.Logf("run: %v\n%s", err, out)
	}
	data, cut, err := gotool.ReadTrace(filepath.Join(dir, gotool.TraceFile), tr.Bytes)
	if err != nil || cut {
		t.Fatalf("ReadTrace: cut %v, %v", cut, err)
	}
	return data, dir
}

var lessonTracing = gotool.Tracing{Bytes: sandbox.DefaultTraceBytes, Time: sandbox.DefaultTraceTime}

func opts(dir string) Options {
	return Options{Dir: dir, Files: []string{"main.go"}, MaxEvents: sandbox.DefaultTraceEvents, MaxSpans: sandbox.DefaultTraceSpans}
}

const handoff = `package main

import "fmt"

func main() {
	ch := make(chan string)
	go func() {
		msg := <-ch
		fmt.Println("got", msg)
		ch <- "done"
	}()
	ch <- "hello"
	fmt.Println(<-ch)
}
`

func TestParseDump(t *testing.T) {
	data, dir := traced(t, handoff, lessonTracing)
	start := time.Now()
	tl, err := Parse(bytes.NewReader(data), opts(dir))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(tl, "", " ")
	t.Logf("%d bytes, parsed in %v:\n%s", len(data), time.Since(start), b)
}
