package tracing

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/internal/gotool"
)

const closer = `package main

import "time"

func main() {
	ch := make(chan int)
	done := make(chan bool)
	go func() {
		<-ch
		done <- true
	}()
	time.Sleep(20 * time.Millisecond)
	close(ch)
	<-done
}
`

const worker = `package main

import "fmt"

func worker(ch chan string) {
	ch <- "done"
}

func main() {
	ch := make(chan string)
	go worker(ch)
	fmt.Println(<-ch)
}
`

// TestLanes: only the learner's goroutines have lanes (main, and the one
// it starts; not the tracer's, nor racelab's wrapper's), each named and
// placed, with spans that cover its life without gaps or overlaps.
func TestLanes(t *testing.T) {
	p := build(t, worker, lessonTracing)
	tl := p.timeline(t)
	if len(tl.Goroutines) != 2 {
		t.Fatalf("%d lanes, want 2 (main, worker): %+v", len(tl.Goroutines), tl.Goroutines)
	}
	m, w := tl.Goroutines[0], tl.Goroutines[1]
	if m.ID != 1 || m.Name != "main" || m.Created != nil {
		t.Errorf("first lane = %+v, want main", m)
	}
	if w.Name != "worker" || w.Created == nil || w.Created.Line != 11 || w.Created.File != "main.go" || w.Parent != 1 {
		t.Errorf("second lane = %+v, want worker created at main.go:11 by 1", w)
	}
	for _, g := range tl.Goroutines {
		for i, s := range g.Spans {
			if s.EndNs <= s.StartNs || s.EndNs > tl.DurationNs {
				t.Errorf("goroutine %d span %d = %+v, outside (0, %d]", g.ID, i, s, tl.DurationNs)
			}
			if i > 0 && s.StartNs != g.Spans[i-1].EndNs {
				t.Errorf("goroutine %d span %d starts at %d, the one before ends at %d", g.ID, i, s.StartNs, g.Spans[i-1].EndNs)
			}
		}
	}
	if got := edgeStrings(tl); !strings.Contains(got, "send@6->receive@12") && !strings.Contains(got, "receive@12->send@6") {
		t.Errorf("edges = %s, want the hand-off between lines 6 and 12", got)
	}
}

// TestFold: beyond sandbox.MaxTimelineLanes goroutines, the rest are one
// aggregate lane per creation site.
func TestFold(t *testing.T) {
	p := build(t, `package main

import "sync"

func main() {
	var wg sync.WaitGroup
	ch := make(chan int)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ch
		}()
	}
	for i := 0; i < 10; i++ {
		go func() { ch <- 1 }()
	}
	for i := 0; i < 30; i++ {
		ch <- i
	}
	wg.Wait()
}
`, lessonTracing)
	tl := p.timeline(t)
	singles, folded := 0, 0
	ids := map[int64]bool{}
	for _, g := range tl.Goroutines {
		ids[g.ID] = true
		if g.ID > 0 {
			singles++
			continue
		}
		folded += g.Count
		if len(g.Spans) != 0 || g.States["blocked"]+g.States["running"]+g.States["runnable"] <= 0 || g.Created == nil {
			t.Errorf("aggregate lane %+v: want no spans, summed states and a creation site", g)
		}
	}
	if singles != sandbox.MaxTimelineLanes || singles+folded != 51 {
		t.Errorf("%d single lanes and %d folded goroutines, want %d and %d", singles, folded, sandbox.MaxTimelineLanes, 51-sandbox.MaxTimelineLanes)
	}
	for _, e := range tl.Edges {
		if !ids[e.From] || !ids[e.To] {
			t.Errorf("edge %+v names a goroutine without a lane", e)
		}
	}
}

