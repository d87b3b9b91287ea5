package runc

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/racelab/racelab/sandbox"
)

// viewsRacy races on x between a goroutine's read (line 14) and main's
// earlier write (line 17).
const viewsRacy = `package main

import (
	"fmt"
	"time"
)

var x int

func main() {
	done := make(chan bool)
	go func() {
		time.Sleep(10 * time.Millisecond)
		fmt.Println(x)
		close(done)
	}()
	x = 1
	<-done
}
`

// viewsTwoRaces holds two distinct races: on a (lines 10 and 18) and on
// b (lines 12 and 19).
const viewsTwoRaces = `package main

import (
	"fmt"
	"time"
)

var a, b int

func setA() { a = 1 }

func setB() { b = 2 }

func main() {
	go setA()
	go setB()
	time.Sleep(10 * time.Millisecond)
	fmt.Println(a)
	fmt.Println(b)
}
`

// viewsDeadlock blocks main on line 11 and a sender on line 4.
const viewsDeadlock = `package main

func send(ch chan int) {
	ch <- 1
}

func main() {
	ch := make(chan int)
	done := make(chan int)
	go send(ch)
	<-done
}
`

// viewsSelect blocks main forever on line 11 while a goroutine sleeps.
const viewsSelect = `package main

import "time"

func nap() {
	time.Sleep(time.Hour)
}

func main() {
	go nap()
	select {}
}
`

// views returns the events of kind k, checking that each comes before
// the exit event.
func views(t *testing.T, res *result, k sandbox.Kind) []sandbox.Event {
	t.Helper()
	var evs []sandbox.Event
	exited := false
	for _, e := range res.events {
		switch e.Kind {
		case sandbox.KindExit:
			exited = true
		case k:
			if exited {
				t.Errorf("a %s event follows the exit event%s", k, res.dump())
			}
			evs = append(evs, e)
		}
	}
	return evs
}

// accessLines describes a report's accesses as sorted "op main.go:line"
// of their innermost user frames.
func accessLines(r *sandbox.RaceReport) []string {
	var got []string
	for _, a := range r.Accesses {
		at := "none"
		for _, f := range a.Stack {
			if f.User {
				at = fmt.Sprintf("%s:%d", f.File, f.Line)
				break
			}
		}
		got = append(got, a.Op+" "+at)
	}
	slices.Sort(got)
	return got
}

func TestRaceEvents(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want [][]string // each report's accessLines
	}{
		{"one race", viewsRacy, [][]string{{"read main.go:14", "write main.go:17"}}},
		{"two races", viewsTwoRaces, [][]string{{"read main.go:18", "write main.go:10"}, {"read main.go:19", "write main.go:12"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := runSrc(t, sandbox.ModeRace, tt.src)
			outcome{reason: sandbox.ReasonExited, code: 66}.check(t, res)
			evs := views(t, res, sandbox.KindRace)
			if len(evs) != len(tt.want) {
				t.Fatalf("got %d race events, want %d%s", len(evs), len(tt.want), res.dump())
			}
			for i, e := range evs {
				if got := accessLines(e.Race); !slices.Equal(got, tt.want[i]) {
					t.Errorf("race %d accesses = %v, want %v\n%s", i, got, tt.want[i], e.Race.Raw)
				}
				if e.Run != 0 || !strings.Contains(res.text(sandbox.KindStderr), e.Race.Raw) {
					t.Errorf("race %d: run %d, raw report not in stderr:\n%s", i, e.Run, e.Race.Raw)
				}
			}
		})
	}
}

func TestGoroutinesEvents(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		reason sandbox.Reason
		cause  string
		state  string // goroutine 1's
		line   int    // of goroutine 1's Top in main.go
		other  string // the other goroutine: "[state] file:line" of its Top
	}{
		{"deadlock", viewsDeadlock, sandbox.ReasonExited, sandbox.CauseDeadlock, "chan receive", 11, "[chan send] main.go:4"},
		{"timeout", viewsSelect, sandbox.ReasonTimeout, sandbox.CauseTimeout, "select (no cases)", 11, "[sleep] main.go:6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := runSrc(t, sandbox.ModeRun, tt.src)
			outcome{reason: tt.reason, code: 2}.check(t, res)
			evs := views(t, res, sandbox.KindGoroutines)
			if len(evs) != 1 {
				t.Fatalf("got %d goroutines events, want 1%s", len(evs), res.dump())
			}
			if evs[0].Cause != tt.cause {
				t.Errorf("cause = %q, want %q", evs[0].Cause, tt.cause)
			}
			g := evs[0].Goroutines[0]
			if g.ID != 1 || g.State != tt.state || g.Top == nil || g.Top.File != "main.go" || g.Top.Line != tt.line {
				t.Errorf("goroutine = %+v (top %+v), want 1 [%s] at main.go:%d", g, g.Top, tt.state, tt.line)
			}
			if len(evs[0].Goroutines) != 2 {
				t.Fatalf("got %d goroutines, want main and the other one: %+v", len(evs[0].Goroutines), evs[0].Goroutines)
			}
			o := evs[0].Goroutines[1]
			if o.Top == nil || fmt.Sprintf("[%s] %s:%d", o.State, o.Top.File, o.Top.Line) != tt.other {
				t.Errorf("other goroutine = %+v (top %+v), want %s", o, o.Top, tt.other)
			}
		})
	}
}
