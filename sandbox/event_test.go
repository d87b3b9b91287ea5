package sandbox_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/racelab/racelab/sandbox"
)

// eventJSON pairs events with the exact JSON a client receives; clients
// in other languages are written against these strings.
var eventJSON = []struct {
	name string
	ev   sandbox.Event
	want string
}{
	{
		name: "exit code 0",
		ev:   sandbox.Event{Kind: sandbox.KindExit, Reason: sandbox.ReasonExited, Ms: 37},
		want: `{"kind":"exit","ms":37,"code":0,"reason":"exited"}`,
	},
	{
		name: "exit of a repeated run",
		ev: sandbox.Event{Kind: sandbox.KindExit, Run: 3, Code: 66, Reason: sandbox.ReasonExited,
			Msg: "race", Ms: 120, CPUMs: 95, PeakBytes: 1 << 20},
		want: `{"kind":"exit","run":3,"msg":"race","ms":120,"code":66,"reason":"exited","cpu_ms":95,"peak_bytes":1048576}`,
	},
	{
		name: "stdout",
		ev:   sandbox.Event{Kind: sandbox.KindStdout, Data: "hi\n", TMs: 4},
		want: `{"kind":"stdout","data":"hi\n","t_ms":4}`,
	},
	{
		name: "stderr at t 0",
		ev:   sandbox.Event{Kind: sandbox.KindStderr, Run: 2, Data: "panic: <nil>"},
		want: `{"kind":"stderr","run":2,"data":"panic: \u003cnil\u003e"}`,
	},
	{
		name: "queued",
		ev:   sandbox.Event{Kind: sandbox.KindQueued, Position: 2},
		want: `{"kind":"queued","position":2}`,
	},
	{
		name: "compile error without column",
		ev:   sandbox.Event{Kind: sandbox.KindCompileError, File: "main.go", Line: 9, Msg: "msg"},
		want: `{"kind":"compile_error","file":"main.go","line":9,"msg":"msg"}`,
	},
	{
		name: "asm",
		ev: sandbox.Event{Kind: sandbox.KindAsm, Lines: []sandbox.AsmLine{
			{Func: "main.main", Offset: 0, File: "main.go", Line: 5, Text: "TEXT main.main(SB), ABIInternal, $24-0"},
			{Func: "main.main", Offset: 9, File: "main.go", Line: 5, Text: "PCDATA $0, $-2", Noise: true},
			{Func: "main.init", Text: "RET"},
		}},
		want: `{"kind":"asm","lines":[` +
			`{"func":"main.main","offset":0,"file":"main.go","line":5,"text":"TEXT main.main(SB), ABIInternal, $24-0"},` +
			`{"func":"main.main","offset":9,"file":"main.go","line":5,"text":"PCDATA $0, $-2","noise":true},` +
			`{"func":"main.init","offset":0,"text":"RET"}]}`,
	},
	{
		name: "fmt",
		ev:   sandbox.Event{Kind: sandbox.KindFmt, Files: map[string]string{"main.go": "package main\n", "a.go": "package main\n"}},
		want: `{"kind":"fmt","files":{"a.go":"package main\n","main.go":"package main\n"}}`,
	},
	{
		name: "summary",
		ev: sandbox.Event{Kind: sandbox.KindSummary, Summary: &sandbox.Summary{
			Runs:    3,
			Outputs: []sandbox.Outcome{{Output: "2", Count: 2}, {Output: "1", Count: 1}},
			Reasons: map[sandbox.Reason]int{sandbox.ReasonExited: 3},
			Codes:   map[string]int{"0": 2, "66": 1},
			Races:   1,
		}},
		want: `{"kind":"summary","summary":{"runs":3,"outputs":[{"output":"2","count":2},{"output":"1","count":1}],` +
			`"reasons":{"exited":3},"codes":{"0":2,"66":1},"races":1}}`,
	},
	{
		name: "race",
		ev: sandbox.Event{Kind: sandbox.KindRace, Run: 2, Race: &sandbox.RaceReport{
			Accesses: []sandbox.RaceAccess{
				{Op: "read", Addr: "0x00c000012345", Goroutine: 8, Stack: []sandbox.Frame{
					{Func: "runtime.mapaccess1", File: "/usr/local/go/src/runtime/map.go", Line: 9},
					{Func: "main.main.func1", File: "main.go", Line: 8, User: true}}},
				{Op: "write", Addr: "0x00c000012345", Goroutine: 1, Main: true, Stack: []sandbox.Frame{
					{Func: "main.main", File: "main.go", Line: 11, User: true}}},
			},
			Goroutines: []sandbox.GoroutineOrigin{{Goroutine: 8, State: "running", Created: []sandbox.Frame{
				{Func: "main.main", File: "main.go", Line: 7, User: true}}}},
			Raw: "==================\n...\n==================",
		}},
		want: `{"kind":"race","run":2,"race":{"accesses":[` +
			`{"op":"read","addr":"0x00c000012345","goroutine":8,"stack":[` +
			`{"func":"runtime.mapaccess1","file":"/usr/local/go/src/runtime/map.go","line":9},` +
			`{"func":"main.main.func1","file":"main.go","line":8,"user":true}]},` +
			`{"op":"write","addr":"0x00c000012345","goroutine":1,"main":true,"stack":[` +
			`{"func":"main.main","file":"main.go","line":11,"user":true}]}],` +
			`"goroutines":[{"goroutine":8,"state":"running","created":[{"func":"main.main","file":"main.go","line":7,"user":true}]}],` +
			`"raw":"==================\n...\n=================="}}`,
	},
	{
		name: "goroutines",
		ev: sandbox.Event{Kind: sandbox.KindGoroutines, Cause: sandbox.CauseTimeout, Goroutines: []sandbox.Goroutine{
			{ID: 1, State: "select (no cases)", Stack: []sandbox.Frame{
				{Func: "runtime.block", File: "/usr/local/go/src/runtime/select.go", Line: 104},
				{Func: "main.main", File: "main.go", Line: 11, User: true}},
				Top: &sandbox.Frame{Func: "main.main", File: "main.go", Line: 11, User: true}},
			{ID: 5, State: "chan send", Wait: "2 minutes", Stack: []sandbox.Frame{}},
		}},
		want: `{"kind":"goroutines","cause":"timeout","goroutines":[` +
			`{"id":1,"state":"select (no cases)","stack":[` +
			`{"func":"runtime.block","file":"/usr/local/go/src/runtime/select.go","line":104},` +
			`{"func":"main.main","file":"main.go","line":11,"user":true}],` +
			`"top":{"func":"main.main","file":"main.go","line":11,"user":true}},` +
			`{"id":5,"state":"chan send","wait":"2 minutes","stack":[]}]}`,
	},
	{
		name: "error",
		ev:   sandbox.Event{Kind: sandbox.KindError, Msg: "bad request: no files"},
		want: `{"kind":"error","msg":"bad request: no files"}`,
	},
}

