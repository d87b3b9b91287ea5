package server

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/racelab/racelab/lessons"
	"github.com/racelab/racelab/sandbox"
)

// BenchmarkLessonPage measures serving a lesson page: from memory, with
// the security headers.
func BenchmarkLessonPage(b *testing.B) {
	lib, err := lessons.Load(lessons.Builtin())
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(Config{}, lib, newFake())
	if err != nil {
		b.Fatal(err)
	}
	path := "/lessons/" + lib.Lessons()[0].Slug
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest("GET", "http://localhost"+path, nil))
		if w.Code != 200 {
			b.Fatalf("GET %s = %d", path, w.Code)
		}
	}
}

// stampProgram prints the wall clock (Unix nanoseconds) every 20 ms, n
// times: the client subtracts it from its own clock on arrival, which is
// the latency the learner sees from print to screen (the same machine,
// so the same clock).
func stampProgram(n int) string {
	return `package main

import (
	"fmt"
	"time"
)

func main() {
	for i := 0; i < ` + strconv.Itoa(n) + `; i++ {
		fmt.Println(time.Now().UnixNano())
		time.Sleep(20 * time.Millisecond)
	}
}
`
}

// stampRunner is a fake sandbox whose "program" prints its clock like
// stampProgram, to measure the server's own part of the latency.
type stampRunner struct{ n int }

func (s stampRunner) Run(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
	for i := 0; i < s.n && ctx.Err() == nil; i++ {
		emit(sandbox.Event{Kind: sandbox.KindStdout, Data: strconv.FormatInt(time.Now().UnixNano(), 10) + "\n"})
		time.Sleep(time.Millisecond)
	}
	emit(sandbox.Event{Kind: sandbox.KindExit, Reason: sandbox.ReasonExited})
	return nil
}

// latencies runs req over a websocket and returns, for every output line
// holding a clock reading, how long it took to arrive.
func latencies(b *testing.B, url string, req sandbox.Request) []time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/api/ws", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.CloseNow()
	msg, _ := json.Marshal(req)
	if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	for {
		_, p, err := c.Read(ctx)
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now().UnixNano()
		var e sandbox.Event
		if err := json.Unmarshal(p, &e); err != nil {
			b.Fatal(err)
		}
		switch e.Kind {
		case sandbox.KindExit:
			return lat
		case sandbox.KindError:
			b.Fatalf("error event: %s", e.Msg)
		case sandbox.KindStdout:
			for _, line := range strings.Fields(e.Data) {
				if t, err := strconv.ParseInt(line, 10, 64); err == nil {
					lat = append(lat, time.Duration(now-t))
				}
			}
		}
	}
}

func report(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		b.Fatal("no output line arrived")
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
}

// BenchmarkStreamLatencyServer is the server's share of the latency of an
// output chunk: event emitted → websocket client has it.
func BenchmarkStreamLatencyServer(b *testing.B) {
	s, err := New(Config{RunsPerMinute: 1e6, Burst: 1e6}, testLessons(b), stampRunner{n: 100})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	var all []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		all = append(all, latencies(b, ts.URL, sandbox.Request{Files: src("x")})...)
	}
	report(b, all)
}

// BenchmarkStreamLatencyRunc is the whole latency a learner sees: a
// program in a real container prints → the browser's websocket has it
// (container pipe, gathering, event, websocket).
func BenchmarkStreamLatencyRunc(b *testing.B) {
	r := realSandbox(b)
	s, err := New(Config{RunsPerMinute: 1e6, Burst: 1e6}, testLessons(b), r)
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	var all []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		all = append(all, latencies(b, ts.URL, sandbox.Request{Files: map[string]string{"main.go": stampProgram(25)}})...)
	}
	report(b, all)
}
