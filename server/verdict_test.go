package server

import (
	"strings"
	"testing"

	"github.com/racelab/racelab/sandbox"
)

// A run of a lesson cell gets a verdict just before its exit: whether it
// showed what the cell claims, in words; a run of no cell, of an unknown
// one, or in another mode than the cell's gets none.
func TestVerdict(t *testing.T) {
	ts := newTestServer(t, Config{}, newFake())
	hello := map[string]string{"main.go": "package main\n\nfunc main() {}\n"}
	tests := []struct {
		name   string
		req    sandbox.Request
		want   string // kinds of the events
		ok     bool
		missed string
	}{
		{"as the lesson says", sandbox.Request{Files: hello, Cell: "one/one-1"}, "build stdout verdict exit", true, ""},
		{"the id alone", sandbox.Request{Files: hello, Cell: "one-1"}, "build stdout verdict exit", true, ""},
		{"differs", sandbox.Request{Files: src("SCRIPT"), Cell: "one/one-1"}, "build stdout verdict exit", false, `The lesson says it prints “hello”, but it printed “<script>alert(1)</script>”`},
		{"another mode", sandbox.Request{Files: hello, Mode: sandbox.ModeRace, Cell: "one/one-1"}, "build stdout exit", false, ""},
		{"another lesson's name", sandbox.Request{Files: hello, Cell: "two/one-1"}, "build stdout exit", false, ""},
		{"no such cell", sandbox.Request{Files: hello, Cell: "one/one-9"}, "build stdout exit", false, ""},
		{"no cell", sandbox.Request{Files: hello}, "build stdout exit", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, evs := postRun(t, ts.URL, reqJSON(t, tt.req))
			if got := kinds(evs); got != tt.want {
				t.Fatalf("events %s, want %s", got, tt.want)
			}
			for _, e := range evs {
				if e.Kind != sandbox.KindVerdict {
					continue
				}
				v := e.Verdict
				if v.OK != tt.ok || len(v.Claims) != 1 || v.Claims[0] != "it prints “hello”" {
					t.Errorf("verdict %+v, want ok %v and the cell's claim in words", v, tt.ok)
				}
				if !tt.ok && (len(v.Missed) != 1 || !strings.Contains(v.Missed[0], tt.missed)) {
					t.Errorf("missed %q, want it to say %q", v.Missed, tt.missed)
				}
			}
		})
	}
}
