package main

import "time"

func nap() {
	time.Sleep(time.Hour)
}

func main() {
	go nap()
	select {}
}
