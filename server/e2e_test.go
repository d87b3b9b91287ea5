package server

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/runc"
)

// The end-to-end tests run the server on the real runc sandbox. Outside
// CI they skip when runc or root is missing; with CI=true they fail.
var (
	realOnce   sync.Once
	realRunner *runc.Runner
	realErr    error
)

func realSandbox(t testing.TB) *runc.Runner {
	t.Helper()
	realOnce.Do(func() {
		if os.Geteuid() != 0 {
			realErr = fmt.Errorf("not root")
			return
		}
		if _, err := exec.LookPath("runc"); err != nil {
			realErr = fmt.Errorf("runc is not installed (apt-get install runc)")
			return
		}
		base := os.Getenv("RACELAB_TEST_STATE_DIR")
		if base == "" {
			base = "/var/lib/racelab-test"
		}
		lim := sandbox.DefaultLimits()
		lim.RunTimeout = 5 * time.Second
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		realRunner, realErr = runc.New(ctx, runc.Config{
			StateDir: filepath.Join(base, "server"), CacheDir: filepath.Join(base, "cache"),
			Limits: lim, Seccomp: true,
			Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		})
	})
	if realErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("runc sandbox unavailable in CI: %v", realErr)
		}
		t.Skipf("runc sandbox unavailable: %v", realErr)
	}
	return realRunner
}

func TestMain(m *testing.M) {
	code := m.Run()
	if realRunner != nil {
		if left := realRunner.Leftovers(); len(left) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: the server tests left behind: %s\n", strings.Join(left, ", "))
			code = 1
		}
		realRunner.Close()
	}
	os.Exit(code)
}

func TestRealRaceOverWebsocket(t *testing.T) {
	r := realSandbox(t)
	ts := newTestServer(t, Config{}, r)
	c := dial(t, ts)
	send(t, c, sandbox.Request{Mode: sandbox.ModeRace, Files: map[string]string{"main.go": racyCounter(t)}})
	evs := recvUntil(t, c, sandbox.KindExit)
	var stderr strings.Builder
	for _, e := range evs {
		if e.Kind == sandbox.KindStderr {
			stderr.WriteString(e.Data)
		}
	}
	exit := evs[len(evs)-1]
	if exit.Code != 66 || !strings.Contains(stderr.String(), "WARNING: DATA RACE") {
		t.Errorf("exit %+v, stderr %q: want a race report and status 66", exit, stderr.String())
	}
}

// Closing the websocket stops the run and frees its container within a
// second.
func TestRealCloseFreesContainer(t *testing.T) {
	r := realSandbox(t)
	ts := newTestServer(t, Config{}, r)
	c := dial(t, ts)
	send(t, c, sandbox.Request{Files: map[string]string{"main.go": "package main\n\nimport (\n\t\"fmt\"\n\t\"time\"\n)\n\nfunc main() {\n\tfmt.Println(\"started\")\n\ttime.Sleep(time.Minute)\n}\n"}})
	recvUntil(t, c, sandbox.KindStdout)
	if left := r.Leftovers(); len(left) == 0 {
		t.Fatal("no container while the program runs: the check below proves nothing")
	}
	c.Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(time.Second)
	for len(r.Leftovers()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("a second after the socket closed, still there: %v", r.Leftovers())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Closing the HTTP request of POST /api/run stops the run and frees its
// container within a second, as closing a websocket does.
func TestRealHTTPCloseFreesContainer(t *testing.T) {
	r := realSandbox(t)
	ts := newTestServer(t, Config{}, r)
	body := reqJSON(t, sandbox.Request{Files: map[string]string{"main.go": "package main\n\nimport (\n\t\"fmt\"\n\t\"time\"\n)\n\nfunc main() {\n\tfmt.Println(\"started\")\n\ttime.Sleep(time.Minute)\n}\n"}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", ts.URL+"/api/run", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() && !strings.Contains(sc.Text(), `"stdout"`) {
	}
	if len(r.Leftovers()) == 0 {
		t.Fatal("no container while the program runs: the check below proves nothing")
	}
	cancel()
	deadline := time.Now().Add(time.Second)
	for len(r.Leftovers()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("a second after the request closed, still there: %v", r.Leftovers())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// racyCounter is the project's racy counter, examples/racy.go.
func racyCounter(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", "racy.go"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
