package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/racelab/racelab/sandbox"
)

func newTestServer(t *testing.T, cfg Config, r sandbox.Runner) *httptest.Server {
	t.Helper()
	s, err := New(cfg, testLessons(t), r)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestPages(t *testing.T) {
	ts := newTestServer(t, Config{}, newFake())
	tests := []struct {
		path   string
		status int
		ctype  string
		has    []string
	}{
		{"/", 200, "text/html", []string{"Lesson One", "The first lesson.", `href="/lessons/one"`, "Lesson Two"}},
		{"/lessons/one", 200, "text/html", []string{"Lesson One", `class="cell"`, `data-cell="one-1"`, `/static/app.`, `.js" defer`, "/lessons/two"}},
		{"/lessons/two", 200, "text/html", []string{"Lesson Two", "/lessons/one"}},
		{"/lessons/nope", 404, "text/html", []string{"/lessons/nope"}},
		{"/no/such/page", 404, "text/html", nil},
		{"/healthz", 200, "text/plain", []string{"ok", "lessons 2"}},
		{"/static/app.js", 200, "javascript", nil},
		{"/static/app.css", 200, "text/css", nil},
		{"/static/chroma.css", 200, "text/css", []string{"prefers-color-scheme: dark"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := get(t, ts.URL+tt.path)
			if resp.StatusCode != tt.status {
				t.Errorf("GET %s = %d, want %d", tt.path, resp.StatusCode, tt.status)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, tt.ctype) {
				t.Errorf("GET %s Content-Type = %q, want %q", tt.path, ct, tt.ctype)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
				t.Errorf("GET %s Content-Security-Policy = %q, want a strict one", tt.path, csp)
			}
			for _, s := range tt.has {
				if !strings.Contains(body, s) {
					t.Errorf("GET %s body lacks %q", tt.path, s)
				}
			}
		})
	}
}

// postRun sends body to POST /api/run and returns the response and its
// events.
func postRun(t *testing.T, url string, body []byte) (*http.Response, []sandbox.Event) {
	t.Helper()
	return postRunWith(t, url, body, nil)
}

// postRunWith sends body to POST /api/run with header (and a JSON
// Content-Type unless header names another), and returns the response
// and its events.
func postRunWith(t *testing.T, url string, body []byte, header http.Header) (*http.Response, []sandbox.Event) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/api/run", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	if h := header.Get("Host"); h != "" {
		req.Host = h
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var evs []sandbox.Event
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var e sandbox.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		evs = append(evs, e)
	}
	return resp, evs
}

func reqJSON(t testing.TB, req sandbox.Request) []byte {
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRunNDJSON(t *testing.T) {
	ts := newTestServer(t, Config{}, newFake())
	resp, err := http.Post(ts.URL+"/api/run", "application/json", bytes.NewReader(reqJSON(t, sandbox.Request{Files: src("SLEEP")})))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("Content-Type = %q", ct)
	}
	// The first line arrives while the program still sleeps.
	r := bufio.NewReader(resp.Body)
	start := time.Now()
	var kinds []string
	var firstStdout time.Duration
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			break
		}
		var e sandbox.Event
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatal(err)
		}
		if e.Kind == sandbox.KindStdout && firstStdout == 0 {
			firstStdout = time.Since(start)
		}
		kinds = append(kinds, string(e.Kind))
	}
	total := time.Since(start)
	if got, want := strings.Join(kinds, " "), "build stdout stdout exit"; got != want {
		t.Errorf("events %q, want %q", got, want)
	}
	if total-firstStdout < 200*time.Millisecond {
		t.Errorf("first stdout after %v of %v: not flushed per event", firstStdout, total)
	}
}