// TestCuts: each limit cuts the timeline, and says which.
func TestCuts(t *testing.T) {
	const pingPong = `package main

import "time"

func main() {
	ch := make(chan int)
	go func() {
		for v := range ch {
			_ = v
		}
	}()
	for i := 0; ; i++ {
		ch <- i
		if i%1000 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}
`
	p := build(t, pingPong, gotool.Tracing{Bytes: sandbox.DefaultTraceBytes, Time: 300 * time.Millisecond})
	data := p.run(t, "GOMAXPROCS=2") // it runs until the tracer stops; then it is killed below
	tests := []struct {
		name string
		o    func(*Options)
		want string
	}{
		{"events", func(o *Options) { o.MaxEvents = 500 }, "trace cut after 500 events (the limit --trace-events)"},
		{"spans", func(o *Options) { o.MaxSpans = 200 }, "spans and edges (the limit --trace-spans)"},
	}
	t.Run("time", func(t *testing.T) {
		p := build(t, strings.Replace(pingPong, "i%1000 == 0", "true", 1), gotool.Tracing{Bytes: sandbox.DefaultTraceBytes, Time: 300 * time.Millisecond})
		tl, err := Parse(bytes.NewReader(p.run(t)), p.opts())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(tl.Cut, "trace cut after 300ms (the limit --trace-time)") || tl.DurationNs < 300e6 || tl.DurationNs > 2e9 {
			t.Errorf("Cut = %q after %d ns, want a cut by --trace-time after about 300 ms", tl.Cut, tl.DurationNs)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := p.opts()
			tt.o(&o)
			tl, err := Parse(bytes.NewReader(data), o)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(tl.Cut, tt.want) {
				t.Errorf("Cut = %q, want it to contain %q", tl.Cut, tt.want)
			}
			if n := spans(tl); n > o.MaxSpans {
				t.Errorf("%d spans and edges, over the limit %d", n, o.MaxSpans)
			}
		})
	}
}

func spans(tl *sandbox.Timeline) int {
	n := len(tl.Edges)
	for _, g := range tl.Goroutines {
		n += len(g.Spans)
	}
	return n
}

// TestBytesCut: the wrapper stops the tracer at half of its bytes, and
// never writes more than all of them, also for a program that never
// yields, on several Ps (on one, it may reach the limit first, which the
// driver's timeline words): once half is written, the tracer's writer
// waits for the goroutine that stops it. With the default limit:
// what a busy program writes while the tracer stops was measured at
// 50-700 KB here, more than half of a 1 MiB limit at times (a trace cut
// at its limit has lost its tables and cannot be read).
func TestBytesCut(t *testing.T) {
	p := build(t, `package main

func main() {
	ch := make(chan int)
	go func() {
		for range ch {
		}
	}()
	for i := 0; ; i++ {
		ch <- i
	}
}
`, gotool.Tracing{Bytes: sandbox.DefaultTraceBytes, Time: 5 * time.Second})
	for _, procs := range []string{"1", "2", "4"} {
		for range 2 {
			data := p.run(t, "GOMAXPROCS="+procs)
			if len(data) > sandbox.DefaultTraceBytes {
				t.Errorf("GOMAXPROCS=%s: the trace is %d bytes, over its limit", procs, len(data))
			}
			o := p.opts()
			o.MaxSpans, o.MaxEvents = 1<<30, 1<<30
			tl, err := Parse(bytes.NewReader(data), o)
			if err != nil && procs == "1" && len(data) == sandbox.DefaultTraceBytes {
				// On one P the tracer's own goroutine, back from a write,
				// can wait behind the busy pair's hand-offs until the
				// limit is reached; the driver says so in words.
				t.Logf("GOMAXPROCS=1: the trace reached its limit before the tracer stopped: %v", err)
				continue
			}
			if err != nil {
				t.Fatalf("GOMAXPROCS=%s: %v", procs, err)
			}
			if !strings.Contains(tl.Cut, "--trace-bytes") || len(tl.Edges) == 0 {
				t.Errorf("GOMAXPROCS=%s: Cut = %q with %d edges, want a cut by --trace-bytes after some edges", procs, tl.Cut, len(tl.Edges))
			}
		}
	}
}

// TestBad: what is not a trace is an error; a trace cut short keeps what
// came before, or is an error when nothing of it can be read.
func TestBad(t *testing.T) {
	p := build(t, worker, lessonTracing)
	data := p.run(t)
	for _, in := range [][]byte{nil, []byte("not a trace"), []byte("go 1.26 trace\x00\x00\x00"), data[:len(data)/2]} {
		tl, err := Parse(bytes.NewReader(in), p.opts())
		if err == nil && tl.Cut == "" {
			t.Errorf("Parse(%q) = a whole timeline %+v, want an error or a cut", in[:min(len(in), 20)], tl)
		}
	}
}

// TestLongName: a function's name is cut, so that a timeline's size does
// not grow with the learner's identifiers.
func TestLongName(t *testing.T) {
	name := "w" + strings.Repeat("x", 5000)
	p := build(t, strings.ReplaceAll(worker, "worker", name), lessonTracing)
	tl := p.timeline(t)
	if len(tl.Goroutines) != 2 || len(tl.Goroutines[1].Name) > maxFuncName+len("…") || !strings.Contains(tl.Goroutines[1].Name, "xxxx") {
		t.Errorf("lanes %d, second named %q; want 2, x… of at most %d bytes", len(tl.Goroutines), tl.Goroutines[1].Name, maxFuncName+len("…"))
	}
}
