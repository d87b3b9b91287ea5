package web

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/racelab/racelab/sandbox"
)

// endsCase is one case of testdata/ends.json: whether event ends the run
// of a request repeated repeat times. The page's isLast
// (src/protocol.js, test/unit.test.mjs) is held to the same cases, so
// the server and the page agree on when a run is over.
type endsCase struct {
	Name   string          `json:"name"`
	Event  json.RawMessage `json:"event"`
	Repeat int             `json:"repeat"`
	Ends   bool            `json:"ends"`
}

func TestEndsTable(t *testing.T) {
	b, err := os.ReadFile("testdata/ends.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []endsCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatalf("testdata/ends.json: %v", err)
	}
	for _, c := range cases {
		var e sandbox.Event
		if err := json.Unmarshal(c.Event, &e); err != nil {
			t.Fatalf("%s: event: %v", c.Name, err)
		}
		if got := e.Ends(&sandbox.Request{Repeat: c.Repeat}); got != c.Ends {
			t.Errorf("%s: Event%s.Ends(repeat %d) = %v, want %v", c.Name, c.Event, c.Repeat, got, c.Ends)
		}
	}
}
