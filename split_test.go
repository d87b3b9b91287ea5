package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/racelab/racelab/sandbox"
)

// proc is a racelab process started by a test.
type proc struct {
	cmd    *exec.Cmd
	url    string        // where it listens, as it printed it
	stderr *bytes.Buffer // its log, for failure messages
	done   chan struct{} // closed when it has exited, with err set
	err    error
}

var listening = regexp.MustCompile(`http://([0-9.]+:[0-9]+)/`)

// startRacelab starts bin with args and waits for the line that says
// where it listens. The process is stopped with SIGTERM at cleanup.
func startRacelab(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), stderr: &bytes.Buffer{}, done: make(chan struct{})}
	p.cmd.Stderr = &syncWriter{w: p.stderr}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	if lines.Scan() {
		if m := listening.FindStringSubmatch(lines.Text()); m != nil {
			p.url = "http://" + m[1]
		}
	}
	go func() { // ends when the process does
		io.Copy(io.Discard, out)
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	if p.url == "" {
		t.Fatalf("racelab %s printed no address; log:\n%s", strings.Join(args, " "), p.log())
	}
	return p
}

func (p *proc) log() string {
	w := p.cmd.Stderr.(*syncWriter)
	w.mu.Lock()
	defer w.mu.Unlock()
	return p.stderr.String()
}

// stop ends the process with SIGTERM (SIGKILL after 30 s) and waits.
func (p *proc) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Errorf("racelab did not stop within 30 s of SIGTERM; log:\n%s", p.log())
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// waitReady polls p's /readyz until it answers 200.
func waitReady(t *testing.T, p *proc, within time.Duration) {
	t.Helper()
	waitReadyURL(t, p.url, within, p.log)
}

// waitReadyURL polls url+"/readyz" until it answers 200; log says what
// racelab logged, for the failure.
func waitReadyURL(t *testing.T, url string, within time.Duration, log func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within %v; log:\n%s", url, within, log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// metric reads one sample of a runner's /metrics (0 when absent).
func metric(t *testing.T, p *proc, series string) float64 {
	t.Helper()
	resp, err := http.Get(p.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	total := 0.0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, series) {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			total += v
		}
	}
	return total
}

// postRun sends req to the web tier and calls each(event) as events
// arrive, until the stream ends or each returns false.
func postRun(ctx context.Context, web string, req sandbox.Request, each func(sandbox.Event) bool) error {
	body, _ := json.Marshal(req)
	hreq, _ := http.NewRequestWithContext(ctx, http.MethodPost, web+"/api/run", bytes.NewReader(body))
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var e sandbox.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("line %q: %v", sc.Text(), err)
		}
		if !each(e) {
			return nil
		}
	}
	return sc.Err()
}

const splitTicker = `package main

import (
	"fmt"
	"time"
)

func main() {
	for i := 0; ; i++ {
		fmt.Println("tick", i)
		time.Sleep(20 * time.Millisecond)
	}
}
`

