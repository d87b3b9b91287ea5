package main

import "sync"

var mu sync.Mutex

func lockTwice() {
	mu.Lock()
	mu.Lock()
}

func main() {
	lockTwice()
}
