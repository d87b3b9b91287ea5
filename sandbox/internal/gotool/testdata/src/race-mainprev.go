package main

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
