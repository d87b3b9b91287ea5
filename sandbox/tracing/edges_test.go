package tracing

import (
	"strings"
	"testing"
)

// The synchronization edges of small programs, each forced into one order
// by a sleep, so that the edge's direction is known: the second party
// unblocks the first. Each program runs several times.
var edgeCases = []struct {
	name, src string
	want      string // one of the edges, as edgeString writes it
}{
	{"send to a waiting receiver", `package main

import "time"

func main() {
	ch := make(chan int)
	done := make(chan bool)
	go func() {
		<-ch
		done <- true
	}()
	time.Sleep(20 * time.Millisecond)
	ch <- 1
	<-done
}
`, "send@13->receive@9"},
	{"close wakes a receiver", closer, "close@13->receive@9"},
	{"Unlock to a waiting Lock", `package main

import (
	"sync"
	"time"
)

func main() {
	var mu sync.Mutex
	mu.Lock()
	done := make(chan bool)
	go func() {
		mu.Lock()
		mu.Unlock()
		done <- true
	}()
	time.Sleep(20 * time.Millisecond)
	mu.Unlock()
	<-done
}
`, "Unlock@18->Lock@13"},
	{"Done to Wait", `package main

import (
	"sync"
	"time"
)

func main() {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		time.Sleep(20 * time.Millisecond)
		wg.Done()
	}()
	wg.Wait()
}
`, "Done@13->Wait@15"},
	{"wg.Go's Done lands at the wg.Go line", `package main

import (
	"sync"
	"time"
)

func main() {
	var wg sync.WaitGroup
	wg.Go(func() {
		time.Sleep(20 * time.Millisecond)
	})
	wg.Wait()
}
`, "Done@10->Wait@13"},
	{"send to a select", `package main

import "time"

func main() {
	a, b := make(chan int), make(chan int)
	done := make(chan bool)
	go func() {
		select {
		case <-a:
		case <-b:
		}
		done <- true
	}()
	time.Sleep(20 * time.Millisecond)
	a <- 1
	<-done
}
`, "send@16->select@9"},
}

func TestEdges(t *testing.T) {
	for _, tt := range edgeCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := build(t, tt.src, lessonTracing)
			for range 3 {
				tl := p.timeline(t)
				if got := edgeStrings(tl); !strings.Contains(" "+got+" ", " "+tt.want+" ") {
					t.Errorf("edges = %s, want one %s", got, tt.want)
				}
				if tl.Cut != "" {
					t.Errorf("Cut = %q, want none", tl.Cut)
				}
			}
		})
	}
}