func TestEventMarshal(t *testing.T) {
	for _, tt := range eventJSON {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.ev)
			if err != nil {
				t.Fatalf("Marshal(%+v): %v", tt.ev, err)
			}
			if string(got) != tt.want {
				t.Errorf("Marshal(%+v) =\n%s\nwant\n%s", tt.ev, got, tt.want)
			}
		})
	}
}

func TestEventRoundTrip(t *testing.T) {
	for _, tt := range eventJSON {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.ev)
			if err != nil {
				t.Fatalf("Marshal(%+v): %v", tt.ev, err)
			}
			var got sandbox.Event
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("Unmarshal(%s): %v", b, err)
			}
			if !reflect.DeepEqual(got, tt.ev) {
				t.Errorf("Unmarshal(Marshal(ev)) = %+v, want %+v", got, tt.ev)
			}
		})
	}
}

// TestEventCode checks the one field whose zero value is sent: an exit
// event always says its code, and no other event has one.
func TestEventCode(t *testing.T) {
	tests := []struct {
		ev      sandbox.Event
		hasCode bool
	}{
		{sandbox.Event{Kind: sandbox.KindExit}, true},
		{sandbox.Event{Kind: sandbox.KindExit, Code: 2}, true},
		{sandbox.Event{Kind: sandbox.KindStdout, Data: "x"}, false},
		{sandbox.Event{Kind: sandbox.KindBuild, Ms: 10}, false},
		{sandbox.Event{Kind: sandbox.KindCompileError, Line: 1}, false},
		{sandbox.Event{Kind: sandbox.KindSummary, Summary: &sandbox.Summary{}}, false},
	}
	for _, tt := range tests {
		for _, v := range []any{tt.ev, &tt.ev} { // value and pointer marshal alike
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("Marshal(%+v): %v", tt.ev, err)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("Unmarshal(%s): %v", b, err)
			}
			code, got := m["code"]
			if got != tt.hasCode {
				t.Errorf("Marshal(%+v) = %s: has code %v, want %v", tt.ev, b, got, tt.hasCode)
			}
			if got && strings.TrimSpace(string(code)) != jsonInt(tt.ev.Code) {
				t.Errorf("Marshal(%+v) = %s: code %s, want %d", tt.ev, b, code, tt.ev.Code)
			}
		}
	}
}

func jsonInt(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
