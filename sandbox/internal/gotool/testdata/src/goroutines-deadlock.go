package main

import "sync"

func send(ch chan int) {
	ch <- 1
}

func main() {
	var wg sync.WaitGroup
	ch := make(chan int)
	wg.Add(2)
	go func() {
		defer wg.Done()
		send(ch)
	}()
	go func() {
		defer wg.Done()
		<-ch
		<-ch
	}()
	go func() {
		wg.Wait()
	}()
	<-make(chan int)
}
