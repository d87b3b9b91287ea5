package runner

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/racelab/racelab/internal/gate"
	"github.com/racelab/racelab/sandbox"
)

// The gate refuses runs (so that clients try another runner) and says
// not ready until the sandbox is open, and again once shutdown begins.
func TestRunnerGate(t *testing.T) {
	release := make(chan struct{})
	open := func(ctx context.Context) (sandbox.Runner, func(), error) {
		select {
		case <-release:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		return sandbox.RunnerFunc(func(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
			emit(sandbox.Event{Kind: sandbox.KindBuild, Ms: 5})
			emit(sandbox.Event{Kind: sandbox.KindExit, Reason: sandbox.ReasonExited, Ms: 7})
			return nil
		}), func() {}, nil
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	g := gate.Open(t.Context(), open, log, func(err error) { t.Errorf("opening failed: %v", err) })
	defer g.Close()
	s := &service{gate: g}
	ready := func() int {
		w := httptest.NewRecorder()
		s.handleReady(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return w.Code
	}
	req := &sandbox.Request{Files: map[string]string{"main.go": "package main\n"}}
	emitted := 0
	emit := func(sandbox.Event) { emitted++ }
	if err := g.Run(t.Context(), req, emit); !errors.Is(err, sandbox.ErrUnavailable) || ready() != http.StatusServiceUnavailable {
		t.Fatalf("before open: Run = %v, readyz %d; want unavailable and 503", err, ready())
	}
	close(release)
	for deadline := time.Now().Add(10 * time.Second); g.NotReady() != nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the gate never opened")
		}
	}
	if err := g.Run(t.Context(), req, emit); err != nil || emitted != 2 || ready() != http.StatusOK {
		t.Fatalf("open: Run = %v with %d events, readyz %d; want 2 events and 200", err, emitted, ready())
	}
	g.Drain()
	if err := g.Run(t.Context(), req, emit); !errors.Is(err, sandbox.ErrUnavailable) || ready() != http.StatusServiceUnavailable {
		t.Fatalf("draining: Run = %v, readyz %d; want unavailable and 503", err, ready())
	}
}
