package remote_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/racelab/racelab/sandbox/remote"
)

// TestHandlerRefusesBadBodies: the runner's own limits and errors.
func TestHandlerRefusesBadBodies(t *testing.T) {
	srv := serveRunner(t, &fakeRunner{name: "a"}, remote.HandlerOptions{MaxBodyBytes: 1000})
	for _, tt := range []struct {
		name, body string
		status     int
		msg        string
	}{
		{"too large", `{"files":{"main.go":"` + strings.Repeat("x", 2000) + `"}}`, 413, "at most 1000 bytes"},
		{"not json", `{"files":`, 400, "not valid JSON"},
		{"duplicate file", `{"files":{"a.go":"x","a.go":"y"}}`, 400, "a.go"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+remote.RunPath, "application/json", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.msg) || !strings.Contains(string(b), `"kind":"error"`) {
				t.Errorf("answer %d %q, want %d with an error event saying %q", resp.StatusCode, b, tt.status, tt.msg)
			}
		})
	}
	resp, err := http.Get(srv.URL + remote.RunPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /run = %d, want 405", resp.StatusCode)
	}
}

// TestHandlerStopRoutes: DELETE /run/{id} of no run is 404; a run id in
// use is refused.
func TestHandlerStopRoutes(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	started := make(chan string, 1)
	srv := serveRunner(t, &fakeRunner{name: "a", hold: hold, started: started}, remote.HandlerOptions{})
	del, _ := http.NewRequest(http.MethodDelete, srv.URL+remote.RunPath+"/nosuchrun", nil)
	resp, err := http.DefaultClient.Do(del)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("DELETE of no run = %d, want 404", resp.StatusCode)
	}
	post := func() *http.Response {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+remote.RunPath, strings.NewReader(`{"files":{"main.go":"package main\n"}}`))
		req.Header.Set(remote.RunIDHeader, "same")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	first := post()
	defer first.Body.Close()
	<-started
	second := post()
	b, _ := io.ReadAll(second.Body)
	second.Body.Close()
	if second.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "already in use") {
		t.Errorf("a second run with the same id = %d %q, want 400", second.StatusCode, b)
	}
	long, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+remote.RunPath, strings.NewReader(`{"files":{"main.go":"package main\n"}}`))
	long.Header.Set(remote.RunIDHeader, strings.Repeat("x", 65))
	resp, err = http.DefaultClient.Do(long)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a run id of 65 bytes = %d, want 400 (at most 64)", resp.StatusCode)
	}
}
