package main

import (
	"fmt"
	"time"
)

var a, b int

func setA() { a = 1 }

func setB() { b = 2 }

func main() {
	go setA()
	go setB()
	time.Sleep(10 * time.Millisecond)
	fmt.Println(a)
	fmt.Println(b)
}
