// A racy counter: two goroutines increment n without synchronization.
// Run it with the race detector: racelab run --mode race examples/racy.go
package main

import (
	"fmt"
	"sync"
)

func main() {
	var wg sync.WaitGroup
	n := 0
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				n++
			}
		}()
	}
	wg.Wait()
	fmt.Println("n =", n)
}