func TestRunBadInput(t *testing.T) {
	f := newFake()
	ts := newTestServer(t, Config{MaxBodyBytes: 1000}, f)
	tests := []struct {
		name   string
		body   []byte
		status int
		msg    string
	}{
		{"malformed json", []byte(`{"files":`), 400, "not valid JSON"},
		{"not an object", []byte(`[1,2]`), 400, "not valid JSON"},
		{"unknown mode", reqJSON(t, sandbox.Request{Mode: "warp", Files: src("x")}), 400, `unknown mode "warp"`},
		{"oversized", reqJSON(t, sandbox.Request{Files: map[string]string{"main.go": strings.Repeat("a", 2000)}}), 413, "too large"},
		{"not utf-8", []byte("{\"files\":{\"main.go\":\"package main\xff\"}}"), 400, "UTF-8"},
		{"file twice", []byte(`{"files":{"main.go":"a","main.go":"b"}}`), 400, "given twice"},
		{"no files", []byte(`{}`), 400, "no files"},
		{"bad name", reqJSON(t, sandbox.Request{Files: map[string]string{"../x.go": "package main"}}), 400, "plain name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, evs := postRun(t, ts.URL, tt.body)
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if len(evs) != 1 || evs[0].Kind != sandbox.KindError || !strings.Contains(evs[0].Msg, tt.msg) {
				t.Errorf("events %+v, want one error saying %q", evs, tt.msg)
			}
		})
	}
	if n := f.count(); n != 0 {
		t.Errorf("bad requests started %d runs, want 0", n)
	}
	// The server is still up and runs good requests.
	resp, evs := postRun(t, ts.URL, reqJSON(t, sandbox.Request{Files: src("x")}))
	if resp.StatusCode != 200 || len(evs) == 0 || evs[len(evs)-1].Kind != sandbox.KindExit {
		t.Errorf("after bad input: %d %+v", resp.StatusCode, evs)
	}
}

// dial opens a websocket to the test server.
func dial(t *testing.T, ts *httptest.Server) *websocket.Conn {
	t.Helper()
	return dialWith(t, ts, nil)
}

// dialAs opens a websocket as the client at address from, for a server
// that trusts X-Forwarded-For (Config.TrustProxy).
func dialAs(t *testing.T, ts *httptest.Server, from string) *websocket.Conn {
	t.Helper()
	return dialWith(t, ts, http.Header{"X-Forwarded-For": {from}})
}

// dialWith opens a websocket to the test server, sending header.
func dialWith(t *testing.T, ts *httptest.Server, header http.Header) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/api/ws", &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func send(t *testing.T, c *websocket.Conn, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Write(context.Background(), websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
}

func recv(t *testing.T, c *websocket.Conn) sandbox.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var e sandbox.Event
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// recvUntil reads events up to and including one of kind k.
func recvUntil(t *testing.T, c *websocket.Conn, k sandbox.Kind) []sandbox.Event {
	t.Helper()
	var evs []sandbox.Event
	for {
		e := recv(t, c)
		evs = append(evs, e)
		if e.Kind == k {
			return evs
		}
	}
}

func kinds(evs []sandbox.Event) string {
	var s []string
	for _, e := range evs {
		s = append(s, string(e.Kind))
	}
	return strings.Join(s, " ")
}

func TestWebsocketRuns(t *testing.T) {
	ts := newTestServer(t, Config{}, newFake())
	c := dial(t, ts)
	// Two runs, one after the other, on one socket; output is data.
	send(t, c, sandbox.Request{Files: src("SLEEP")})
	if got, want := kinds(recvUntil(t, c, sandbox.KindExit)), "build stdout stdout exit"; got != want {
		t.Errorf("first run: %q, want %q", got, want)
	}
	send(t, c, sandbox.Request{Files: src("SCRIPT")})
	evs := recvUntil(t, c, sandbox.KindExit)
	if evs[1].Data != "<script>alert(1)</script>\n" {
		t.Errorf("program output = %q, want it unchanged", evs[1].Data)
	}
}

