package runc

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/tracing"
)

// The suite shares one runner: making the warm cache takes about a minute
// the first time on a machine. It keeps its state in its own directory
// (RACELAB_TEST_STATE_DIR, default /var/lib/racelab-test; the runner's
// state in runc/, the warm cache in cache/, shared with the command's
// tests) so that it never touches a real racelab's runs.
//
// Most tests run one after another: they count the runner's slots,
// containers and processes. Those that check only their own runs, or
// have a runner of their own, and spend their time waiting (on run
// timeouts, deadlines, a hung runtime) call t.Parallel: they run after
// the others, two at a time (go test's -parallel, GOMAXPROCS), which
// takes some 15 s off the suite's length without more CPU.
var (
	testRunner *Runner
	testSkip   string // why the runc tests cannot run here
)

func TestMain(m *testing.M) {
	tracing.RunIfChild() // this binary parses the traced runs' traces
	if dir := os.Getenv(deadlineChildEnv); dir != "" {
		// This process is another racelab's, for TestDeadlineWithoutRacelab.
		os.Exit(deadlineChild(dir))
	}
	flag.Parse()
	code := func() int {
		r, err := newTestRunner()
		if err != nil {
			if os.Getenv("CI") == "true" {
				fmt.Fprintf(os.Stderr, "runc sandbox: %v (CI=true: nothing may skip)\n", err)
				return 1
			}
			testSkip = err.Error()
			fmt.Fprintf(os.Stderr, "SKIPPING the runc tests: %v\n", err)
			return m.Run()
		}
		testRunner = r
		code := m.Run()
		if !clean(r, "") {
			code = 1
		}
		r.Close()
		// Closed, the runner has nothing prepared ahead either.
		if !clean(r, " after Close") {
			code = 1
		}
		return code
	}()
	os.Exit(code)
}

// clean reports whether r left nothing behind, and says what it left.
func clean(r *Runner, when string) bool {
	ok := true
	if left := r.Leftovers(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: the suite left behind%s: %s\n", when, strings.Join(left, ", "))
		ok = false
	}
	if procs := sandboxProcesses(r); len(procs) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: processes of the sandbox user still run%s: %v\n", when, procs)
		ok = false
	}
	return ok
}

func newTestRunner() (*Runner, error) {
	dir := os.Getenv("RACELAB_TEST_STATE_DIR")
	if dir == "" {
		dir = "/var/lib/racelab-test"
	}
	state := "runc"
	if rt := testRuntime(); rt != "runc" {
		state += "-" + rt
	}
	return openTestRunner(filepath.Join(dir, state), filepath.Join(dir, "cache"))
}

// gvisor reports whether the suite runs on gVisor's runsc.
func gvisor() bool { return flavourOf(testRuntime()).gvisor }

// testRuntime is the OCI runtime the suite runs on: RACELAB_TEST_RUNTIME,
// runc by default. The whole suite runs on each runtime racelab supports
// (make test runs it on runsc too).
func testRuntime() string {
	if rt := os.Getenv("RACELAB_TEST_RUNTIME"); rt != "" {
		return rt
	}
	return "runc"
}

// openTestRunner opens a runner with the suite's limits on stateDir. It
// puts race binaries' static data on huge pages, as racelab serve does,
// unless RACELAB_TEST_HUGE_PAGES=0 (to measure what that is worth).
// testMemory is the suite's memory limit of a run (not a race run).
const testMemory = 256 << 20

func openTestRunner(stateDir, cacheDir string) (*Runner, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("not root")
	}
	if _, err := exec.LookPath(testRuntime()); err != nil {
		return nil, fmt.Errorf("the runtime %s is not installed (runc: apt-get install runc; runsc: make runsc)", testRuntime())
	}
	lim := sandbox.DefaultLimits()
	lim.RunTimeout = 3 * time.Second
	lim.KillGrace = 500 * time.Millisecond
	lim.MemoryBytes = testMemory
	lim.RaceMemory = 512 << 20
	lim.OutputBytes = 64 << 10
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	return New(ctx, Config{Runtime: testRuntime(), StateDir: stateDir, CacheDir: cacheDir, Limits: lim, Seccomp: true,
		HugePages: os.Getenv("RACELAB_TEST_HUGE_PAGES") != "0", Log: log, Concurrency: 4})
}

func runner(t testing.TB) *Runner {
	t.Helper()
	if testRunner == nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("runc sandbox unavailable in CI: %s", testSkip)
		}
		t.Skipf("runc sandbox unavailable: %s", testSkip)
	}
	return testRunner
}

