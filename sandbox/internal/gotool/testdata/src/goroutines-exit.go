package main

import "fmt"

func main() {
	ch := make(chan int)
	go func() {
		fmt.Println("sending")
		ch <- 1
	}()
	fmt.Println("main returns")
}
