package local

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/racelab/racelab/sandbox"
)

// testLimits are small, so that the tests that reach a limit are fast;
// the build timeout is generous for a cold race-enabled standard library.
func testLimits() sandbox.Limits {
	l := sandbox.DefaultLimits()
	l.BuildTimeout = 3 * time.Minute
	l.RunTimeout = 5 * time.Second
	l.KillGrace = 500 * time.Millisecond
	l.OutputBytes = 64 << 10
	return l
}

func newRunner(t *testing.T, l sandbox.Limits) *Runner {
	t.Helper()
	r, err := New(Config{Limits: l})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// events is what one run emitted.
type events []sandbox.Event

// record runs req and returns its events, checking the stream's shape:
// an exit event, last or followed only by the summary.
func record(t *testing.T, ctx context.Context, r *Runner, req *sandbox.Request) events {
	t.Helper()
	var mu sync.Mutex
	var evs events
	err := r.Run(ctx, req, func(e sandbox.Event) {
		mu.Lock()
		evs = append(evs, e)
		mu.Unlock()
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	last := len(evs) - 1
	if req.Repeat > 1 && last >= 0 && evs[last].Kind == sandbox.KindSummary {
		last--
	}
	if last < 0 || evs[last].Kind != sandbox.KindExit {
		t.Fatalf("the stream does not end with exit:\n%s", evs)
	}
	return evs
}

func (evs events) String() string {
	var b strings.Builder
	for _, e := range evs {
		b.WriteString(strconv.Quote(string(e.Kind)) + " " + e.Data + e.Msg + " " + string(e.Reason) + "\n")
	}
	return b.String()
}

// exit returns the last exit event.
func (evs events) exit() sandbox.Event {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == sandbox.KindExit {
			return evs[i]
		}
	}
	return sandbox.Event{}
}

// text joins the data of the events of kind k.
func (evs events) text(k sandbox.Kind) string {
	var b strings.Builder
	for _, e := range evs {
		if e.Kind == k {
			b.WriteString(e.Data)
		}
	}
	return b.String()
}

// index returns the position of the first event of kind k, or -1.
func (evs events) index(k sandbox.Kind) int {
	for i, e := range evs {
		if e.Kind == k {
			return i
		}
	}
	return -1
}

func (evs events) all(k sandbox.Kind) []sandbox.Event {
	var out []sandbox.Event
	for _, e := range evs {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

func mainGo(body string) map[string]string {
	return map[string]string{"main.go": "package main\n\n" + body}
}

const hello = `import "fmt"

func main() { fmt.Println("hello, world") }
`

const racy = `import (
	"fmt"
	"sync"
)

func main() {
	n := 0
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); n++ }()
	}
	wg.Wait()
	fmt.Println(n)
}
`

// undefined uses x, which is not declared, on line 4 of main.go.
const undefined = `func main() {
	x = 1
}
`

const flood = `import "fmt"

func main() {
	for {
		fmt.Println("all work and no play makes Jack a dull boy")
	}
}
`

// checkRaceEvent checks that evs hold one race event, before the exit
// event, whose two accesses are both on main.go:line.
func checkRaceEvent(t *testing.T, evs events, line int) {
	t.Helper()
	races := evs.all(sandbox.KindRace)
	if len(races) != 1 || evs.index(sandbox.KindRace) > evs.index(sandbox.KindExit) {
		t.Fatalf("want one race event before exit:\n%s", evs)
	}
	r := races[0].Race
	if len(r.Accesses) != 2 {
		t.Fatalf("race has %d accesses, want 2: %+v", len(r.Accesses), r)
	}
	for i, a := range r.Accesses {
		var at []string
		for _, f := range a.Stack {
			if f.User {
				at = append(at, f.File+":"+strconv.Itoa(f.Line))
			}
		}
		if want := "main.go:" + strconv.Itoa(line); len(at) == 0 || at[0] != want {
			t.Errorf("access %d (%s by goroutine %d) at %v, want %s first", i, a.Op, a.Goroutine, at, want)
		}
	}
}

func TestRun(t *testing.T) {
	tests := []struct {
		name   string
		req    sandbox.Request
		limits func(*sandbox.Limits)
		reason sandbox.Reason
		code   int // -1: any
		check  func(t *testing.T, evs events)
	}{{
		name:   "hello",
		req:    sandbox.Request{Files: mainGo(hello)},
		reason: sandbox.ReasonExited,
		check: func(t *testing.T, evs events) {
			if got, want := evs.text(sandbox.KindStdout), "hello, world\n"; got != want {
				t.Errorf("stdout = %q, want %q", got, want)
			}
			b, o := evs.index(sandbox.KindBuild), evs.index(sandbox.KindStdout)
			if b < 0 || b > o {
				t.Errorf("build event at %d, first stdout at %d: want build first\n%s", b, o, evs)
			}
		},
	}, {
		name:   "race",
		req:    sandbox.Request{Files: mainGo(racy), Mode: sandbox.ModeRace, GOMAXPROCS: 2},
		reason: sandbox.ReasonExited,
		code:   66,
		check: func(t *testing.T, evs events) {
			if got := evs.text(sandbox.KindStderr); !strings.Contains(got, "WARNING: DATA RACE") {
				t.Errorf("stderr = %q, want a race report", got)
			}
			checkRaceEvent(t, evs, 13)
		},
	}, {
		name:   "compile error",
		req:    sandbox.Request{Files: mainGo(undefined)},
		reason: sandbox.ReasonBuildFailed,
		code:   1,
		check: func(t *testing.T, evs events) {
			errs := evs.all(sandbox.KindCompileError)
			if len(errs) == 0 {
				t.Fatalf("no compile_error event:\n%s", evs)
			}
			if got := errs[0]; got.File != "main.go" || got.Line != 4 {
				t.Errorf("compile_error at %s:%d, want main.go:4", got.File, got.Line)
			}
			if i := evs.index(sandbox.KindBuild); i >= 0 {
				t.Errorf("build event at %d, want none", i)
			}
		},
	}, {
		name:   "timeout",
		req:    sandbox.Request{Files: mainGo("func main() {\n\tfor {\n\t}\n}\n")},
		limits: func(l *sandbox.Limits) { l.RunTimeout, l.KillGrace = time.Second, 500*time.Millisecond },
		reason: sandbox.ReasonTimeout,
		code:   -1,
		check: func(t *testing.T, evs events) {
			if got := evs.text(sandbox.KindStderr); !strings.Contains(got, "goroutine 1") {
				t.Errorf("stderr = %q, want a goroutine dump", got)
			}
			if got := evs.exit().Ms; got < 1000 {
				t.Errorf("exit after %d ms, want at least the 1000 ms limit", got)
			}
		},
	}, {
		name:   "output limit",
		req:    sandbox.Request{Files: mainGo(flood)},
		limits: func(l *sandbox.Limits) { l.OutputBytes = 4096 },
		reason: sandbox.ReasonOutput,
		code:   -1,
		check: func(t *testing.T, evs events) {
			out := len(evs.text(sandbox.KindStdout))
			if out == 0 || out > 4096 {
				t.Errorf("%d bytes of stdout, want 1 to 4096", out)
			}
		},
	}, {
		name:   "repeat",
		req:    sandbox.Request{Files: mainGo(hello), Repeat: 3},
		reason: sandbox.ReasonExited,
		check: func(t *testing.T, evs events) {
			exits := evs.all(sandbox.KindExit)
			if len(exits) != 3 {
				t.Fatalf("%d exit events, want 3:\n%s", len(exits), evs)
			}
			for i, e := range exits {
				if e.Run != i+1 {
					t.Errorf("exit %d has Run %d, want %d", i, e.Run, i+1)
				}
			}
			last := evs[len(evs)-1]
			if last.Kind != sandbox.KindSummary || last.Summary == nil {
				t.Fatalf("last event is %q, want summary", last.Kind)
			}
			s := last.Summary
			if s.Runs != 3 || len(s.Outputs) != 1 || s.Outputs[0].Count != 3 {
				t.Errorf("summary = %+v, want 3 runs with one output", s)
			}
			for _, e := range evs.all(sandbox.KindStdout) {
				if e.Run < 1 || e.Run > 3 {
					t.Errorf("stdout with Run %d, want 1 to 3", e.Run)
				}
			}
		},
	}, {
		name:   "asm",
		req:    sandbox.Request{Files: mainGo(hello), Mode: sandbox.ModeAsm},
		reason: sandbox.ReasonExited,
		check: func(t *testing.T, evs events) {
			asm := evs.all(sandbox.KindAsm)
			if len(asm) != 1 {
				t.Fatalf("%d asm events, want 1", len(asm))
			}
			for _, l := range asm[0].Lines {
				if l.Func == "main.main" && l.File == "main.go" {
					return
				}
			}
			t.Errorf("no asm line of main.main in main.go among %d lines", len(asm[0].Lines))
		},
	}, {
		name:   "fmt",
		req:    sandbox.Request{Files: map[string]string{"main.go": "package main\nfunc main(){\nprintln( 1 )}"}, Mode: sandbox.ModeFmt},
		reason: sandbox.ReasonExited,
		check: func(t *testing.T, evs events) {
			i := evs.index(sandbox.KindFmt)
			if i < 0 {
				t.Fatalf("no fmt event:\n%s", evs)
			}
			want := "package main\n\nfunc main() {\n\tprintln(1)\n}\n"
			if got := evs[i].Files["main.go"]; got != want {
				t.Errorf("formatted main.go = %q, want %q", got, want)
			}
		},
	}, {
		name:   "vet",
		req:    sandbox.Request{Files: mainGo("import \"fmt\"\n\nfunc main() { fmt.Printf(\"%d\\n\", \"x\") }\n"), Mode: sandbox.ModeVet},
		reason: sandbox.ReasonExited,
		code:   1,
		check: func(t *testing.T, evs events) {
			errs := evs.all(sandbox.KindCompileError)
			if len(errs) == 0 || errs[0].File != "main.go" || errs[0].Line != 5 {
				t.Errorf("compile_error events = %+v, want one at main.go:5", errs)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := testLimits()
			if tt.limits != nil {
				tt.limits(&l)
			}
			evs := record(t, t.Context(), newRunner(t, l), &tt.req)
			exit := evs.exit()
			if exit.Reason != tt.reason || (tt.code >= 0 && exit.Code != tt.code) {
				t.Errorf("exit = %s %d (%s), want %s %d\n%s", exit.Reason, exit.Code, exit.Msg, tt.reason, tt.code, evs)
			}
			if exit.Msg == "" {
				t.Errorf("exit has no message")
			}
			tt.check(t, evs)
		})
	}
}

func TestCancel(t *testing.T) {
	src := mainGo(`import (
	"fmt"
	"time"
)

func main() {
	fmt.Println("sleeping")
	time.Sleep(time.Minute)
}
`)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var canceled time.Time
	var mu sync.Mutex
	var evs events
	r := newRunner(t, testLimits())
	err := r.Run(ctx, &sandbox.Request{Files: src}, func(e sandbox.Event) {
		mu.Lock()
		defer mu.Unlock()
		evs = append(evs, e)
		if e.Kind == sandbox.KindStdout && canceled.IsZero() {
			canceled = time.Now()
			cancel()
		}
	})
	took := time.Since(canceled)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if canceled.IsZero() {
		t.Fatalf("the program printed nothing:\n%s", evs)
	}
	if got := evs.exit().Reason; got != sandbox.ReasonCanceled {
		t.Errorf("exit reason = %s, want %s", got, sandbox.ReasonCanceled)
	}
	if took > time.Second {
		t.Errorf("Run returned %v after the cancel, want within 1s", took)
	}
}

func TestCanceledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	evs := record(t, ctx, newRunner(t, testLimits()), &sandbox.Request{Files: mainGo(hello)})
	if got := evs.exit().Reason; got != sandbox.ReasonCanceled {
		t.Errorf("exit reason = %s, want %s\n%s", got, sandbox.ReasonCanceled, evs)
	}
	if i := evs.index(sandbox.KindStdout); i >= 0 {
		t.Errorf("stdout at %d, want nothing run\n%s", i, evs)
	}
}

// TestLeftovers checks that a run leaves neither files nor processes: a
// child that holds the program's output open neither keeps Run waiting
// nor outlives it.
func TestLeftovers(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	src := mainGo(`import (
	"fmt"
	"os"
	"os/exec"
)

func main() {
	cmd := exec.Command("sleep", "60")
	cmd.Stdout = os.Stdout
	if err := cmd.Start(); err != nil {
		panic(err)
	}
	fmt.Println(cmd.Process.Pid)
}
`)
	evs := record(t, t.Context(), newRunner(t, testLimits()), &sandbox.Request{Files: src})
	exit := evs.exit()
	if exit.Reason != sandbox.ReasonExited || exit.Code != 0 {
		t.Fatalf("exit = %s %d, want exited 0\n%s", exit.Reason, exit.Code, evs)
	}
	if exit.Ms > 2000 {
		t.Errorf("the run took %d ms, want the held pipe closed well within 2000", exit.Ms)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(evs.text(sandbox.KindStdout)))
	if err != nil {
		t.Fatalf("stdout = %q, want the child's pid", evs.text(sandbox.KindStdout))
	}
	if !gone(pid) {
		t.Errorf("the program's child %d is still running", pid)
	}
	ents, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("left behind in TMPDIR: %s", e.Name())
	}
}

// gone reports whether process pid has ended (or is a zombie) within a second.
func gone(pid int) bool {
	for range 20 {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
			if _, rest, ok := strings.Cut(string(b), ") "); ok && strings.HasPrefix(rest, "Z") {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func TestBadRequest(t *testing.T) {
	r := newRunner(t, testLimits())
	tests := []struct {
		name string
		req  sandbox.Request
	}{
		{"no files", sandbox.Request{}},
		{"unknown mode", sandbox.Request{Files: mainGo(hello), Mode: "debug"}},
		{"not go", sandbox.Request{Files: map[string]string{"main.c": "int main() {}"}}},
		{"go.mod require", sandbox.Request{Files: map[string]string{
			"main.go": "package main\n" + hello,
			"go.mod":  "module prog\n\ngo 1.26\n\nrequire example.com/x v1.0.0\n",
		}}},
		{"repeat asm", sandbox.Request{Files: mainGo(hello), Mode: sandbox.ModeAsm, Repeat: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			err := r.Run(t.Context(), &tt.req, func(sandbox.Event) { n++ })
			if !errors.Is(err, sandbox.ErrBadRequest) {
				t.Errorf("Run = %v, want an error wrapping ErrBadRequest", err)
			}
			if n != 0 {
				t.Errorf("Run emitted %d events, want none", n)
			}
		})
	}
}

func TestCheckListenAddr(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8080", true},
		{"localhost:0", true},
		{"[::1]:80", true},
		{"127.1.2.3:80", true},
		{"", false},
		{":8080", false},
		{"0.0.0.0:80", false},
		{"[::]:80", false},
		{"192.168.1.2:80", false},
		{"[2001:db8::1]:80", false},
		{"127.0.0.1", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			err := CheckListenAddr(tt.addr)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckListenAddr(%q) = %v, want ok %v", tt.addr, err, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "listen on 127.0.0.1") {
				t.Errorf("CheckListenAddr(%q) = %q, want it to say what to do instead", tt.addr, err)
			}
		})
	}
}
