package main

import "time"

func main() {
	m := map[string]int{}
	go func() {
		m["a"] = 1
	}()
	m["b"] = 2
	time.Sleep(10 * time.Millisecond)
}
