package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/racelab/racelab/sandbox"
)

// port returns the port of the test server, for Host and Origin headers.
func port(ts *httptest.Server) string { return ts.URL[strings.LastIndex(ts.URL, ":"):] }

// dialWS tries a websocket upgrade with header and, when host is not "",
// that Host; it returns the connection, or the refusal's status and body.
func dialWS(t *testing.T, ts *httptest.Server, host string, header http.Header) (*websocket.Conn, int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/api/ws", &websocket.DialOptions{Host: host, HTTPHeader: header})
	if err == nil {
		t.Cleanup(func() { c.CloseNow() })
		return c, http.StatusSwitchingProtocols, ""
	}
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	return nil, resp.StatusCode, string(b)
}

// Another site's page may not run code here (CSRF): POST /api/run takes
// only a body declared JSON (which a page elsewhere cannot send without
// this server's leave), and both run endpoints refuse a request whose
// Origin is another site's, or that the browser says is cross-site.
func TestCrossSiteRefused(t *testing.T) {
	f := newFake()
	ts := newTestServer(t, Config{}, f)
	own := "http://127.0.0.1" + port(ts)
	tests := []struct {
		name   string
		header http.Header
		status int
		msg    string
	}{
		{"text/plain from another site", http.Header{"Content-Type": {"text/plain"}, "Origin": {"http://evil.example"}}, 403, "another site (Origin: http://evil.example)"},
		{"text/plain", http.Header{"Content-Type": {"text/plain"}}, 415, "Content-Type: application/json"},
		{"form", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, 415, "Content-Type: application/json"},
		{"no content type", http.Header{"Content-Type": nil}, 415, "Content-Type: application/json"},
		{"json from another site", http.Header{"Origin": {"http://evil.example"}}, 403, "another site"},
		{"json from another port", http.Header{"Origin": {"http://127.0.0.1:1"}}, 403, "another site"},
		{"json from a sandboxed frame", http.Header{"Origin": {"null"}}, 403, "another site"},
		{"json, cross-site", http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403, "Sec-Fetch-Site: cross-site"},
		{"json from a sibling site", http.Header{"Sec-Fetch-Site": {"same-site"}, "Origin": {"http://other.127.0.0.1.example"}}, 403, "another site"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, evs := postRunWith(t, ts.URL, reqJSON(t, sandbox.Request{Files: src("x")}), tt.header)
			if resp.StatusCode != tt.status || len(evs) != 1 || evs[0].Reason != sandbox.ReasonBadRequest || !strings.Contains(evs[0].Msg, tt.msg) {
				t.Errorf("POST /api/run: %d %+v, want %d and a bad-request error saying %q", resp.StatusCode, evs, tt.status, tt.msg)
			}
		})
	}
	if n := f.count(); n != 0 {
		t.Errorf("%d refused requests ran", n)
	}

	// The site's own pages, and clients that are no page, still run.
	for _, h := range []http.Header{
		nil,
		{"Content-Type": {"application/json; charset=utf-8"}},
		{"Origin": {own}, "Sec-Fetch-Site": {"same-origin"}},
		{"Origin": {"https://127.0.0.1" + port(ts)}}, // behind a TLS proxy
	} {
		if resp, evs := postRunWith(t, ts.URL, reqJSON(t, sandbox.Request{Files: src("x")}), h); resp.StatusCode != 200 || kinds(evs) != "build stdout exit" {
			t.Errorf("POST /api/run with %v: %d %q, want it run", h, resp.StatusCode, kinds(evs))
		}
	}

	// The websocket: the same refusals, before the upgrade.
	for _, h := range []http.Header{
		{"Origin": {"http://evil.example"}},
		{"Sec-Fetch-Site": {"cross-site"}},
		{"Sec-Fetch-Site": {"cross-site"}, "Origin": {own}},
	} {
		if _, status, body := dialWS(t, ts, "", h); status != 403 || !strings.Contains(body, "another site") {
			t.Errorf("websocket with %v: %d %q, want 403 saying it comes from another site", h, status, body)
		}
	}
	c, status, _ := dialWS(t, ts, "", http.Header{"Origin": {own}, "Sec-Fetch-Site": {"same-origin"}})
	if status != http.StatusSwitchingProtocols {
		t.Fatalf("websocket from the site's own page: %d, want it upgraded", status)
	}
	send(t, c, sandbox.Request{Files: src("x")})
	if got := kinds(recvUntil(t, c, sandbox.KindExit)); got != "build stdout exit" {
		t.Errorf("run on the site's own websocket: %q", got)
	}
}

