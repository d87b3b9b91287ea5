package main

import (
	"bytes"
	"context"
	"flag"
	"net/http"
	"strings"
	"testing"
)

// Bad values of serve's admission and browser flags are refused before
// anything starts, on the command line and from the environment alike:
// one line that names the flag, exit status 2.
func TestServeBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"client runs 0", []string{"serve", "--client-runs", "0"}, nil, "-client-runs and -client-queue must be at least 1"},
		{"client queue negative", []string{"serve"}, map[string]string{"RACELAB_CLIENT_QUEUE": "-1"}, "-client-queue must be at least 1"},
		{"host as a URL", []string{"serve", "--host", "https://racelab.example.org"}, nil, `-host: "https://racelab.example.org" is not a host name`},
		{"host with a port", []string{"serve", "--host", "racelab.example.org,racelab.example.org:8080"}, nil, "without a scheme, port or path"},
		{"host from the environment", []string{"serve"}, map[string]string{"RACELAB_HOST": "*.example.org"}, `"*.example.org" is not a host name`},
		{"max conns negative", []string{"serve", "--max-conns", "-1"}, nil, "-max-conns must be 0 (the default) or positive"},
		{"client conns 0", []string{"serve"}, map[string]string{"RACELAB_CLIENT_CONNS": "0"}, "-client-conns must be at least 1"},
		{"idle timeout 0", []string{"serve", "--idle-timeout", "0s"}, nil, "-idle-timeout and -body-timeout must be positive"},
		{"body timeout negative", []string{"serve", "--body-timeout", "-1s"}, nil, "-idle-timeout and -body-timeout must be positive"},
		{"inflight below one body", []string{"serve", "--inflight-bytes", "1000"}, nil, "-inflight-bytes (1000) must hold at least one whole request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr.String(), tt.want)
			}
		})
	}
}

// racelab serve answers browsers only at the names it is given with
// --host (several, from the command line and RACELAB_HOST alike), besides
// localhost and IP addresses; its probes answer any Host.
func TestServeHosts(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  string
	}{
		{"flag", []string{"--host", "racelab.example.org", "--host", "race.example.net,lab.example.org"}, ""},
		{"environment", nil, "racelab.example.org,race.example.net, lab.example.org"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("RACELAB_HOST", tc.env)
			}
			testServeHosts(t, tc.args)
		})
	}
}

func testServeHosts(t *testing.T, hostArgs []string) {
	url, stop := startServe(t, hostArgs...)
	status := func(path, host string) int {
		req, _ := http.NewRequest("GET", url+path, nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for host, want := range map[string]int{
		"racelab.example.org": 200, "race.example.net": 200, "lab.example.org": 200, "localhost": 200,
		"evil.example": http.StatusMisdirectedRequest, "example.org": http.StatusMisdirectedRequest,
	} {
		if got := status("/", host); got != want {
			t.Errorf("GET / with Host %s: %d, want %d", host, got, want)
		}
	}
	if got := status("/healthz", "evil.example"); got != 200 {
		t.Errorf("GET /healthz with Host evil.example: %d, want 200", got)
	}
	stop()
}

// startServe starts racelab serve on the local sandbox with args, in
// process, and returns its URL and a stop that ends it (as SIGTERM does)
// and checks that it exits with status 0.
func startServe(t *testing.T, args ...string) (url string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	var outBuf, errBuf bytes.Buffer
	stdout, stderr := &syncWriter{w: &outBuf}, &syncWriter{w: &errBuf}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--sandbox", "local", "--addr", "127.0.0.1:0"}, args...), stdout, stderr)
	}()
	url = waitAddress(t, stdout, &outBuf, stderr, &errBuf)
	return url, func() {
		t.Helper()
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d, want 0; log:\n%s", code, readSync(stderr, &errBuf))
		}
	}
}

// The start-up line names the sandbox and, for the runc backend, the OCI
// runtime it starts containers with: an instructor who chose crun or
// runsc (RACELAB_RUNTIME in a unit or an image) sees that it took.
func TestBackendDescribe(t *testing.T) {
	for _, tt := range []struct {
		args []string
		env  string
		want string
	}{
		{nil, "", "runc, runtime runc"},
		{[]string{"--runtime", "crun"}, "", "runc, runtime crun"},
		{nil, "runsc", "runc, runtime runsc"},
		{[]string{"--sandbox", "local"}, "", "local"},
	} {
		if tt.env != "" {
			t.Setenv("RACELAB_RUNTIME", tt.env)
		}
		var b backendFlags
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		b.register(fs)
		if err := fs.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		if err := applyEnv(fs); err != nil {
			t.Fatal(err)
		}
		if got := b.describe(); got != tt.want {
			t.Errorf("%v RACELAB_RUNTIME=%q: %q, want %q", tt.args, tt.env, got, tt.want)
		}
	}
}