// TestSplitServeAndRunners runs the scaled-out topology on loopback: two
// racelab runner processes on the runc sandbox, and racelab serve sending
// runs to both. Runs spread over both runners; a runner killed mid-run
// gives its learner an error event saying so, and the runs after it go to
// the survivor; a runner started again on the killed one's state
// directory clears what it left behind.
func TestSplitServeAndRunners(t *testing.T) {
	base := needRunc(t)
	bin := filepath.Join(t.TempDir(), "racelab")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cache := filepath.Join(base, "cache")
	stateA, stateB := filepath.Join(base, "split-a"), filepath.Join(base, "split-b")
	runner := func(state string) *proc {
		return startRacelab(t, bin, "runner", "--addr", "127.0.0.1:0", "--state-dir", state,
			"--cache-dir", cache, "--parallel", "1", "--shutdown-grace", "2s")
	}
	a, b := runner(stateA), runner(stateB)
	waitReady(t, a, 5*time.Minute) // a cold cache is built on the first start
	waitReady(t, b, 5*time.Minute)
	// Every request comes from one address here: lift its limits.
	web := startRacelab(t, bin, "serve", "--addr", "127.0.0.1:0", "--runner", a.url+","+b.url,
		"--rate", "1000", "--burst", "100", "--client-runs", "10", "--client-queue", "10")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	racy, err := os.ReadFile(filepath.Join("examples", "racy.go"))
	if err != nil {
		t.Fatal(err)
	}
	// Six race runs at once spread over the two runners, each its own
	// program (built, not taken from a runner's cache of built programs).
	const n = 6
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			races, code := 0, -2
			src := fmt.Sprintf("%s\n// run %d of %s\n", racy, i, nonce)
			err := postRun(ctx, web.url, sandbox.Request{Mode: sandbox.ModeRace, Files: map[string]string{"main.go": src}}, func(e sandbox.Event) bool {
				switch e.Kind {
				case sandbox.KindRace:
					races++
				case sandbox.KindExit:
					code = e.Code
				case sandbox.KindError:
					errs[i] = fmt.Errorf("error event: %s", e.Msg)
				}
				return true
			})
			if err == nil && errs[i] == nil && (races == 0 || code != 66) {
				err = fmt.Errorf("%d races, exit %d; want a race and exit 66", races, code)
			}
			if errs[i] == nil {
				errs[i] = err
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("race run %d: %v", i, err)
		}
	}
	const finished = `racelab_runner_runs_total{mode="race"`
	ra, rb := metric(t, a, finished), metric(t, b, finished)
	if ra+rb != n || ra == 0 || rb == 0 {
		t.Fatalf("race runs by runner: a %v, b %v; want %d spread over both", ra, rb, n)
	}
	if starts := metric(t, a, "racelab_runner_container_start_seconds_count") + metric(t, b, "racelab_runner_container_start_seconds_count"); starts != n {
		t.Errorf("container starts measured: %v, want %d", starts, n)
	}

	// A runner killed mid-run.
	var victim, survivor *proc
	var got []sandbox.Event
	killed := time.Time{}
	err = postRun(ctx, web.url, sandbox.Request{Files: map[string]string{"main.go": splitTicker}}, func(e sandbox.Event) bool {
		got = append(got, e)
		if e.Kind == sandbox.KindStdout && victim == nil {
			victim, survivor = a, b
			if metric(t, b, "racelab_runner_requests_in_flight") == 1 {
				victim, survivor = b, a
			}
			if err := victim.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = time.Now()
		}
		return e.Kind != sandbox.KindError && e.Kind != sandbox.KindExit
	})
	if err != nil {
		t.Fatal(err)
	}
	if victim == nil {
		t.Fatalf("the ticker printed nothing: %+v", got)
	}
	last := got[len(got)-1]
	if last.Kind != sandbox.KindError || last.Reason != sandbox.ReasonUnavailable || !strings.Contains(last.Msg, "Press Run again") {
		t.Fatalf("last event %+v, want an unavailable error telling the learner to run again", last)
	}
	if d := time.Since(killed); d > 5*time.Second {
		t.Errorf("the learner heard of the lost runner after %v", d)
	}
	<-victim.done
	stateOf := map[*proc]string{a: stateA, b: stateB}
	if left := leftoversIn(stateOf[victim]); len(left) == 0 {
		t.Logf("the kill left nothing behind (runc's SIGTERM ended the program first)")
	} else {
		t.Logf("the kill left %v", left)
	}

	// Later runs go to the survivor.
	before := metric(t, survivor, "racelab_runner_runs_total")
	for i := range 3 {
		var out string
		var exit sandbox.Event
		err := postRun(ctx, web.url, sandbox.Request{Files: map[string]string{"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"after\") }\n"}}, func(e sandbox.Event) bool {
			switch e.Kind {
			case sandbox.KindStdout:
				out += e.Data
			case sandbox.KindExit, sandbox.KindError:
				exit = e
			}
			return true
		})
		if err != nil || out != "after\n" || exit.Kind != sandbox.KindExit || exit.Code != 0 {
			t.Fatalf("run %d after the loss: output %q, last %+v, err %v", i, out, exit, err)
		}
	}
	if after := metric(t, survivor, "racelab_runner_runs_total"); after != before+3 {
		t.Errorf("the survivor ran %v runs after the loss, want 3", after-before)
	}

	// A graceful stop leaves nothing; a runner started on the killed one's
	// state directory clears what the kill left.
	survivor.stop(t)
	if survivor.err != nil {
		t.Errorf("the survivor stopped with %v; log:\n%s", survivor.err, survivor.log())
	}
	if left := leftoversIn(stateOf[survivor]); len(left) > 0 {
		t.Errorf("the survivor's graceful stop left %v", left)
	}
	restarted := startRacelab(t, bin, "runner", "--addr", "127.0.0.1:0", "--state-dir", stateOf[victim], "--cache-dir", cache)
	waitReady(t, restarted, time.Minute)
	restarted.stop(t)
	if left := leftoversIn(stateOf[victim]); len(left) > 0 {
		t.Errorf("a runner restarted after the kill left %v", left)
	}
}

// leftoversIn lists the containers, run directories and mounts a runner
// with state directory dir left behind, as runc.Runner.Leftovers does,
// without cleaning anything first.
func leftoversIn(dir string) []string {
	var left []string
	out, _ := exec.Command("runc", "--root", filepath.Join(dir, "runtime"), "list", "-q").Output()
	for _, id := range strings.Fields(string(out)) {
		left = append(left, "container "+id)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "runs"))
	for _, e := range ents {
		left = append(left, "run directory "+e.Name())
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], filepath.Join(dir, "runs")+"/") {
			left = append(left, "mount "+f[4])
		}
	}
	return left
}