func TestWebsocketBadInput(t *testing.T) {
	f := newFake()
	ts := newTestServer(t, Config{MaxMessageBytes: 4096}, f)
	tests := []struct {
		name string
		msg  []byte
		want string
	}{
		{"malformed json", []byte(`{"files":`), "not valid JSON"},
		{"unknown mode", reqJSON(t, sandbox.Request{Mode: "warp", Files: src("x")}), "unknown mode"},
		{"not utf-8", []byte("{\"files\":{\"main.go\":\"\xff\"}}"), "UTF-8"},
	}
	c := dial(t, ts)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := c.Write(context.Background(), websocket.MessageText, tt.msg); err != nil {
				t.Fatal(err)
			}
			e := recv(t, c)
			if e.Kind != sandbox.KindError || e.Reason != sandbox.ReasonBadRequest || !strings.Contains(e.Msg, tt.want) {
				t.Errorf("got %+v, want a bad-request error saying %q", e, tt.want)
			}
		})
	}
	// The socket still works after bad input.
	send(t, c, sandbox.Request{Files: src("x")})
	if got := kinds(recvUntil(t, c, sandbox.KindExit)); got != "build stdout exit" {
		t.Errorf("after bad input: %q", got)
	}

	t.Run("second request on a busy socket", func(t *testing.T) {
		c := dial(t, ts)
		send(t, c, sandbox.Request{Files: src("BLOCK")})
		recvUntil(t, c, sandbox.KindStdout)
		send(t, c, sandbox.Request{Files: src("x")})
		if e := recv(t, c); e.Kind != sandbox.KindError || e.Reason != sandbox.ReasonSocketBusy {
			t.Errorf("got %+v, want a socket-busy error", e)
		}
		send(t, c, map[string]bool{"stop": true})
		if e := recvUntil(t, c, sandbox.KindExit); e[len(e)-1].Reason != sandbox.ReasonCanceled {
			t.Errorf("stop: %+v, want exit canceled", e)
		}
	})

	t.Run("message over the limit", func(t *testing.T) {
		c := dial(t, ts)
		big := reqJSON(t, sandbox.Request{Files: map[string]string{"main.go": strings.Repeat("a", 8000)}})
		if err := c.Write(context.Background(), websocket.MessageText, big); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _, err := c.Read(ctx)
		if got := websocket.CloseStatus(err); got != websocket.StatusMessageTooBig {
			t.Errorf("close status %v (err %v), want 1009 message too big", got, err)
		}
	})
}

