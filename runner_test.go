package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/racelab/racelab/sandbox"
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
		{"runner heartbeat", []string{"runner", "--heartbeat", "0s"}, "-heartbeat must be positive"},
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

// The gate refuses runs (so that clients try another runner) and says
// not ready until the sandbox is open, and again once shutdown begins.
func TestRunnerGate(t *testing.T) {
	g := &gate{}
	ready := func() int {
		w := httptest.NewRecorder()
		g.readyz(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return w.Code
	}
	req := &sandbox.Request{Files: map[string]string{"main.go": "package main\n"}}
	emitted := 0
	emit := func(sandbox.Event) { emitted++ }
	if err := g.Run(t.Context(), req, emit); !errors.Is(err, sandbox.ErrUnavailable) || ready() != http.StatusServiceUnavailable {
		t.Fatalf("before open: Run = %v, readyz %d; want unavailable and 503", err, ready())
	}
	g.open(sandbox.RunnerFunc(func(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
		emit(sandbox.Event{Kind: sandbox.KindBuild, Ms: 5})
		emit(sandbox.Event{Kind: sandbox.KindExit, Reason: sandbox.ReasonExited, Ms: 7})
		return nil
	}))
	if err := g.Run(t.Context(), req, emit); err != nil || emitted != 2 || ready() != http.StatusOK {
		t.Fatalf("open: Run = %v with %d events, readyz %d; want 2 events and 200", err, emitted, ready())
	}
	g.drain()
	if err := g.Run(t.Context(), req, emit); !errors.Is(err, sandbox.ErrUnavailable) || ready() != http.StatusServiceUnavailable {
		t.Fatalf("draining: Run = %v, readyz %d; want unavailable and 503", err, ready())
	}
}
