package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/remote"
)

// Bad configuration of runner and serve -runner is refused before
// anything starts: one line on stderr that names the flag, exit status 2.
func TestRunnerBadConfig(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"runner argument", []string{"runner", "extra"}, `unexpected argument "extra"`},
		{"runner heartbeat", []string{"runner", "--heartbeat", "1ns"}, "-heartbeat must be at least 10ms"},
		{"runner max body", []string{"runner", "--max-body", "-1"}, "-max-body"},
		{"runner bad limit", []string{"runner", "--memory", "0"}, "-memory"},
		{"runner local beyond loopback", []string{"runner", "--sandbox", "local", "--addr", "0.0.0.0:8081"}, "127.0.0.1"},
		{"runner bad duration", []string{"runner", "--shutdown-grace", "soon"}, "invalid value"},
		{"serve runner without scheme", []string{"serve", "--runner", "localhost:8081"}, `runner URL "localhost:8081": want http://HOST:PORT`},
		{"serve runner twice", []string{"serve", "--runner", "http://a:1,http://a:1"}, "given twice"},
		{"serve runner idle", []string{"serve", "--runner", "http://a:1", "--runner-idle", "0s"}, "-runner-idle must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr.String(), tt.want)
			}
		})
	}
}

// RACELAB_RUNNER gives serve its runners, comma-separated, as -runner does.
func TestRunnerURLsFromEnvironment(t *testing.T) {
	t.Setenv("RACELAB_RUNNER", "http://a:1, ftp://b")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"serve"}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), `runner URL "ftp://b"`) {
		t.Errorf("exit %d, stderr %q; want the second URL refused", code, stderr.String())
	}
}

// A runner stopped (SIGTERM) while a run goes on lets it run for the
// shutdown grace, then stops it; its client is told the runner went away
// (so the learner runs again), not that the run was stopped by them.
func TestRunnerShutdownMidRun(t *testing.T) {
	ctx, shutdown := context.WithCancel(t.Context())
	defer shutdown()
	var outBuf, errBuf bytes.Buffer
	stdout, stderr := &syncWriter{w: &outBuf}, &syncWriter{w: &errBuf}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"runner", "--sandbox", "local", "--addr", "127.0.0.1:0", "--shutdown-grace", "300ms"}, stdout, stderr)
	}()
	url := waitAddress(t, stdout, &outBuf, stderr, &errBuf)
	// The runner listens before its sandbox is open (on a fresh machine
	// the local sandbox first builds its warm cache) and refuses runs
	// until then.
	waitReadyURL(t, url, 5*time.Minute, func() string { return readSync(stderr, &errBuf) })
	c, err := remote.NewClient([]string{url}, remote.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var evs []sandbox.Event
	start := time.Now()
	err = c.Run(t.Context(), &sandbox.Request{Files: map[string]string{"main.go": splitTicker}}, func(e sandbox.Event) {
		if e.Kind == sandbox.KindStdout && len(evs) > 0 && evs[len(evs)-1].Kind != sandbox.KindStdout {
			shutdown() // SIGTERM, as the first output arrives
		}
		evs = append(evs, e)
	})
	if !errors.Is(err, sandbox.ErrRunnerLost) || !strings.Contains(err.Error(), "shut down") {
		t.Fatalf("err = %v, want the runner lost because it shut down; events %+v", err, evs)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the run ended %v after it began; the grace is 300 ms", d)
	}
	if code := <-done; code != 0 {
		t.Errorf("the runner exited %d, want 0; log:\n%s", code, readSync(stderr, &errBuf))
	}
}

// racelab serve listens at once, serves runs once its sandbox is open,
// and stops with status 0 when told to.
func TestServeInProcess(t *testing.T) {
	url, stop := startServe(t)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never 200: %v", err)
		}
	}
	var out string
	err := postRun(t.Context(), url, sandbox.Request{Files: map[string]string{"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"served\") }\n"}}, func(e sandbox.Event) bool {
		out += e.Data
		return true
	})
	if err != nil || out != "served\n" {
		t.Fatalf("run: output %q, err %v", out, err)
	}
	stop()
}

// A sandbox that cannot open ends racelab serve, with its reason, even
// though it listened first.
func TestServeSandboxFails(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"serve", "--addr", "127.0.0.1:0", "--runtime", "/nonexistent/runc",
		"--state-dir", t.TempDir()}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), `racelab serve: runc sandbox unavailable: the OCI runtime "/nonexistent/runc" is not installed`) {
		t.Errorf("exit %d, stderr %q; want 1 and the sandbox's reason", code, stderr.String())
	}
}

func readSync(w *syncWriter, b *bytes.Buffer) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return b.String()
}

// waitAddress waits for the line in which racelab says where it listens.
func waitAddress(t *testing.T, stdout *syncWriter, outBuf *bytes.Buffer, stderr *syncWriter, errBuf *bytes.Buffer) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if m := listening.FindStringSubmatch(readSync(stdout, outBuf)); m != nil {
			return "http://" + m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("racelab printed no address; log:\n%s", readSync(stderr, errBuf))
		}
	}
}