// A page of a site whose name was rebound to the server's address (DNS
// rebinding) is refused on every route a browser uses: the server
// answers only to localhost, IP addresses and the names it is given,
// 421 to others with words naming --host. The probes answer any Host.
func TestUnknownHostRefused(t *testing.T) {
	f := newFake()
	ts := newTestServer(t, Config{Hosts: []string{"racelab.example.org"}}, f)
	p := port(ts)
	evil := "evil.example" + p
	get := func(path, host string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300)) // enough for a message
		return resp.StatusCode, string(b)
	}

	for _, path := range []string{"/", "/lessons/one", "/lessons/x", "/static/app.js", "/static/chroma.css", "/api/reload", "/no/such/page"} {
		if status, body := get(path, evil); status != http.StatusMisdirectedRequest || !strings.Contains(body, "--host evil.example ") {
			t.Errorf("GET %s with Host %s: %d %q, want 421 naming --host evil.example", path, evil, status, body)
		}
	}
	resp, evs := postRunWith(t, ts.URL, reqJSON(t, sandbox.Request{Files: src("x")}), http.Header{"Host": {evil}, "Origin": {"http://" + evil}})
	if resp.StatusCode != http.StatusMisdirectedRequest || len(evs) != 1 || !strings.Contains(evs[0].Msg, "--host") {
		t.Errorf("POST /api/run with Host and Origin %s: %d %+v, want 421 naming --host", evil, resp.StatusCode, evs)
	}
	// The real upgrade, as a rebound page makes it: Host and Origin agree.
	if _, status, body := dialWS(t, ts, evil, http.Header{"Origin": {"http://" + evil}}); status != http.StatusMisdirectedRequest || !strings.Contains(body, "--host") {
		t.Errorf("websocket with Host and Origin %s: %d %q, want 421 naming --host", evil, status, body)
	}
	if n := f.count(); n != 0 {
		t.Errorf("%d runs from an unknown host ran", n)
	}

	for _, host := range []string{"localhost" + p, "LocalHost" + p, "127.0.0.1" + p, "[::1]" + p, "10.1.2.3" + p, "192.168.1.20",
		"[2001:db8::7]" + p, "racelab.example.org" + p, "RaceLab.Example.Org"} {
		if status, body := get("/lessons/one", host); status != 200 {
			t.Errorf("GET /lessons/one with Host %s: %d %q, want 200", host, status, body)
		}
	}
	for _, host := range []string{"example.org", "racelab.example.org.evil.example", "localhost.evil.example" + p,
		"127.0.0.1.nip.io" + p, "localhost." + p, "[::1].evil.example"} {
		if status, _ := get("/", host); status != http.StatusMisdirectedRequest {
			t.Errorf("GET / with Host %s: %d, want 421", host, status)
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if status, _ := get(path, evil); status != 200 {
			t.Errorf("GET %s with Host %s: %d, want 200 for the probes", path, evil, status)
		}
		if status, _ := get(path, "10.244.1.17:8080"); status != 200 {
			t.Errorf("GET %s with the pod's address as Host: %d, want 200", path, status)
		}
	}
	// And the site's own name runs code: an Ingress in front keeps the Host.
	c, status, _ := dialWS(t, ts, "racelab.example.org", http.Header{"Origin": {"https://racelab.example.org"}})
	if status != http.StatusSwitchingProtocols {
		t.Fatalf("websocket to racelab.example.org: %d, want it upgraded", status)
	}
	send(t, c, sandbox.Request{Files: src("x")})
	if got := kinds(recvUntil(t, c, sandbox.KindExit)); got != "build stdout exit" {
		t.Errorf("run on racelab.example.org: %q", got)
	}
}

// Config.Hosts takes host names only; a URL or a name with a port is
// refused with words that say what to give.
func TestHostsChecked(t *testing.T) {
	for _, h := range []string{"https://racelab.example.org", "racelab.example.org:443", "*.example.org", "", "racelab.example.org/", "a b"} {
		if _, err := New(Config{Hosts: []string{h}}, testLessons(t), newFake()); err == nil || !strings.Contains(err.Error(), "not a host name") {
			t.Errorf("New with Hosts %q: %v, want a refusal saying it is not a host name", h, err)
		}
	}
	for _, h := range []string{"racelab.example.org", "localhost", "racelab", "xn--rcelab-fua.example", "10.0.0.1"} {
		if err := CheckHostName(h); err != nil {
			t.Errorf("CheckHostName(%q) = %v, want nil", h, err)
		}
	}
}
