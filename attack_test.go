package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/server"
)

// serveRSSBound is the peak resident memory racelab serve may reach while
// any single request of the largest size runs, in any mode, with the
// default limits (README, "What is isolated, and what is not").
const serveRSSBound = 128 << 20

// attacks are the requests, one per mode, that make racelab itself hold,
// parse and send the most: each as large as a request may be (64 KiB of
// source), each aimed at what racelab does with the program's output.
func attacks() []struct {
	name string
	req  sandbox.Request
} {
	const maxSource = sandbox.DefaultMaxSourceBytes - 1024
	longName := "f" + strings.Repeat("x", 4000)
	printer := func(text string) string {
		return "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfor {\n\t\tfmt.Print(" + strconv.Quote(text) + ")\n\t}\n}\n"
	}
	return []struct {
		name string
		req  sandbox.Request
	}{
		// Output to the limit, as escaped as JSON makes it (a control
		// byte is six), repeated: every run's output and the summary.
		{"run", sandbox.Request{Mode: sandbox.ModeRun, Repeat: 5, Files: map[string]string{"main.go": printer(strings.Repeat("\x01<", 512) + "\n")}}},
		// Race reports and a goroutine dump at the output limit.
		{"race", sandbox.Request{Mode: sandbox.ModeRace, Files: map[string]string{"main.go": racesAndDump}}},
		// One function with a long name and as many calls as fit.
		{"asm", sandbox.Request{Mode: sandbox.ModeAsm, Files: map[string]string{"main.go": "package main\n\n//go:noinline\nfunc g() {}\n\nfunc " +
			longName + "() {\n" + strings.Repeat("\tg()\n", (maxSource-2*len(longName))/5) + "}\n\nfunc main() { " + longName + "() }\n"}}},
		{"test", sandbox.Request{Mode: sandbox.ModeTest, Files: map[string]string{"main.go": "package main\n\nfunc main() {}\n",
			"main_test.go": "package main\n\nimport \"testing\"\n\nfunc TestLoud(t *testing.T) {\n\tfor {\n\t\tt.Log(\"" + strings.Repeat("y", 1000) + "\")\n\t}\n}\n"}}},
		{"bench", sandbox.Request{Mode: sandbox.ModeBench, Files: map[string]string{"main.go": "package main\n\nfunc main() {}\n",
			"main_test.go": "package main\n\nimport (\n\t\"fmt\"\n\t\"testing\"\n)\n\nfunc BenchmarkLoud(b *testing.B) {\n\tfor {\n\t\tfmt.Println(\"" + strings.Repeat("z", 1000) + "\")\n\t}\n}\n"}}},
		// As many vet findings as fit, each an event of its own.
		{"vet", sandbox.Request{Mode: sandbox.ModeVet, Files: map[string]string{"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() {\n" +
			strings.Repeat("\tfmt.Printf(\"%d\\n\", \"x\")\n", (maxSource-64)/26) + "}\n"}}},
		// Nested blocks that format into over a hundred MiB.
		{"fmt", sandbox.Request{Mode: sandbox.ModeFmt, Files: map[string]string{"main.go": "package main\n\nfunc main() " +
			strings.Repeat("{", maxSource/2-64) + strings.Repeat("}", maxSource/2-64) + "\n"}}},
	}
}

// racesAndDump races on many variables from many goroutines, then
// blocks for ever so that the timeout's dump lists them all.
const racesAndDump = `package main

import "time"

var xs [4096]int

func main() {
	for i := range xs {
		go func() {
			for {
				xs[i]++
				time.Sleep(time.Millisecond)
			}
		}()
		xs[i]++
	}
	select {}
}
`

// TestServeMemoryUnderAttack runs racelab serve as a process of its own
// and sends it, one at a time, the largest request of every mode aimed
// at what racelab does with a program's output; it checks from the host
// that the server's peak resident memory (VmHWM) stays under
// serveRSSBound and that the bytes on the wire stay bounded, and that it
// still serves afterwards. Then come clients that hold connections
// rather than send requests (see connectionAttacks).
func TestServeMemoryUnderAttack(t *testing.T) {
	base := needRunc(t)
	bin := filepath.Join(t.TempDir(), "racelab")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	web := startRacelab(t, bin, "serve", "--addr", "127.0.0.1:0", "--state-dir", filepath.Join(base, "attack"),
		"--cache-dir", filepath.Join(base, "cache"), "--rate", "1000", "--burst", "100", "--run-timeout", "3s")
	waitReady(t, web, 5*time.Minute)
	pid := web.cmd.Process.Pid
	t.Logf("racelab serve at rest: %d MiB resident", peakRSS(t, pid)>>20)
	for _, a := range attacks() {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		wire, last, err := postCounting(ctx, web.url, a.req)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v; log:\n%s", a.name, err, web.log())
		}
		peak := peakRSS(t, pid)
		t.Logf("%-5s %8d bytes on the wire, ended %s %s; peak RSS so far %d MiB", a.name, wire, last.Kind, last.Reason, peak>>20)
		if peak > serveRSSBound {
			t.Errorf("%s: racelab serve's peak RSS is %d MiB, over its bound of %d MiB", a.name, peak>>20, serveRSSBound>>20)
		}
		// Each run's output counts its bytes as JSON sends them; the race
		// reports and goroutine dumps read from it at most as much again
		// (and a half), and the events around it a little.
		runs := int64(max(a.req.Repeat, 1))
		if limit := runs*sandbox.DefaultOutputBytes*5/2 + 64<<10; a.req.Mode == sandbox.ModeAsm && int64(wire) > sandbox.DefaultAsmOutputBytes+64<<10 ||
			a.req.Mode != sandbox.ModeAsm && int64(wire) > limit {
			t.Errorf("%s: %d bytes on the wire, want at most 2.5 times the output limit per run (and a little)", a.name, wire)
		}
	}
	if _, last, err := postCounting(t.Context(), web.url, sandbox.Request{Files: map[string]string{"main.go": "package main\n\nfunc main() { println(\"still here\") }\n"}}); err != nil || last.Reason != sandbox.ReasonExited {
		t.Errorf("after the attacks, a plain run: %v, last event %+v", err, last)
	}
	connectionAttacks(t, web.url, pid)
	if peak := peakRSS(t, pid); peak > serveRSSBound {
		t.Errorf("after the connection attacks racelab serve's peak RSS is %d MiB, over its bound of %d MiB", peak>>20, serveRSSBound>>20)
	}
	if _, last, err := postCounting(t.Context(), web.url, sandbox.Request{Files: map[string]string{"main.go": "package main\n\nfunc main() { println(\"still here\") }\n"}}); err != nil || last.Reason != sandbox.ReasonExited {
		t.Errorf("after the connection attacks, a plain run: %v, last event %+v", err, last)
	}
}

