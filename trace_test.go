package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/racelab/racelab/sandbox/tracing"
)

func TestMain(m *testing.M) {
	tracing.RunIfChild() // racelab's own binary parses traces; here, the test binary does
	os.Exit(m.Run())
}

// racelab run --trace prints the timeline: the goroutines and the edge
// from main's send to the goroutine's receive; --trace is refused with a
// repeat.
func TestRunTrace(t *testing.T) {
	p := writeFile(t, t.TempDir(), "main.go", `package main

import "time"

func main() {
	ch := make(chan int)
	done := make(chan bool)
	go func() {
		<-ch
		done <- true
	}()
	time.Sleep(20 * time.Millisecond)
	ch <- 1
	<-done
}
`)
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"run", "--sandbox", "local", "--trace", p}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit status %d: %s", code, stderr.String())
	}
	for _, want := range []string{"--- timeline: 2 goroutines", "goroutine 1 main", "created at main.go:8", "1 send@main.go:13 -> "} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"run", "--sandbox", "local", "--trace", "--repeat", "2", p}, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), "trace works with one run") {
		t.Errorf("run --trace --repeat 2 = %d, %q; want a refusal", code, stderr.String())
	}
}
