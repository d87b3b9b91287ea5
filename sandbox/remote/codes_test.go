package remote_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/remote"
)

// TestCodesRoundTrip: an error a runner returns before any event is
// answered with its row's status and reason, and the Client turns the
// answer back into an error that wraps the same value.
func TestCodesRoundTrip(t *testing.T) {
	for _, c := range remote.Codes() {
		t.Run(c.Err.Error(), func(t *testing.T) {
			err := fmt.Errorf("%w: detail", c.Err)
			srv := serveRunner(t, &fakeRunner{name: "a", refuse: err}, remote.HandlerOptions{})
			resp, herr := http.Post(srv.URL+remote.RunPath, "application/json", strings.NewReader(`{"files":{"main.go":"package main\n"}}`))
			if herr != nil {
				t.Fatal(herr)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var e sandbox.Event
			if json.Unmarshal(b, &e); resp.StatusCode != c.Status || e.Reason != c.Reason || e.Msg != err.Error() {
				t.Errorf("answer %d %q, want %d with reason %s and message %q", resp.StatusCode, b, c.Status, c.Reason, err)
			}
			_, got := collect(t.Context(), newClient(t, remote.ClientOptions{}, srv.URL), hello())
			if !errors.Is(got, c.Err) || !strings.Contains(got.Error(), "detail") {
				t.Errorf("client error %v, want it to wrap %v and keep the detail", got, c.Err)
			}
		})
	}
	if got := remote.CodeOf(errors.New("disk full")); got != remote.Internal() {
		t.Errorf("CodeOf(an unknown error) = %+v, want %+v", got, remote.Internal())
	}
}
