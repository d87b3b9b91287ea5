package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/racelab/racelab/sandbox"
)

// fakeRun answers /api/ws in place of the server: for each request, the
// events its script gives (maps, sent as JSON), with a time.Duration
// among them for a pause. It keeps every request it was sent, so that a
// test can check what the page asked for. Its sandbox is never asked to
// run anything.
type fakeRun struct {
	script func(sandbox.Request) []any
	mu     sync.Mutex
	reqs   []sandbox.Request
	raws   []json.RawMessage // the requests as sent, for fields sandbox.Request does not have
}

func (f *fakeRun) site() site {
	return site{runner: sandbox.RunnerFunc(refuseRun), ws: f.serve}
}

// requests returns the requests the page sent, in order.
func (f *fakeRun) requests() []sandbox.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sandbox.Request(nil), f.reqs...)
}

// rawRequests returns the requests the page sent as JSON, in order.
func (f *fakeRun) rawRequests() []json.RawMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]json.RawMessage(nil), f.raws...)
}

// fakeViewsSite serves the built-in lessons with the fake events of the
// views' contract for racyTwo and deadlocked.
func fakeViewsSite() site {
	return (&fakeRun{script: func(req sandbox.Request) []any { return events(fakeViewEvents(req.Files["main.go"])) }}).site()
}

func refuseRun(context.Context, *sandbox.Request, func(sandbox.Event)) error {
	return errors.New("the fake site runs nothing: its /api/ws answers every request")
}

func events(evs []map[string]any) []any {
	out := make([]any, len(evs))
	for i, e := range evs {
		out[i] = e
	}
	return out
}

func (f *fakeRun) serve(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := r.Context()
	_, b, err := c.Read(ctx)
	if err != nil {
		return
	}
	var req sandbox.Request
	if err := json.Unmarshal(b, &req); err != nil {
		return
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.raws = append(f.raws, b)
	f.mu.Unlock()
	for _, step := range f.script(req) {
		if d, ok := step.(time.Duration); ok {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
			continue
		}
		b, _ := json.Marshal(step)
		if err := c.Write(ctx, websocket.MessageText, b); err != nil {
			return
		}
	}
	// The page closes the socket after the last event.
	for {
		if _, _, err := c.Read(ctx); err != nil {
			return
		}
	}
}

func frame(fn string, line int) map[string]any {
	return map[string]any{"func": fn, "file": "main.go", "line": line, "user": true}
}

var runtimeFrame = map[string]any{"func": "runtime.gopark", "file": "/usr/local/go/src/runtime/proc.go", "line": 435}

// fakeRace is a race report of racyTwo: goroutine 7 writes on line w, the
// main goroutine had read on line 13.
func fakeRace(w int, v string) map[string]any {
	raw := fmt.Sprintf("==================\nWARNING: DATA RACE\nWrite at 0x00c000012088 by goroutine 7:\n  main.main.func1()\n      /tmp/x/main.go:%d +0x44\n\nPrevious read at 0x00c000012088 by main goroutine:\n  main.main()\n      /tmp/x/main.go:13 +0x12\n<b>%s is not bold</b>\n==================\n", w, v)
	return map[string]any{"kind": "race", "race": map[string]any{
		"accesses": []any{
			map[string]any{"op": "write", "addr": "0x00c000012088", "goroutine": 7, "stack": []any{frame("main.main.func1", w)}},
			map[string]any{"op": "read", "addr": "0x00c000012088", "goroutine": 1, "main": true, "stack": []any{frame("main.main", 13)}},
		},
		"goroutines": []any{map[string]any{"goroutine": 7, "state": "running", "created": []any{frame("main.main", 8)}}},
		"raw":        raw,
	}}
}

func fakeViewEvents(src string) []map[string]any {
	build := map[string]any{"kind": "build", "ms": 1}
	switch src {
	case racyTwo:
		return []map[string]any{build,
			{"kind": "stdout", "data": "0 0\n"},
			{"kind": "stderr", "data": "WARNING: DATA RACE (twice)\n"},
			fakeRace(9, "x"), fakeRace(10, "y"),
			{"kind": "exit", "code": 66, "reason": "exited", "msg": "The program exited with status 66."},
		}
	case deadlocked:
		return []map[string]any{build,
			{"kind": "stderr", "data": "fatal error: all goroutines are asleep - deadlock!\n"},
			{"kind": "goroutines", "cause": "deadlock", "goroutines": []any{
				map[string]any{"id": 1, "state": "chan receive", "stack": []any{runtimeFrame, frame("main.main", 10)}, "top": frame("main.main", 10)},
				map[string]any{"id": 6, "state": "chan send", "wait": "1 minutes", "stack": []any{runtimeFrame, frame("main.main.func1", 7)}, "top": frame("main.main.func1", 7)},
			}},
			{"kind": "exit", "code": 2, "reason": "exited", "msg": "The program exited with status 2."},
		}
	}
	return []map[string]any{build, {"kind": "stdout", "data": "hello\n"}, {"kind": "exit", "code": 0, "reason": "exited"}}
}
