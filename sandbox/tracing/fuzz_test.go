package tracing

import (
	"bytes"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/racelab/racelab/sandbox"
)

// parseWatch is how long FuzzParse lets Parse take on one input of a few
// KB before it calls it a hang: it takes well under a millisecond.
const parseWatch = 5 * time.Second

// seedTrace is a real trace (the program closer, traced by racelab's
// wrapper, built in seedDir), the seed of FuzzParse.
const (
	seedTrace = "testdata/closer.trace"
	seedDir   = "/tmp/rlseed"
)

// FuzzParse: whatever the bytes, Parse returns a timeline within its
// limits or an error; it neither panics nor runs on. The plain test runs
// the seed and a few hundred mutations of it (cuts, flipped bytes); go
// test -fuzz=FuzzParse explores further.
func FuzzParse(f *testing.F) {
	seed, err := os.ReadFile(seedTrace)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		m := bytes.Clone(seed)
		switch rng.IntN(3) {
		case 0:
			m = m[:rng.IntN(len(m))]
		case 1:
			for range 1 + rng.IntN(4) {
				m[16+rng.IntN(len(m)-16)] ^= byte(1 + rng.IntN(255))
			}
		default:
			i := 16 + rng.IntN(len(m)-16)
			m = append(m[:i:i], m[i+rng.IntN(len(m)-i):]...)
		}
		f.Add(m)
	}
	o := Options{Dir: seedDir, Files: []string{"main.go"}, MaxEvents: 2000, MaxSpans: 200}
	f.Fuzz(func(t *testing.T, data []byte) {
		var tl *sandbox.Timeline
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			tl, err = Parse(bytes.NewReader(data), o)
		}()
		select {
		case <-done:
		case <-time.After(parseWatch):
			t.Fatalf("Parse(%d bytes) runs on after %v", len(data), parseWatch)
		}
		if err != nil {
			return
		}
		if len(tl.Goroutines) == 0 {
			t.Errorf("Parse = a timeline without lanes and no error")
		}
		if n := spans(tl); n > o.MaxSpans {
			t.Errorf("%d spans and edges, over MaxSpans %d", n, o.MaxSpans)
		}
		if tl.DurationNs < 0 {
			t.Errorf("DurationNs = %d", tl.DurationNs)
		}
	})
}

// TestSeed: the seed is a whole trace, with the edges of its program.
func TestSeed(t *testing.T) {
	seed, err := os.ReadFile(seedTrace)
	if err != nil {
		t.Fatal(err)
	}
	tl, err := Parse(bytes.NewReader(seed), Options{Dir: seedDir, Files: []string{"main.go"}, MaxEvents: 2000, MaxSpans: 200})
	if err != nil {
		t.Fatal(err)
	}
	if got := edgeStrings(tl); len(tl.Goroutines) != 2 || got != "close@13->receive@9 send@10->receive@14" {
		t.Errorf("seed: %d lanes, edges %s; want 2 lanes, close@13->receive@9 send@10->receive@14", len(tl.Goroutines), got)
	}
}
