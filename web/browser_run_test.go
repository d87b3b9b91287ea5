package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/server"
)

// Running a cell (web/src/cell.js, protocol.js), on the real sandbox:
// Stop ends the run and frees its container, a run waiting for a slot
// says its place in line, and the GOMAXPROCS chosen is the run's.
func TestBrowserRun(t *testing.T) {
	bt := newBrowserTest(t, site{})
	for _, st := range []subtest{
		{"Stop", testRunStop},
		{"QueuePosition", testRunQueuePosition},
		{"GOMAXPROCS", testRunGOMAXPROCS},
	} {
		t.Run(st.name, func(t *testing.T) { st.run(t, bt) })
	}
}

const endlessLoop = "package main\n\nfunc main() {\n\tfor {\n\t}\n}\n"

func testRunStop(t *testing.T, bt *browserTest) {
	if left := waitNoLeftovers(bt.runner, browserWait); len(left) > 0 {
		t.Fatalf("before the run, the sandbox still holds %v", left)
	}
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellHello, endlessLoop)
	do(t, tab, "press run", chromedp.Click(button(cellHello, "run")))
	v := poll(t, tab, "the loop to run", browserWait, cellExpr(cellHello), func(v cellView) bool {
		return v.State == "running" || v.over()
	})
	if v.State != "running" || v.Stdout != "" {
		failShot(t, tab, "the loop is %s with stdout %q, want running and silent", v.State, v.Stdout)
	}
	if len(bt.runner.Leftovers()) == 0 {
		t.Fatal("no container while the loop runs: the check below would prove nothing")
	}

	pressed := time.Now()
	do(t, tab, "press stop", chromedp.Click(button(cellHello, "stop")))
	v = poll(t, tab, "the run to stop", stopWithin, cellExpr(cellHello), func(v cellView) bool {
		return v.State != "running"
	})
	stopped := time.Since(pressed)
	if v.State != "stopped" && !(v.over() && v.Reason == "canceled") {
		failShot(t, tab, "after Stop the cell is %s (reason %q), want stopped", v.State, v.Reason)
	}
	left := waitNoLeftovers(bt.runner, stopWithin)
	t.Logf("stop pressed → status %q after %v, sandbox empty after %v", v.State, stopped, time.Since(pressed))
	if len(left) > 0 {
		t.Errorf("%v after Stop, the sandbox still holds %v", stopWithin, left)
	}
}

// blocking holds a run slot until its socket closes (or the test
// sandbox's 5 s run timeout ends it).
const blocking = "package main\n\nimport (\n\t\"fmt\"\n\t\"time\"\n)\n\nfunc main() {\n\tfmt.Println(\"holding the only slot\")\n\ttime.Sleep(20 * time.Second)\n}\n"

// The place in line, live: with the one run slot taken by another
// learner's program (a websocket from here, with an address of its own),
// the learner's run waits and says its place, then runs when the slot is
// free. With the slot taken by the learner's own other run, it waits for
// that, and says so.
func testRunQueuePosition(t *testing.T, bt *browserTest) {
	qt := bt.serve(t, site{config: server.Config{MaxRuns: 1, TrustProxy: true}})
	for _, tc := range []struct {
		name, from, want string
	}{
		{"another learner's run", "192.0.2.7", "1st in line"},
		{"the learner's own run", "", "Waiting for your other run to finish"},
	} {
		t.Run(tc.name, func(t *testing.T) { testWaitBehind(t, bt, qt, tc.from, tc.want) })
	}
}