// connectionAttacks holds connections to the server at web (process pid)
// instead of sending it requests, and checks from the host what that
// costs it: one address opens many more keep-alive connections than it
// may hold, and idles (once twenty thousand took every file descriptor
// and the server answered nobody); then many addresses each start as many
// of the largest bodies as they may and stall before the end (four
// thousand held 1.5 GB). Another address must be answered meanwhile,
// the open files must stay bounded and come back, and the peak memory is
// checked by the caller.
func connectionAttacks(t *testing.T, web string, pid int) {
	addr := strings.TrimPrefix(web, "http://")
	before := openFiles(t, pid)
	dial := func(from string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial from %s: %v", from, err)
		}
		return c
	}
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	const idle = 4 * server.DefaultClientConns
	for range idle {
		c := dial("127.0.0.1")
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
		held = append(held, c)
	}
	healthy := func(when string) {
		c := dial("127.0.0.2")
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("%s, another address's /healthz: %v %v", when, resp, err)
			return
		}
		resp.Body.Close()
	}
	time.Sleep(500 * time.Millisecond)
	files := openFiles(t, pid)
	t.Logf("%d idle connections from one address: %d open files, were %d", idle, files, before)
	if files > before+server.DefaultClientConns+16 {
		t.Errorf("%d idle connections from one address: racelab serve has %d open files, was %d; want at most %d more",
			idle, files, before, server.DefaultClientConns+16)
	}
	healthy("with one address's connections idle")

	// The largest body, all but its last kilobyte, from 20 addresses, as
	// many connections as each may have: some 300 MB if they were held.
	body := []byte(`{"files":{"main.go":"` + strings.Repeat("x", int(server.DefaultMaxBodyBytes)-1024))
	var stalled sync.WaitGroup
	for a := range 20 {
		from := fmt.Sprintf("127.0.1.%d", a+1)
		for range server.DefaultClientConns {
			c := dial(from)
			held = append(held, c)
			stalled.Go(func() {
				c.SetWriteDeadline(time.Now().Add(10 * time.Second))
				fmt.Fprintf(c, "POST /api/run HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", server.DefaultMaxBodyBytes)
				c.Write(body) // a refused one is closed: the write fails
			})
		}
	}
	stalled.Wait()
	t.Logf("%d stalled bodies: peak RSS %d MiB, %d open files", 20*server.DefaultClientConns, peakRSS(t, pid)>>20, openFiles(t, pid))
	healthy("with stalled bodies from 20 addresses")
	for _, c := range held {
		c.Close()
	}
	held = nil
	deadline := time.Now().Add(10 * time.Second)
	for openFiles(t, pid) > before+16 {
		if time.Now().After(deadline) {
			t.Errorf("the attackers' connections closed, racelab serve still has %d open files, had %d before", openFiles(t, pid), before)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// openFiles counts the open file descriptors of process pid.
func openFiles(t *testing.T, pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// postCounting sends req to POST /api/run and reads the whole answer: the
// bytes on the wire, and the last event.
func postCounting(ctx context.Context, web string, req sandbox.Request) (int, sandbox.Event, error) {
	body, _ := json.Marshal(req)
	hreq, _ := http.NewRequestWithContext(ctx, http.MethodPost, web+"/api/run", bytes.NewReader(body))
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		return 0, sandbox.Event{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, sandbox.Event{}, fmt.Errorf("status %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 64<<20)
	n, last := 0, sandbox.Event{}
	for sc.Scan() {
		n += len(sc.Bytes()) + 1
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			return n, last, fmt.Errorf("line %.100q: %v", sc.Text(), err)
		}
	}
	return n, last, sc.Err()
}

// peakRSS reads the peak resident memory (VmHWM) of process pid.
func peakRSS(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}