func TestWebsocketCloseCancelsRun(t *testing.T) {
	f := newFake()
	ts := newTestServer(t, Config{}, f)
	c := dial(t, ts)
	send(t, c, sandbox.Request{Files: src("BLOCK")})
	recvUntil(t, c, sandbox.KindStdout)
	closed := time.Now()
	c.Close(websocket.StatusNormalClosure, "")
	select {
	case at := <-f.canceled:
		if d := at.Sub(closed); d > time.Second {
			t.Errorf("run cancelled %v after the socket closed, want < 1s", d)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("closing the socket did not cancel the run")
	}
}

// A client that never reads is dropped after the write timeout, and its
// run is stopped; nothing else is held up.
func TestWebsocketClientNeverReads(t *testing.T) {
	f := newFake()
	ts := newTestServer(t, Config{WriteTimeout: 300 * time.Millisecond, TrustProxy: true}, f)
	c := dial(t, ts)
	send(t, c, sandbox.Request{Files: src("FLOOD")})
	select {
	case <-f.canceled:
	case <-time.After(5 * time.Second):
		t.Fatal("the run of a client that never reads was not stopped")
	}
	// Another client is served meanwhile.
	resp, evs := postRunWith(t, ts.URL, reqJSON(t, sandbox.Request{Files: src("x")}), http.Header{"X-Forwarded-For": {"192.0.2.5"}})
	if resp.StatusCode != 200 || kinds(evs) != "build stdout exit" {
		t.Errorf("other client: %d %q", resp.StatusCode, kinds(evs))
	}
}

func TestAdmissionQueue(t *testing.T) {
	f := newFake()
	ts := newTestServer(t, Config{MaxRuns: 1, QueueSize: 2, TrustProxy: true}, f)
	first := dial(t, ts)
	send(t, first, sandbox.Request{Files: src("BLOCK")})
	recvUntil(t, first, sandbox.KindStdout)

	second, third := dialAs(t, ts, "192.0.2.2"), dialAs(t, ts, "192.0.2.3")
	send(t, second, sandbox.Request{Files: src("BLOCK")})
	if e := recv(t, second); e.Kind != sandbox.KindQueued || e.Position != 1 {
		t.Fatalf("second: %+v, want queued at 1", e)
	}
	send(t, third, sandbox.Request{Files: src("x")})
	if e := recv(t, third); e.Kind != sandbox.KindQueued || e.Position != 2 {
		t.Fatalf("third: %+v, want queued at 2", e)
	}
	// The line is full: the fourth is told at once, over HTTP with 503.
	start := time.Now()
	resp, evs := postRunWith(t, ts.URL, reqJSON(t, sandbox.Request{Files: src("x")}), http.Header{"X-Forwarded-For": {"192.0.2.4"}})
	if resp.StatusCode != http.StatusServiceUnavailable || len(evs) != 1 || evs[0].Reason != sandbox.ReasonBusy {
		t.Errorf("fourth: %d %+v, want 503 busy", resp.StatusCode, evs)
	}
	if !strings.Contains(evs[0].Msg, "try again in a moment") || time.Since(start) > time.Second {
		t.Errorf("busy answer %q after %v: want a clear message at once", evs[0].Msg, time.Since(start))
	}
	// The first finishes: the second runs and the third moves up (it
	// waits there while the second runs), then runs when the second ends.
	send(t, first, map[string]bool{"stop": true})
	recvUntil(t, first, sandbox.KindExit)
	if got := kinds(recvUntil(t, second, sandbox.KindStdout)); got != "build stdout" {
		t.Errorf("second after admission: %q", got)
	}
	if e := recv(t, third); e.Kind != sandbox.KindQueued || e.Position != 1 {
		t.Errorf("third: %+v, want it to move to place 1", e)
	}
	send(t, second, map[string]bool{"stop": true})
	recvUntil(t, second, sandbox.KindExit)
	if got := kinds(recvUntil(t, third, sandbox.KindExit)); got != "build stdout exit" {
		t.Errorf("third after admission: %q", got)
	}
}

func TestRateLimit(t *testing.T) {
	ts := newTestServer(t, Config{RunsPerMinute: 1, Burst: 2}, newFake())
	body := reqJSON(t, sandbox.Request{Files: src("x")})
	for i := 0; i < 2; i++ {
		if resp, _ := postRun(t, ts.URL, body); resp.StatusCode != 200 {
			t.Fatalf("run %d: %d", i, resp.StatusCode)
		}
	}
	resp, evs := postRun(t, ts.URL, body)
	if resp.StatusCode != http.StatusTooManyRequests || len(evs) != 1 || evs[0].Reason != sandbox.ReasonRateLimited {
		t.Errorf("third run: %d %+v, want 429 rate-limited", resp.StatusCode, evs)
	}
	if !strings.Contains(evs[0].Msg, "try again in") {
		t.Errorf("message %q does not say when to try again", evs[0].Msg)
	}
	c := dial(t, ts)
	send(t, c, sandbox.Request{Files: src("x")})
	if e := recv(t, c); e.Kind != sandbox.KindError || e.Reason != sandbox.ReasonRateLimited {
		t.Errorf("websocket: %+v, want rate-limited error event", e)
	}
}

// serveAndDial serves a server with cfg and the fake runner on a
// loopback port (see serveOn), and opens a websocket to it.
func serveAndDial(t *testing.T, cfg Config) (s *Server, addr string, c *websocket.Conn, stop func(), served <-chan error) {
	t.Helper()
	s, addr, stop, served = serveOn(t, cfg)
	c, _, err := websocket.Dial(context.Background(), "ws://"+addr+"/api/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return s, addr, c, stop, served
}

// Shutdown cancels the runs in flight: their clients get the exit event
// and a going-away close, and Serve returns.
func TestGracefulShutdown(t *testing.T) {
	_, addr, c, stop, served := serveAndDial(t, Config{ShutdownGrace: 5 * time.Second})
	send(t, c, sandbox.Request{Files: src("BLOCK")})
	recvUntil(t, c, sandbox.KindStdout)
	stop()
	if e := recvUntil(t, c, sandbox.KindExit); e[len(e)-1].Reason != sandbox.ReasonCanceled {
		t.Errorf("in-flight run ended %+v, want canceled", e[len(e)-1])
	}
	_, _, err := c.Read(context.Background())
	if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway {
		t.Errorf("close status %v, want going away", got)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Errorf("server still answers after shutdown")
	}
}

// Shutdown with a client that stops reading: once the grace is spent,
// its websocket is closed hard, and Serve returns only after its handler
// has ended (no goroutine of the server outlives Serve).
func TestShutdownClosesSocketsAfterGrace(t *testing.T) {
	s, _, c, stop, served := serveAndDial(t, Config{ShutdownGrace: 200 * time.Millisecond})
	send(t, c, sandbox.Request{Files: src("BLOCK")})
	recvUntil(t, c, sandbox.KindStdout)
	// The client reads nothing more: the server's close handshake waits
	// in vain until the grace ends.
	if d := stopPastGrace(t, s, stop, served); d < 200*time.Millisecond {
		t.Errorf("Serve returned after %v, before the grace", d)
	}
}

// stopPastGrace stops the server, whose websocket outlives the shutdown
// grace, and checks that Serve returns (within 4 s) saying so, with no
// websocket left open. It returns how long Serve took, timed from before
// the stop: Serve starts its grace once it sees the cancel, which can be
// before stop returns (seen: "returned after 196.8ms, before the grace",
// 1 in 100 beside four busy loops).
func stopPastGrace(t *testing.T, s *Server, stop func(), served <-chan error) time.Duration {
	t.Helper()
	start := time.Now()
	stop()
	select {
	case err := <-served:
		if err == nil || !strings.Contains(err.Error(), "still open after the shutdown grace") {
			t.Errorf("Serve = %v, want it to say a websocket outlived the grace", err)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("Serve did not return after the grace")
	}
	d := time.Since(start)
	if n := s.sockets.count(); n != 0 {
		t.Errorf("%d websockets still open after Serve returned", n)
	}
	return d
}

// A client that goes on sending but never reads keeps the server's
// close handshake waiting (coder/websocket's Close gives the client 5 s
// to answer) while the connection's reader is out of Read, holding a
// message nobody takes: the grace still ends the socket at once, since
// closing hard closes the connection underneath the library.
func TestShutdownClosesSocketsWhileClientSends(t *testing.T) {
	s, _, c, stop, served := serveAndDial(t, Config{ShutdownGrace: 200 * time.Millisecond})
	send(t, c, sandbox.Request{Files: src("BLOCK")})
	recvUntil(t, c, sandbox.KindStdout)
	var flood sync.WaitGroup
	defer flood.Wait()
	defer c.CloseNow() // before the wait: ends the flood if the server did not
	flood.Go(func() {
		// Ends when the server closes the connection (or the test does).
		for c.Write(t.Context(), websocket.MessageText, []byte(`{"stop":true}`)) == nil {
		}
	})
	if d := stopPastGrace(t, s, stop, served); d > 2*time.Second {
		t.Errorf("Serve returned %v after the cancel, want about the 200ms grace", d)
	}
}

// /metrics reports runs by mode and reason, rejections, the queue and
// the open websockets, from the server's own registry.
func TestMetrics(t *testing.T) {
	ts := newTestServer(t, Config{}, newFake())
	postRun(t, ts.URL, reqJSON(t, sandbox.Request{Mode: sandbox.ModeRace, Files: src("x")}))
	postRun(t, ts.URL, []byte(`{"files":`))
	c := dial(t, ts)
	send(t, c, sandbox.Request{Files: src("BLOCK")})
	recvUntil(t, c, sandbox.KindStdout)
	resp, body := get(t, ts.URL+"/metrics")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics = %d", resp.StatusCode)
	}
	for _, want := range []string{
		`racelab_runs_total{mode="race",reason="exited"} 1`,
		`racelab_rejected_total{reason="bad-request"} 1`,
		`racelab_websockets 1`,
		`racelab_runs_running 1`,
		`racelab_queue_length 0`,
		`racelab_receiving_bytes `, // its value: TestInflightBytes
		`racelab_queue_wait_seconds_count 2`,
		`racelab_build_seconds_count 2`,
		`racelab_container_start_seconds_count 2`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if resp, _ := get(t, ts.URL+"/readyz"); resp.StatusCode != 200 {
		t.Errorf("GET /readyz = %d", resp.StatusCode)
	}
}

// TestRunnerUnavailable: with the runs sent to runners, a run no runner
// could take, or whose runner went away, ends with an unavailable error
// event that tells the learner what to do; the details go to the log only.
func TestRunnerUnavailable(t *testing.T) {
	for _, tt := range []struct {
		name   string
		err    error
		status int
		msg    string
	}{
		{"none reachable", fmt.Errorf("%w: 2 runner(s) tried: dial tcp 10.0.0.7:8081: connection refused", sandbox.ErrUnavailable), 503, "Try again in a moment"},
		{"lost mid-run", fmt.Errorf("%w: runner http://10.0.0.7:8081: unexpected EOF", sandbox.ErrRunnerLost), 502, "Press Run again"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := sandbox.RunnerFunc(func(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error { return tt.err })
			ts := newTestServer(t, Config{}, r)
			resp, evs := postRun(t, ts.URL, reqJSON(t, sandbox.Request{Files: src("x")}))
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if len(evs) != 1 || evs[0].Reason != sandbox.ReasonUnavailable || !strings.Contains(evs[0].Msg, tt.msg) || strings.Contains(evs[0].Msg, "10.0.0.7") {
				t.Errorf("events %+v, want one unavailable error saying %q without the runner's address", evs, tt.msg)
			}
		})
	}
}

// TestReadyz: while the sandbox opens, /healthz is 200 (the process is
// alive), /readyz is 503 with the reason, and a run is refused with words
// that say to try again; afterwards /readyz is 200.
func TestReadyz(t *testing.T) {
	var open atomic.Bool
	notReady := func() error {
		if open.Load() {
			return nil
		}
		return fmt.Errorf("%w: opening the sandbox", sandbox.ErrNotReady)
	}
	r := sandbox.RunnerFunc(func(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
		if err := notReady(); err != nil {
			return err
		}
		emit(sandbox.Event{Kind: sandbox.KindExit, Reason: sandbox.ReasonExited})
		return nil
	})
	ts := newTestServer(t, Config{Ready: notReady}, r)
	status := func(path string) (int, string) {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := status("/healthz"); code != 200 {
		t.Errorf("/healthz = %d while opening, want 200", code)
	}
	if code, body := status("/readyz"); code != 503 || !strings.Contains(body, "opening the sandbox") {
		t.Errorf("/readyz = %d %q while opening, want 503 with the reason", code, body)
	}
	resp, evs := postRun(t, ts.URL, reqJSON(t, sandbox.Request{Files: src("x")}))
	if resp.StatusCode != 503 || len(evs) != 1 || evs[0].Reason != sandbox.ReasonUnavailable || !strings.Contains(evs[0].Msg, "still getting ready") {
		t.Errorf("run while opening: %d %+v, want 503 and an unavailable error saying the sandbox is getting ready", resp.StatusCode, evs)
	}
	open.Store(true)
	if code, _ := status("/readyz"); code != 200 {
		t.Errorf("/readyz = %d once open, want 200", code)
	}
	if resp, evs := postRun(t, ts.URL, reqJSON(t, sandbox.Request{Files: src("x")})); resp.StatusCode != 200 || evs[len(evs)-1].Kind != sandbox.KindExit {
		t.Errorf("run once open: %d %+v", resp.StatusCode, evs)
	}
}