// sandboxProcesses lists the host processes that belong to this runner's
// containers: those in one of its cgroups, or running as the sandbox user
// outside any racelab cgroup (which would be an escape). Processes of
// other runners (another package's tests) are not counted, nor the
// waiting shells of the containers prepared ahead for idle slots (see
// Leftovers), nor zombies: a container's init is a child of the host's
// pid 1 (its runc create exits at once), and a pid 1 that reaps late
// (this machine's takes up to 2 s) leaves a killed init as a zombie for a
// while, a dead process that holds nothing but its pid (seen as
// "runc:[2:INIT]" in a cgroup already removed).
func sandboxProcesses(r *Runner) []string {
	var procs []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid := e.Name()
		if pid[0] < '0' || pid[0] > '9' || zombie(pid) {
			continue
		}
		cg, err := os.ReadFile(filepath.Join("/proc", pid, "cgroup"))
		if err != nil {
			continue
		}
		mine := strings.Contains(string(cg), "/"+cgroupParent+"/"+r.prefix()) && !preparedAhead(r, string(cg))
		var st syscall.Stat_t
		sandboxUser := syscall.Stat(filepath.Join("/proc", pid), &st) == nil &&
			int(st.Uid) >= r.cfg.UID && int(st.Uid) < r.cfg.UID+r.cfg.Concurrency &&
			!strings.Contains(string(cg), "/"+cgroupParent+"/")
		if mine || sandboxUser {
			comm, _ := os.ReadFile(filepath.Join("/proc", pid, "comm"))
			_, rest, _ := strings.Cut(string(cg), ":/")
			where, _, _ := strings.Cut(rest, "\n")
			procs = append(procs, pid+" "+strings.TrimSpace(string(comm))+" in /"+where)
		}
	}
	return procs
}

// zombie reports whether process pid has exited and waits to be reaped
// (state Z in its stat).
func zombie(pid string) bool {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return false
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	i := bytes.LastIndex(b, []byte(") "))
	return i >= 0 && len(b) > i+2 && b[i+2] == 'Z'
}

// preparedAhead reports whether the process whose /proc/PID/cgroup is cg
// is in a container r prepared ahead and holds for an idle slot.
func preparedAhead(r *Runner, cg string) bool {
	_, rest, ok := strings.Cut(cg, "/"+cgroupParent+"/")
	id, _, _ := strings.Cut(rest, "/")
	return ok && r.standby != nil && r.standby.holds(id)
}

// prepared waits until r has the next run of each idle slot prepared
// (or its preparation failed).
func prepared(r *Runner) {
	s := r.standby
	s.mu.Lock()
	var ps []*prep
	for _, p := range s.next {
		ps = append(ps, p)
	}
	s.mu.Unlock()
	for _, p := range ps {
		<-p.done
	}
}

// result is everything a run emitted.
type result struct {
	mu     sync.Mutex
	events []sandbox.Event
	err    error
	took   time.Duration
}

func (r *result) add(e sandbox.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *result) text(kind sandbox.Kind) string {
	var b strings.Builder
	for _, e := range r.events {
		if e.Kind == kind {
			b.WriteString(e.Data)
		}
	}
	return b.String()
}

func (r *result) exits() []sandbox.Event {
	var exits []sandbox.Event
	for _, e := range r.events {
		if e.Kind == sandbox.KindExit {
			exits = append(exits, e)
		}
	}
	return exits
}

// exit returns the single exit event, which must be the last event.
func (r *result) exit(t testing.TB) sandbox.Event {
	t.Helper()
	if r.err != nil {
		t.Fatalf("Run: %v", r.err)
	}
	ex := r.exits()
	if len(ex) != 1 {
		t.Fatalf("got %d exit events, want 1; events: %s", len(ex), r.dump())
	}
	if last := r.events[len(r.events)-1]; last.Kind != sandbox.KindExit {
		t.Fatalf("last event is %s, want exit", last.Kind)
	}
	return ex[0]
}

func (r *result) dump() string {
	var b strings.Builder
	for _, e := range r.events {
		d := e.Data
		if len(d) > 300 {
			d = d[:300] + "…"
		}
		fmt.Fprintf(&b, "\n  %s %q %s:%d %s code=%d reason=%s", e.Kind, d, e.File, e.Line, e.Msg, e.Code, e.Reason)
	}
	return b.String()
}

// runSrc runs src as main.go in mode.
func runSrc(t testing.TB, mode sandbox.Mode, src string) *result {
	t.Helper()
	return runReq(t, context.Background(), &sandbox.Request{Mode: mode, Files: map[string]string{"main.go": src}})
}

func runReq(t testing.TB, ctx context.Context, req *sandbox.Request) *result {
	t.Helper()
	return runOn(t, runner(t), ctx, req)
}

// runOn runs req on the runner r.
func runOn(t testing.TB, r *Runner, ctx context.Context, req *sandbox.Request) *result {
	t.Helper()
	res := &result{}
	start := time.Now()
	res.err = r.Run(ctx, req, res.add)
	res.took = time.Since(start)
	return res
}

// racyCounter is the project's racy counter, examples/racy.go, as main.go.
func racyCounter(t testing.TB) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "racy.go"))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"main.go": string(b)}
}
