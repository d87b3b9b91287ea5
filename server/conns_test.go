package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/coder/websocket"

	"github.com/racelab/racelab/sandbox"
)

// serveOn serves a server with cfg and the fake runner on a loopback
// port, and returns it, its address, the function that shuts it down, and
// what Serve returned (then closed). The test's end shuts it down and
// waits for Serve.
func serveOn(t *testing.T, cfg Config) (s *Server, addr string, stop func(), served <-chan error) {
	t.Helper()
	s, err := New(cfg, testLessons(t), newFake())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.Serve(ctx, ln)
		close(done)
	}()
	t.Cleanup(func() {
		stop()
		for range done {
		}
	})
	return s, ln.Addr().String(), stop, done
}

// waitFor polls cond until it holds, and fails the test naming what if it
// does not within 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 5 s for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rawConn is a connection from a loopback address of the test's choice
// (127.0.0.N), speaking HTTP/1.1 by hand.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func dialFrom(t *testing.T, addr, from string) *rawConn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{Conn: c, r: bufio.NewReader(c)}
}

// get asks for path on the connection, kept alive, and returns the
// response's status and body.
func (c *rawConn) get(t *testing.T, path string) (int, string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path)
	return c.response(t)
}

func (c *rawConn) response(t *testing.T) (int, string) {
	t.Helper()
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// One address may hold ClientConns connections, all addresses MaxConns;
// a connection past either is answered 503 with why and closed, and a
// closed connection makes room again.
func TestConnLimits(t *testing.T) {
	s, addr, _, _ := serveOn(t, Config{ClientConns: 3, MaxConns: 5})
	var mine []*rawConn
	for i := range 3 {
		c := dialFrom(t, addr, "127.0.0.1")
		if code, _ := c.get(t, "/healthz"); code != http.StatusOK {
			t.Fatalf("connection %d of one address: status %d, want 200", i+1, code)
		}
		mine = append(mine, c)
	}
	code, body := dialFrom(t, addr, "127.0.0.1").get(t, "/healthz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "Your address has 3 connections open") {
		t.Errorf("a fourth connection of one address: %d %q; want 503 saying the address has 3 open", code, body)
	}
	for _, from := range []string{"127.0.0.2", "127.0.0.3"} {
		if code, _ := dialFrom(t, addr, from).get(t, "/healthz"); code != http.StatusOK {
			t.Fatalf("a connection from %s: status %d, want 200 (its address has none)", from, code)
		}
	}
	code, body = dialFrom(t, addr, "127.0.0.4").get(t, "/healthz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "racelab has 5 connections open") {
		t.Errorf("a sixth connection: %d %q; want 503 saying the server has 5 open", code, body)
	}
	if open, refused := s.conns.stats(); open != 5 || refused != 2 {
		t.Errorf("the limiter counts %d open, %d refused; want 5 and 2", open, refused)
	}
	mine[0].Close()
	waitFor(t, "the closed connection to be uncounted", func() bool { open, _ := s.conns.stats(); return open == 4 })
	if code, _ := dialFrom(t, addr, "127.0.0.1").get(t, "/healthz"); code != http.StatusOK {
		t.Errorf("after one closed: status %d, want 200", code)
	}
}

// Behind a trusted proxy every connection is the proxy's: only MaxConns
// bounds them.
func TestConnLimitsBehindProxy(t *testing.T) {
	_, addr, _, _ := serveOn(t, Config{ClientConns: 2, MaxConns: 4, TrustProxy: true})
	for i := range 4 {
		if code, _ := dialFrom(t, addr, "127.0.0.1").get(t, "/healthz"); code != http.StatusOK {
			t.Fatalf("connection %d from the proxy: status %d, want 200", i+1, code)
		}
	}
	if code, _ := dialFrom(t, addr, "127.0.0.1").get(t, "/healthz"); code != http.StatusServiceUnavailable {
		t.Errorf("a fifth connection: status %d, want 503", code)
	}
}

// A kept-alive connection that sends nothing for IdleTimeout is closed;
// so is a websocket that asks for nothing, but not one whose run goes on
// past it (it closes once the run is over and nothing more comes).
func TestIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	_, addr, _, _ := serveOn(t, Config{IdleTimeout: idle})
	c := dialFrom(t, addr, "127.0.0.1")
	if code, _ := c.get(t, "/healthz"); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.r.ReadByte(); err != io.EOF {
		t.Fatalf("an idle kept-alive connection: read %v, want EOF (closed)", err)
	}
	t.Logf("kept-alive connection closed after %v idle", time.Since(start).Round(time.Millisecond))

	ws, _, err := websocket.Dial(context.Background(), "ws://"+addr+"/api/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err = ws.Read(ctx)
	if got := websocket.CloseStatus(err); got != websocket.StatusPolicyViolation {
		t.Fatalf("a silent websocket: %v (status %v), want closed with policy violation", err, got)
	}

	ws, _, err = websocket.Dial(context.Background(), "ws://"+addr+"/api/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	send(t, ws, sandbox.Request{Files: src("BLOCK")})
	recvUntil(t, ws, sandbox.KindStdout)
	time.Sleep(3 * idle)
	send(t, ws, map[string]bool{"stop": true})
	if evs := recvUntil(t, ws, sandbox.KindExit); evs[len(evs)-1].Reason != sandbox.ReasonCanceled {
		t.Errorf("the run past the idle time ended %+v, want canceled by its stop", evs[len(evs)-1])
	}
	_, _, err = ws.Read(ctx)
	if got := websocket.CloseStatus(err); got != websocket.StatusPolicyViolation {
		t.Errorf("after the run, silent: %v (status %v), want closed with policy violation", err, got)
	}
}

// postPart starts POST /api/run on c with a body of n bytes, of which it
// sends part.
func (c *rawConn) postPart(n int, part []byte) {
	fmt.Fprintf(c, "POST /api/run HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", n)
	c.Write(part)
}

// A body that does not arrive whole within BodyTimeout is answered 408
// and lets go of what it held.
func TestBodyTimeout(t *testing.T) {
	_, addr, _, _ := serveOn(t, Config{BodyTimeout: 300 * time.Millisecond})
	c := dialFrom(t, addr, "127.0.0.1")
	c.SetDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	c.postPart(1000, []byte(`{"files":`))
	code, body := c.response(t)
	if code != http.StatusRequestTimeout || !strings.Contains(body, "did not arrive whole in time") {
		t.Errorf("a stalled body: %d %q; want 408 saying it did not arrive in time", code, body)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("answered after %v, before the body timeout", d)
	}
}

// While InflightBytes of bodies are being received, another request is
// told the server is busy (over POST and over a websocket alike); once
// the stalled body gives up, requests go through again.
func TestInflightBytes(t *testing.T) {
	const budget = 64 << 10
	s, addr, _, _ := serveOn(t, Config{InflightBytes: budget, MaxBodyBytes: budget, MaxMessageBytes: budget, BodyTimeout: 2 * time.Second})
	hog := dialFrom(t, addr, "127.0.0.2")
	hog.SetDeadline(time.Now().Add(10 * time.Second))
	part := `{"files":{"main.go":"`
	hog.postPart(budget, []byte(part+strings.Repeat("x", budget-1-len(part))))
	// Once the hog's bytes are in, all but one of the budget is held: a
	// request from another client finds it spent. Sent before that, the
	// request would hold bytes the hog's last piece needs, and the hog
	// would be the one refused (1 run in 100 did).
	waitFor(t, "the hog's bytes held", func() bool { return s.recv.bytes() == budget-1 })
	if _, body := get(t, "http://"+addr+"/metrics"); !strings.Contains(body, fmt.Sprintf("racelab_receiving_bytes %d\n", budget-1)) {
		t.Errorf("/metrics while the hog holds %d bytes lacks racelab_receiving_bytes %[1]d", budget-1)
	}
	if resp, evs := postRun(t, "http://"+addr, reqJSON(t, sandbox.Request{Files: src("x")})); resp.StatusCode != http.StatusServiceUnavailable ||
		len(evs) != 1 || evs[0].Reason != sandbox.ReasonBusy || !strings.Contains(evs[0].Msg, "receiving too many requests") {
		t.Errorf("a request while the budget is held: status %d, events %+v; want 503 and one error event, reason busy, saying so", resp.StatusCode, evs)
	}
	ws, _, err := websocket.Dial(context.Background(), "ws://"+addr+"/api/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	send(t, ws, sandbox.Request{Files: src("x")})
	if e := recv(t, ws); e.Kind != sandbox.KindError || e.Reason != sandbox.ReasonBusy {
		t.Errorf("a websocket request while the budget is spent: %+v, want an error event, reason busy", e)
	}
	if code, _ := hog.response(t); code != http.StatusRequestTimeout {
		t.Errorf("the hog's stalled body: status %d, want 408", code)
	}
	if n := s.recv.bytes(); n != 0 {
		t.Errorf("%d bytes still held after the hog gave up, want 0", n)
	}
	if resp, evs := postRun(t, "http://"+addr, reqJSON(t, sandbox.Request{Files: src("x")})); resp.StatusCode != http.StatusOK || evs[len(evs)-1].Kind != sandbox.KindExit {
		t.Errorf("after the hog gave up: status %d, events %s; want a run", resp.StatusCode, kinds(evs))
	}
}

// inflight.read returns what it read, however the reads come, holds its
// bytes against the budget until released, and refuses what does not fit.
func TestInflightRead(t *testing.T) {
	f := newInflight(10_000)
	want := strings.Repeat("0123456789", 900)
	for _, r := range []io.Reader{strings.NewReader(want), iotest.OneByteReader(strings.NewReader(want)), iotest.HalfReader(strings.NewReader(want))} {
		b, release, err := f.read(r)
		if err != nil || string(b) != want {
			t.Fatalf("read %d bytes, %v; want the %d bytes", len(b), err, len(want))
		}
		if _, _, err := f.read(strings.NewReader(strings.Repeat("y", 2000))); !errors.Is(err, errInflightFull) {
			t.Errorf("2000 bytes more with 9000 of 10000 held: %v, want errInflightFull", err)
		}
		release()
		b2, release2, err := f.read(strings.NewReader(strings.Repeat("y", 2000)))
		if err != nil || len(b2) != 2000 {
			t.Errorf("after the release: %d bytes, %v", len(b2), err)
		}
		release2()
	}
	if !f.sem.TryAcquire(10_000) {
		t.Error("the whole budget is not back after every release")
	}
}
