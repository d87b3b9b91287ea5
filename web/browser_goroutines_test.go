package web_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Where the goroutines were stuck (web/src/teach.js, marks.js): in a
// deadlock, in a run that timed out, and left running when main returned.
// The deadlock is driven twice: by contract-shaped events from a fake
// /api/ws, and by the real sandbox.
func TestBrowserGoroutines(t *testing.T) {
	bt := newBrowserTest(t, site{})
	for _, st := range []subtest{
		{"FakeDeadlock", testGoroutinesFakeDeadlock},
		{"Deadlock", testGoroutinesDeadlock},
		{"Timeout", testGoroutinesTimeout},
		{"LeakAtExit", testGoroutinesLeak},
	} {
		t.Run(st.name, func(t *testing.T) { st.run(t, bt) })
	}
}

// deadlocked sends on line 7 with nobody receiving, while main waits on
// line 10: both goroutines are stuck.
const deadlocked = `package main

func main() {
	ch := make(chan int)
	done := make(chan bool)
	go func() {
		ch <- 1
		done <- true
	}()
	<-done
}
`

// selectForever blocks main in select {} on line 11 while another
// goroutine keeps sleeping, so the runtime sees no deadlock and the run
// times out.
const selectForever = `package main

import "time"

func main() {
	go func() {
		for {
			time.Sleep(time.Millisecond)
		}
	}()
	select {}
}
`

// leakySend starts a goroutine on line 10 that sends on a channel nobody
// receives from, and returns. The sleep lets the goroutine reach its send,
// so that it is seen blocked in it rather than not yet started.
const leakySend = `package main

import (
	"fmt"
	"time"
)

func main() {
	ch := make(chan int)
	go func() { ch <- 1 }()
	time.Sleep(50 * time.Millisecond)
	fmt.Println("main returns")
}
`

func testGoroutinesFakeDeadlock(t *testing.T, bt *browserTest) {
	bt = bt.serve(t, fakeViewsSite())
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellHello, deadlocked)
	runCell(t, tab, cellHello, "run")
	checkStuck(t, tab, "views-stuck-fake.png")
}

func testGoroutinesDeadlock(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellHello, deadlocked)
	if v := runCell(t, tab, cellHello, "run"); v.Code != "2" {
		failShot(t, tab, "deadlocked run ended %s with code %q, want 2", v.State, v.Code)
	}
	checkStuck(t, tab, "views-stuck.png")
}

// checkStuck checks the view of deadlocked: goroutine 1 waits on line 10,
// another goroutine sends on line 7.
func checkStuck(t *testing.T, tab context.Context, name string) {
	t.Helper()
	m := eval[marksView](t, tab, marksExpr(cellHello))
	if got := m.Lines["stuck"]; !reflect.DeepEqual(got, []int{7, 10}) {
		failShot(t, tab, "stuck lines %v, want [7 10]", got)
	}
	if m.Stuck != "Where each goroutine was stuck (deadlock)" {
		t.Errorf("stuck heading %q", m.Stuck)
	}
	joined := strings.Join(m.Items, "\n")
	if len(m.Items) != 2 || !strings.Contains(joined, "goroutine 1: chan receive") || !strings.Contains(joined, "chan send") ||
		!strings.Contains(joined, "main.go:10") || !strings.Contains(joined, "main.go:7") {
		failShot(t, tab, "stuck list %q, want goroutine 1 in chan receive at main.go:10 and a chan send at main.go:7", m.Items)
	}
	if !slices.ContainsFunc(m.Gutter, func(g string) bool { return g == "S goroutine 1: chan receive" }) {
		t.Errorf("gutter markers %q, want S goroutine 1: chan receive", m.Gutter)
	}
	if got := clickLine(t, tab, cellHello, ".stuck-item:first-child .view-jump"); got != 10 {
		t.Errorf("clicking goroutine 1 shows line %d, want 10", got)
	}
	shot(t, tab, cellHello, name)
}

func testGoroutinesTimeout(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellHello, selectForever)
	v := runCell(t, tab, cellHello, "run")
	if v.State != "failed" {
		failShot(t, tab, "the endless select ended %s (reason %q), want failed", v.State, v.Reason)
	}
	m := poll(t, tab, "the stuck list", browserWait, marksExpr(cellHello), func(m marksView) bool { return m.Stuck != "" })
	if !strings.Contains(m.Stuck, "timeout") {
		failShot(t, tab, "stuck heading %q, want one naming the timeout", m.Stuck)
	}
	if !slices.ContainsFunc(m.Items, func(s string) bool {
		return strings.Contains(s, "select (no cases)") && strings.Contains(s, "main.go:11")
	}) {
		failShot(t, tab, "stuck list %q, want a goroutine in select (no cases) at main.go:11", m.Items)
	}
	if !slices.Contains(m.Lines["stuck"], 11) {
		failShot(t, tab, "stuck lines %v, want line 11 (select {}) among them", m.Lines["stuck"])
	}
	t.Logf("%s (reason %s): %q", m.Stuck, v.Reason, m.Items)
	shot(t, tab, cellHello, "views-timeout.png")
}

func testGoroutinesLeak(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellHello, leakySend)
	v := runCell(t, tab, cellHello, "run")
	if !strings.Contains(v.Stdout, "main returns") {
		failShot(t, tab, "the run ended %s printing %q, want main returns", v.State, v.Stdout)
	}
	m := poll(t, tab, "the list of goroutines left running", browserWait, marksExpr(cellHello), func(m marksView) bool { return m.Stuck != "" })
	if m.Stuck != "Goroutines still running when main returned" {
		failShot(t, tab, "heading %q, want Goroutines still running when main returned", m.Stuck)
	}
	if !slices.ContainsFunc(m.Items, func(s string) bool { return strings.Contains(s, "chan send") && strings.Contains(s, "main.go:10") }) {
		failShot(t, tab, "list %q, want a goroutine in chan send at main.go:10", m.Items)
	}
	if !reflect.DeepEqual(m.Lines["stuck"], []int{10}) {
		failShot(t, tab, "marked lines %v, want [10]", m.Lines["stuck"])
	}
	t.Logf("%s: %q", m.Stuck, m.Items)
	shot(t, tab, cellHello, "views-leak.png")
}