// testWaitBehind runs cellHello while a program started from address from
// ("" for the browser's own) holds the one slot of qt, and checks that the
// cell says want while it waits, and runs once the slot is free.
func testWaitBehind(t *testing.T, bt, qt *browserTest, from, want string) {
	tab := qt.openLesson(t)
	header := http.Header{}
	if from != "" {
		header.Set("X-Forwarded-For", from)
	}
	c := startRun(t, qt.url, header, sandbox.Request{Files: map[string]string{"main.go": blocking}})
	readUntil(t, c, sandbox.KindStdout)
	held := time.Now()
	do(t, tab, "press run", chromedp.Click(button(cellHello, "run")))
	// The wait ends on the words wanted, or on a run that did not wait.
	st := poll(t, tab, "the run to wait", browserWait, statusExpr(cellHello), func(s cellStatus) bool {
		switch s.State {
		case "idle", "connecting":
			return false
		case "waiting":
			return strings.Contains(s.Text, want)
		}
		return true
	})
	if st.State != "waiting" {
		failShot(t, tab, "with the only slot taken the status is %s %q, want waiting, %s", st.State, st.Text, want)
	}
	t.Logf("slot taken → %q after %v", st.Text, time.Since(held))
	if v := eval[cellView](t, tab, cellExpr(cellHello)); v.Stdout != "" {
		t.Errorf("while waiting the cell shows %q, want nothing yet", v.Stdout)
	}

	c.Close(websocket.StatusNormalClosure, "")
	v := poll(t, tab, "the run to end once the slot is free", browserWait, cellExpr(cellHello), cellView.over)
	if v.State != "done" || v.Stdout != "hello, racelab\n" {
		failShot(t, tab, "after the slot was freed the run ended %s with stdout %q, want done and hello, racelab", v.State, v.Stdout)
	}
	if left := waitNoLeftovers(bt.runner, browserWait); len(left) > 0 {
		t.Errorf("after both runs the sandbox still holds %v", left)
	}
}

// readUntil reads events from c up to one of kind k, failing on an exit or
// an error first, or when that takes longer than browserWait.
func readUntil(t *testing.T, c *websocket.Conn, k sandbox.Kind) []sandbox.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), browserWait)
	defer cancel()
	var evs []sandbox.Event
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for a %s event after %s: %v", k, kinds(evs), err)
		}
		var e sandbox.Event
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("event %q: %v", b, err)
		}
		evs = append(evs, e)
		switch e.Kind {
		case k:
			return evs
		case sandbox.KindExit, sandbox.KindError:
			t.Fatalf("the run ended (%+v) before a %s event", e, k)
		}
	}
}

// printProcs prints the GOMAXPROCS it runs with.
const printProcs = "package main\n\nimport (\n\t\"fmt\"\n\t\"runtime\"\n)\n\nfunc main() { fmt.Println(runtime.GOMAXPROCS(0)) }\n"

// procsView is the GOMAXPROCS selector of a cell.
type procsView struct {
	Label   string   `json:"label"`   // the text of its <label>
	Options []string `json:"options"` // the options' text
	Value   string   `json:"value"`
}

func procsExpr(id, value string) string {
	return `(() => {
	const f = document.querySelector('figure.cell[data-cell=' + ` + jsString(id) + ` + ']');
	const s = f.querySelector('.cell-toolbar select.cell-procs-select');
	if (!s) return {label: '', options: [], value: ''};
	const v = ` + jsString(value) + `;
	if (v !== '-') {
		s.value = v;
		s.dispatchEvent(new Event('change', {bubbles: true}));
	}
	return {label: s.labels.length ? s.labels[0].textContent : '',
		options: [...s.options].map((o) => o.textContent), value: s.value};
})()`
}

func testRunGOMAXPROCS(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellHello, printProcs)
	p := eval[procsView](t, tab, procsExpr(cellHello, "-"))
	if !strings.Contains(p.Label, "GOMAXPROCS") || !reflect.DeepEqual(p.Options, []string{"default", "1", "2", "4", "8"}) || p.Value != "" {
		failShot(t, tab, "the selector is %+v, want a GOMAXPROCS label, options default 1 2 4 8 and default chosen", p)
	}
	for _, n := range []string{"1", "4"} {
		if p := eval[procsView](t, tab, procsExpr(cellHello, n)); p.Value != n {
			failShot(t, tab, "choosing %s left the selector at %q", n, p.Value)
		}
		v := runCell(t, tab, cellHello, "run")
		if v.State != "done" || strings.TrimSpace(v.Stdout) != n {
			failShot(t, tab, "with GOMAXPROCS %s the run ended %s printing %q, want %q", n, v.State, v.Stdout, n+"\n")
		}
	}
	shot(t, tab, cellHello, "views-gomaxprocs.png")
}

// startRun starts a run over a websocket to the site at url, as the page
// does, sending header with the upgrade, and closes the socket when t ends.
func startRun(t *testing.T, url string, header http.Header, req sandbox.Request) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), browserWait)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/api/ws", &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
	return c
}

// kinds lists the kinds of events, for a message.
func kinds(evs []sandbox.Event) string {
	var s []string
	for _, e := range evs {
		s = append(s, string(e.Kind))
	}
	return strings.Join(s, " ")
}
