//go:build vmtest

package systemd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/racelab/racelab/sandbox"
)

// The service's cgroup, and what racelab makes in it: its own leaf and
// the parent of every run's cgroups.
const (
	unitCgroup = "/sys/fs/cgroup/system.slice/racelab.service"
	supervisor = "supervisor"
	leafCgroup = unitCgroup + "/" + supervisor
	runsCgroup = unitCgroup + "/racelab"
)

// install does what the README's "Hosting on a server" says, with the
// files scripts/vm-test copied to /root/racelab. racelab warm already ran
// there, in a chroot of this root file system on the host (under TCG it
// would take a quarter of an hour): here it must find its cache valid and
// build nothing.
//
// The test reaches racelab through QEMU's forwarded port, not through a
// reverse proxy on the guest's loopback. And QEMU emulates the machine
// (TCG), about ten times slower than the host, slower still when the host
// is loaded: measured there, a race build takes 5-20 s and starting a
// container 1-3 s (0.4 s and 40 ms on the host); the kernel zeroes fresh
// memory at some 45 MB/s, so a program reaches 512 MiB after 10-12 s; 250
// forks take 1.4-7.4 s. So the build and runtime timeouts get room, the
// run timeout is 20 s, and run mode's memory limit 256 MiB; the times,
// and the request timeout that bounds a run's repeats (30 s, racelab's
// default, never below the run timeout), grow with the guest's slowness
// (vm.scaled).
func install(v *vm) string {
	return fmt.Sprintf(`set -e
cd /root/racelab
install -m 755 racelab /usr/local/bin/racelab
install -m 644 deploy/systemd/racelab.service /etc/systemd/system/racelab.service
PATH=/usr/local/go/bin:$PATH timeout %d racelab warm --cache-dir /var/cache/racelab 2>&1
cat >/etc/default/racelab <<EOF
RACELAB_ADDR=0.0.0.0:8080
RACELAB_BUILD_TIMEOUT=%s
RACELAB_RUNTIME_TIMEOUT=%s
RACELAB_RUN_TIMEOUT=%s
RACELAB_REQUEST_TIMEOUT=%s
RACELAB_MEMORY=%d
EOF
systemctl daemon-reload
systemctl enable --now racelab 2>&1
`, int(v.scaled(2*time.Minute).Seconds()), buildTimeout(v), runtimeTimeout(v), runTimeout(v), requestTimeout(v), memoryLimit)
}

// The time limits install gives racelab on this guest.
func buildTimeout(v *vm) time.Duration   { return v.scaled(2 * time.Minute).Round(time.Second) }
func runtimeTimeout(v *vm) time.Duration { return v.scaled(time.Minute).Round(time.Second) }
func runTimeout(v *vm) time.Duration     { return v.scaled(20 * time.Second).Round(time.Second) }
func requestTimeout(v *vm) time.Duration { return v.scaled(30 * time.Second).Round(time.Second) }

// TestHostedUnderSystemd boots the guest, installs racelab as the README
// says, and checks the service from outside: the limits of every run,
// where its cgroups are, and that nothing outlives a run, a restart or a
// crash.
func TestHostedUnderSystemd(t *testing.T) {
	v := bootInstalled(t)
	ctx, cancel := context.WithTimeout(context.Background(), v.scaled(10*time.Minute))
	defer cancel()
	checkLayout(t, v)

	steps := []struct {
		name string
		f    func(context.Context, *testing.T, *vm)
	}{
		{"race", raceCell},
		{"memory bomb", memoryBomb},
		{"fork bomb", forkBomb},
		{"spinner and sleeper", spinnerAndSleeper},
		{"restart during a run", restartDuringRun},
		{"crash during a run", crashDuringRun},
		{"in a private cgroup namespace", inCgroupNamespace},
		{"on crun", onCrun},
	}
	for _, s := range steps {
		ok := t.Run(s.name, func(t *testing.T) {
			start := time.Now()
			s.f(ctx, t, v)
			checkNothingLeft(t, v)
			t.Logf("%.1f s", time.Since(start).Seconds())
		})
		if !ok && ctx.Err() != nil {
			t.FailNow()
		}
		if !ok && !v.answers() {
			// Every later step would fail for it, each after its whole
			// time limit.
			t.Fatalf("the guest stopped answering during %q", s.name)
		}
	}
	t.Run("stop", func(t *testing.T) { stopService(t, v) })
}

// bootInstalled boots the guest, checks that it is a cgroup v2 machine,
// and installs racelab there as the README says; it returns once /readyz
// answers 200. On a failure of the test it logs racelab's journal.
func bootInstalled(t *testing.T) *vm {
	t.Helper()
	// Boot, install and the first /readyz: 30-35 s on a quiet host, 225 s
	// beside six busy processes (the boot alone 175 s, seven times as
	// long as quiet). Past this the host is too busy for the test.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cfg, err := vmConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	v := boot(ctx, t, cfg)
	t.Cleanup(func() {
		if t.Failed() {
			// A minute at most: a guest that stopped answering must not
			// take the rest of go test's time.
			out, err := v.exchange("journalctl -b --no-pager -u racelab | tail -n 80", time.Now().Add(time.Minute))
			if err != nil {
				out += fmt.Sprintf("\n(the agent: %v)", err)
			}
			t.Logf("the guest's journal of racelab:\n%s", out)
			t.Logf("the host's load at the end: %s; the test's time limits were scaled by %.2f", hostLoad(), v.slow)
			if err != nil {
				v.postMortem(t.Logf)
			}
		}
	})
	start := time.Now()
	v.must(t, "systemctl is-system-running --wait || true")
	t.Logf("systemd: %s (%.1f s more)", v.must(t, "systemd-analyze time | head -n 1"), time.Since(start).Seconds())
	checkCgroupV2Only(t, v)

	start = time.Now()
	if out := v.must(t, install(v)); strings.Contains(out, "building the warm build cache") {
		t.Fatalf("racelab warm in the guest built the cache again: the one made on the host has another key\n%s", out)
	}
	waitReady(ctx, t, v)
	t.Logf("installed, started and ready in %.1f s", time.Since(start).Seconds())
	return v
}

// checkCgroupV2Only checks that the guest is what the test is for: cgroup
// v2 alone, with the controllers racelab needs.
func checkCgroupV2Only(t *testing.T, v *vm) {
	t.Helper()
	facts := v.must(t, `stat -fc %T /sys/fs/cgroup; grep -c '^cgroup ' /proc/mounts || true; cat /sys/fs/cgroup/cgroup.controllers; uname -r; runc --version | head -n 1`)
	t.Logf("guest: %s", strings.ReplaceAll(facts, "\n", "; "))
	lines := strings.Split(facts, "\n")
	if len(lines) < 3 || lines[0] != "cgroup2fs" || lines[1] != "0" {
		t.Fatalf("the guest is not a cgroup v2 only machine: %q", facts)
	}
	if !hasControllers(lines[2]) {
		t.Fatalf("the guest's cgroup v2 lacks one of memory, pids, cpu: %q", lines[2])
	}
}

// checkLayout checks where racelab put itself: in its leaf, its unit's
// cgroup empty of processes and handing the controllers down.
func checkLayout(t *testing.T, v *vm) {
	t.Helper()
	out := v.must(t, `pid=$(systemctl show -p MainPID --value racelab)
grep '^0::' /proc/$pid/cgroup
echo "unit procs: $(cat `+unitCgroup+`/cgroup.procs | tr '\n' ' ')"
echo "unit subtree: $(cat `+unitCgroup+`/cgroup.subtree_control)"
echo "runs subtree: $(cat `+runsCgroup+`/cgroup.subtree_control)"`)
	t.Logf("layout:\n%s", out)
	lines := strings.Split(out, "\n")
	if len(lines) != 4 || lines[0] != "0::/system.slice/racelab.service/"+supervisor || strings.TrimSpace(lines[1]) != "unit procs:" {
		t.Errorf("racelab is not alone in its leaf %s, or its unit's cgroup holds processes:\n%s", leafCgroup, out)
	}
	for _, l := range lines[2:] {
		if !hasControllers(l) {
			t.Errorf("%q: the memory, pids and cpu controllers are not all handed down", l)
		}
	}
}

// hasControllers reports whether a list of cgroup controllers has the
// three racelab's runs need.
func hasControllers(list string) bool {
	for _, c := range []string{"memory", "pids", "cpu"} {
		if !slices.Contains(strings.Fields(list), c) {
			return false
		}
	}
	return true
}

// standbyFn defines standby, which prints the ids of the runs prepared
// ahead of a request (issue #13): a run whose only container holds one
// process, the waiting shell of its first container (sandbox/runc's
// firstInit, which reads the claiming request's script from fd 7). Such a
// run has run nothing of anyone's; racelab keeps one a slot while it is up.
const standbyFn = `standby() {
	for d in $(find ` + runsCgroup + ` -mindepth 2 -maxdepth 2 -type d -name ctr 2>/dev/null); do
		procs=$(cat $d/cgroup.procs)
		[ "$(echo $procs | wc -w)" = 1 ] || continue
		tr '\0' ' ' </proc/$procs/cmdline 2>/dev/null | grep -q '/proc/self/fd/7' || continue
		run=$(basename $(dirname $d))
		echo ${run%-*}
	done
}
`

// leftoversScript lists, one a line, whatever of racelab's runs is in the
// guest: run cgroups, processes in the unit's cgroups other than in
// racelab's leaf, processes of the sandbox's users (with their cgroup),
// containers in runc's state, run directories, and mounts in racelab's
// mount namespace; and, as "standby ID", the runs prepared ahead. Run
// cgroups are looked for in the whole tree, not only below the unit.
const leftoversScript = standbyFn + `pid=$(systemctl show -p MainPID --value racelab)
standby | sed 's/^/standby /'
find /sys/fs/cgroup -type d -name 'rl*-*' | sed 's/^/cgroup /'
if [ -d ` + unitCgroup + ` ]; then
	find ` + unitCgroup + ` -name cgroup.procs | grep -v '/` + supervisor + `/' | while read -r f; do
		for p in $(cat "$f"); do echo "process $p in $(dirname "$f")"; done
	done
fi
for s in /proc/[0-9]*/status; do
	u=$(awk '/^Uid:/ { print $2 }' "$s" 2>/dev/null)
	p=${s%/status}
	if [ -n "$u" ] && [ "$u" -ge 200000 ] && [ "$u" -lt 201000 ]; then
		echo "sandbox process ${p#/proc/} in $(cut -d: -f3 $p/cgroup 2>/dev/null)"
	fi
done
runc --root /var/lib/racelab/runtime list -q 2>/dev/null | sed 's/^/container /'
crun --root /var/lib/racelab/runtime list -q 2>/dev/null | sed 's/^/container /'
ls /var/lib/racelab/runs 2>/dev/null | sed 's/^/run directory /'
if [ "$pid" != 0 ]; then
	awk '$5 ~ "^/var/lib/racelab/runs/" { print "mount " $5 }' /proc/$pid/mountinfo
fi
`

// leftovers runs leftoversScript and returns what it found that is not
// of a run prepared ahead, and how many of those there are. A stopped
// racelab (standbyOK false) may leave nothing, not even those.
func leftovers(t *testing.T, v *vm, standbyOK bool) (left []string, standbys int) {
	t.Helper()
	out := v.must(t, leftoversScript)
	var ids []string
	for _, l := range strings.Split(out, "\n") {
		if id, ok := strings.CutPrefix(l, "standby "); ok && standbyOK {
			ids = append(ids, id)
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if l == "" || (strings.HasPrefix(l, "standby ") && standbyOK) ||
			slices.ContainsFunc(ids, func(id string) bool { return strings.Contains(l, id) }) {
			continue
		}
		left = append(left, l)
	}
	return left, len(ids)
}

// checkNothingLeft fails the test if a run left anything in the guest,
// or if racelab keeps more runs prepared ahead than it has slots (one a
// core, as racelab.service runs it). A slot's next run is prepared after
// the last one ended, so the check looks again for a while before it
// fails.
func checkNothingLeft(t *testing.T, v *vm) {
	t.Helper()
	slots, err := strconv.Atoi(v.must(t, "nproc"))
	if err != nil {
		t.Fatalf("nproc in the guest: %v", err)
	}
	deadline := time.Now().Add(v.scaled(30 * time.Second))
	for {
		left, standbys := leftovers(t, v, true)
		if len(left) == 0 && standbys <= slots {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("left behind in the guest, beside %d runs prepared ahead for %d slots:\n%s",
				standbys, slots, strings.Join(left, "\n"))
			return
		}
		time.Sleep(time.Second)
	}
}

func raceCell(ctx context.Context, t *testing.T, v *vm) {
	evs := run(ctx, t, v, sandbox.Request{Mode: sandbox.ModeRace, Files: map[string]string{"main.go": racyCounter}}, nil)
	t.Logf("build %d ms (container start %d ms), run %d ms", buildOf(evs).Ms, buildOf(evs).StartMs, exitOf(t, evs).Ms)
	if ex := exitOf(t, evs); !hasKind(evs, sandbox.KindRace) || ex.Code != 66 {
		t.Errorf("race cell: want a race event and exit code 66, got %s", describe(evs))
	}
}

// memoryLimit is the memory limit of a run-mode program, as install
// sets it.
const memoryLimit = 256 << 20

func memoryBomb(ctx context.Context, t *testing.T, v *vm) {
	evs := run(ctx, t, v, sandbox.Request{Files: mainGo(`var keep [][]byte
	for {
		b := make([]byte, 32<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		keep = append(keep, b)
	}`)}, nil)
	ex := exitOf(t, evs)
	t.Logf("exit: reason %s, peak %d MiB, %d ms", ex.Reason, ex.PeakBytes>>20, ex.Ms)
	if ex.Reason != sandbox.ReasonMemory {
		t.Errorf("memory bomb: reason %q, want %q:%s", ex.Reason, sandbox.ReasonMemory, describe(evs))
	}
	if ex.PeakBytes < memoryLimit*3/4 || ex.PeakBytes > memoryLimit+(16<<20) {
		t.Errorf("memory bomb: peak_bytes %d, want near the limit %d", ex.PeakBytes, memoryLimit)
	}
}

// pidsLimit is racelab's default limit of processes and threads a run.
const pidsLimit = 256

// forkBomb forks until the kernel refuses. The children are raw forks
// that wait in pause(2): under TCG a fork and exec of a shell costs
// some 40 ms of the run's one core, so an exec bomb would run out of time
// first. After the refusal the program holds its children for a while,
// so that the test can read the container's cgroup through the agent
// (with one second, that came too late on a busy host).
func forkBomb(ctx context.Context, t *testing.T, v *vm) {
	var cg string
	evs := run(ctx, t, v, sandbox.Request{Files: mainGo(fmt.Sprintf(`for i := 0; i < 2000; i++ {
		pid, _, errno := syscall.RawSyscall(syscall.SYS_FORK, 0, 0, 0)
		if errno != 0 {
			fmt.Println("fork refused after", i, "children:", errno)
			time.Sleep(%d * time.Second)
			return
		}
		if pid == 0 {
			for {
				syscall.RawSyscall(syscall.SYS_PAUSE, 0, 0, 0)
			}
		}
	}
	fmt.Println("the fork bomb was not contained")`, int(v.scaled(5*time.Second).Seconds())), "fmt", "syscall", "time")}, func(e sandbox.Event) {
		if e.Kind == sandbox.KindStdout && strings.Contains(e.Data, "fork refused") {
			cg = v.must(t, standbyFn+`s=" $(echo $(standby)) "
for d in $(find `+runsCgroup+` -mindepth 2 -maxdepth 2 -name ctr); do
	r=$(basename $(dirname $d))
	case "$s" in *" ${r%-*} "*) continue;; esac
	echo "$(cat $d/pids.max) $(cat $d/pids.current) $(grep max $d/pids.events)"
done`)
		}
	})
	ex := exitOf(t, evs)
	out := textOf(evs, sandbox.KindStdout)
	t.Logf("%s; the container's cgroup then (pids.max, pids.current, pids.events): %s; exit: reason %s after %d ms%s",
		strings.TrimSpace(out), cg, ex.Reason, ex.Ms, describe(evs))
	var n int
	if _, err := fmt.Sscanf(out, "fork refused after %d", &n); err != nil || n < pidsLimit/2 || n >= pidsLimit {
		t.Errorf("fork bomb: want a refusal after %d-%d children, got %q%s", pidsLimit/2, pidsLimit, out, describe(evs))
	}
	var max, current, hits int
	if _, err := fmt.Sscanf(cg, "%d %d max %d", &max, &current, &hits); err != nil || max != pidsLimit || current > pidsLimit || hits == 0 {
		t.Errorf("fork bomb: the container's cgroup said %q; want pids.max %d, pids.current at most that, and the limit hit (pids.events max > 0)", cg, pidsLimit)
	}
	// It exits a few seconds after the refusal; a machine loaded enough to
	// take the whole run timeout to get there may stop it instead.
	if ex.Reason != sandbox.ReasonExited && ex.Reason != sandbox.ReasonTimeout {
		t.Errorf("fork bomb: reason %q, want %q", ex.Reason, sandbox.ReasonExited)
	}
}

// spinnerAndSleeper runs the two side by side, to save a run timeout:
// the sleeper first, then, once it sleeps, the spinner.
func spinnerAndSleeper(ctx context.Context, t *testing.T, v *vm) {
	sleeping := make(chan struct{})
	// The group returns once both have, so that what follows it sees
	// them done.
	t.Run("side by side", func(t *testing.T) {
		t.Run("sleeper", func(t *testing.T) {
			t.Parallel()
			sleeper(ctx, t, v, sleeping)
		})
		t.Run("spinner", func(t *testing.T) {
			t.Parallel()
			select {
			case <-sleeping:
			case <-time.After(v.scaled(2 * time.Minute)):
				t.Fatal("the sleeper never started")
			}
			spinner(ctx, t, v)
		})
	})
}

func spinner(ctx context.Context, t *testing.T, v *vm) {
	var cpu string
	evs := run(ctx, t, v, sandbox.Request{GOMAXPROCS: 2, Files: mainGo(`for i := 0; i < 2; i++ {
		go func() {
			for {
			}
		}()
	}
	fmt.Println("spinning")
	select {}`, "fmt")}, func(e sandbox.Event) {
		if e.Kind == sandbox.KindStdout && cpu == "" {
			time.Sleep(2 * time.Second)
			cpu = v.must(t, standbyFn+`s=" $(echo $(standby)) "
for d in $(find `+runsCgroup+` -mindepth 1 -maxdepth 1 -type d); do
	r=$(basename $d)
	case "$s" in *" ${r%-*} "*) continue;; esac
	echo "$(cat $d/cpu.max) $(grep nr_throttled $d/cpu.stat)"
done`)
		}
	})
	ex := exitOf(t, evs)
	t.Logf("exit: reason %s, %d ms of CPU in %d ms; the run's cgroup then (cpu.max, cpu.stat): %s", ex.Reason, ex.CPUMs, ex.Ms, cpu)
	if ex.Reason != sandbox.ReasonTimeout || time.Duration(ex.Ms)*time.Millisecond < runTimeout(v) {
		t.Errorf("spinner: reason %q after %d ms, want %q after at least %v", ex.Reason, ex.Ms, sandbox.ReasonTimeout, runTimeout(v))
	}
	// Two spinning threads would use twice the wall time without the
	// limit; with one core they get at most the wall time.
	if ex.CPUMs > ex.Ms*11/10 || ex.CPUMs < ex.Ms/4 {
		t.Errorf("spinner: %d ms of CPU in %d ms, want at most one core (and some)", ex.CPUMs, ex.Ms)
	}
	// The runs' cgroups (the spinner's and the sleeper's) each have one
	// core while their program runs. (Those of the runs prepared ahead
	// get their limits when a request claims them.)
	for _, l := range strings.Split(cpu, "\n") {
		var quota, period, throttled int
		if _, err := fmt.Sscanf(l, "%d %d nr_throttled %d", &quota, &period, &throttled); err != nil || quota != period {
			t.Errorf("spinner: a run's cgroup said %q, want cpu.max of one core", l)
		}
	}
}

// sleeper waits for ever; it closes sleeping once it does.
func sleeper(ctx context.Context, t *testing.T, v *vm, sleeping chan<- struct{}) {
	evs := run(ctx, t, v, sandbox.Request{Files: mainGo(`done := make(chan bool)
	go func() {
		time.Sleep(time.Hour)
		done <- true
	}()
	fmt.Println("waiting")
	<-done`, "fmt", "time")}, func(e sandbox.Event) {
		if e.Kind == sandbox.KindStdout && sleeping != nil {
			close(sleeping)
			sleeping = nil
		}
	})
	ex := exitOf(t, evs)
	t.Logf("exit: reason %s after %d ms", ex.Reason, ex.Ms)
	if ex.Reason != sandbox.ReasonTimeout {
		t.Errorf("sleeper: reason %q, want %q", ex.Reason, sandbox.ReasonTimeout)
	}
	var dump *sandbox.Event
	for i := range evs {
		if evs[i].Kind == sandbox.KindGoroutines {
			dump = &evs[i]
		}
	}
	if dump == nil || dump.Cause != sandbox.CauseTimeout {
		t.Fatalf("sleeper: no goroutine dump of a timeout:%s", describe(evs))
	}
	states := map[string]bool{}
	for _, g := range dump.Goroutines {
		if g.Top != nil && g.Top.File == "main.go" {
			states[g.State] = true
		}
	}
	if !states["chan receive"] || !states["sleep"] {
		t.Errorf("sleeper: the dump shows %v in main.go; want main's chan receive and the sleep", states)
	}
}

// onCrun switches the service to crun as the README says an instructor
// may (RACELAB_RUNTIME=crun, a restart), and runs the race cell, the
// memory bomb and the fork bomb on it: crun then makes each container's
// cgroup itself, under racelab's, on cgroup v2 with systemd's delegation.
// The runs prepared ahead of requests must be in crun's state, so that
// the steps are known to run on it.
func onCrun(ctx context.Context, t *testing.T, v *vm) {
	v.must(t, `echo RACELAB_RUNTIME=crun >>/etc/default/racelab
systemctl restart racelab`)
	waitReady(ctx, t, v)
	deadline := time.Now().Add(v.scaled(30 * time.Second))
	for {
		out := v.must(t, `crun --version | head -n 1; crun --root /var/lib/racelab/runtime list -q | wc -l`)
		if l := strings.Split(out, "\n"); len(l) == 2 && l[1] != "0" {
			t.Logf("%s: %s containers prepared ahead", l[0], l[1])
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the switch to crun, crun lists none of racelab's containers prepared ahead: %q", out)
		}
		time.Sleep(time.Second)
	}
	for _, step := range []struct {
		name string
		f    func(context.Context, *testing.T, *vm)
	}{{"race", raceCell}, {"memory bomb", memoryBomb}, {"fork bomb", forkBomb}} {
		t.Run(step.name, func(t *testing.T) {
			step.f(ctx, t, v)
			checkNothingLeft(t, v)
		})
	}
}

// restartDuringRun restarts the service while a program runs: racelab
// stops the run, tells its learner, and removes its container before it
// exits; systemd starts it again.
func restartDuringRun(ctx context.Context, t *testing.T, v *vm) {
	before := v.must(t, "systemctl show -p MainPID --value racelab")
	done := false
	evs := run(ctx, t, v, sandbox.Request{Files: mainGo(`fmt.Println("started")
	time.Sleep(time.Hour)`, "fmt", "time")}, func(e sandbox.Event) {
		if e.Kind == sandbox.KindStdout && !done {
			done = true
			v.must(t, "systemctl restart racelab")
		}
	})
	t.Logf("the run's last event: %s", describe(evs[len(evs)-1:]))
	if last := evs[len(evs)-1]; last.Kind != sandbox.KindExit || last.Reason != sandbox.ReasonCanceled {
		t.Errorf("restart: the run ended with %s, want an exit event saying it was canceled", describe(evs[len(evs)-1:]))
	}
	waitReady(ctx, t, v)
	if after := v.must(t, "systemctl show -p MainPID --value racelab"); after == before {
		t.Errorf("restart: racelab's pid is still %s", before)
	}
	checkLayout(t, v)
}

// crashDuringRun kills racelab (SIGKILL) while a program runs: systemd
// kills the rest of the unit and, by Restart=on-failure, starts racelab
// again, which clears what the dead one left.
func crashDuringRun(ctx context.Context, t *testing.T, v *vm) {
	restarts := v.must(t, "systemctl show -p NRestarts --value racelab")
	done := false
	evs, err := post(ctx, v, sandbox.Request{Files: mainGo(`fmt.Println("started")
	time.Sleep(time.Hour)`, "fmt", "time")}, func(e sandbox.Event) {
		if e.Kind == sandbox.KindStdout && !done {
			done = true
			v.must(t, "systemctl kill -s KILL --kill-whom=main racelab")
		}
	})
	t.Logf("the stream ended with %v", err)
	if !done || hasKind(evs, sandbox.KindExit) {
		t.Errorf("crash: want the program's output and no exit event from a killed racelab, got%s", describe(evs))
	}
	waitReady(ctx, t, v)
	if after := v.must(t, "systemctl show -p NRestarts --value racelab"); after == restarts {
		t.Errorf("crash: systemd did not restart racelab (NRestarts still %s)", after)
	}
	checkLayout(t, v)
}

// nsScript runs racelab run as it runs in a container with a private
// cgroup namespace (Docker and podman with --cgroupns=private, Kubernetes
// on cgroup v2): started in its namespace's root, a cgroup that is not the
// hierarchy's root and holds the container's init (a sleep here) beside
// racelab. racelab must move both into its leaf before it can hand
// controllers down to the runs.
const nsScript = `set -e
cg=/sys/fs/cgroup/racelab-ctr-test
mkdir $cg
echo $$ >$cg/cgroup.procs
mkdir -p /tmp/racy
cat >/tmp/racy/main.go <<'EOF'
` + racyCounter + `EOF
status=0
PATH=/usr/local/go/bin:$PATH unshare --cgroup --mount --propagation private sh -ec '
	umount /sys/fs/cgroup
	mount -t cgroup2 cgroup2 /sys/fs/cgroup
	sleep 600 &
	init=$!
	echo "before: $(cat /proc/self/cgroup)"
	racelab run --json --state-dir /var/lib/racelab-ns --cache-dir /var/cache/racelab \
		--build-timeout BUILD_TIMEOUT --runtime-timeout RUNTIME_TIMEOUT --mode race /tmp/racy/main.go >/tmp/racy/events || echo "racelab run: exit status $?"
	echo "runs under: $(cat /sys/fs/cgroup/racelab/cgroup.controllers)"
	echo "init: $(cat /proc/$init/cgroup)"
	echo "racelab'"'"'s shell: $(cat /proc/self/cgroup)"
	echo "root procs: $(cat /sys/fs/cgroup/cgroup.procs | wc -l)"
	echo "root subtree: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
	kill $init
'
grep -q '"kind":"race"' /tmp/racy/events && echo "a race event"
echo $$ >/sys/fs/cgroup/system.slice/racelab-vm-agent.service/cgroup.procs
rmdir $cg/racelab $cg/supervisor $cg
rm -rf /tmp/racy /var/lib/racelab-ns
`

func inCgroupNamespace(ctx context.Context, t *testing.T, v *vm) {
	out := v.must(t, strings.NewReplacer("BUILD_TIMEOUT", buildTimeout(v).String(), "RUNTIME_TIMEOUT", runtimeTimeout(v).String()).Replace(nsScript))
	t.Logf("racelab run in a cgroup namespace:\n%s", out)
	want := []string{
		"before: 0::/",
		"racelab run: exit status 66",
		"runs under: cpu memory pids",
		"init: 0::/" + supervisor,
		"racelab's shell: 0::/" + supervisor,
		"root procs: 0",
		"root subtree: cpu memory pids",
		"a race event",
	}
	got := strings.Split(out, "\n")
	for i, l := range got {
		// runc enables every controller it can on its way down; racelab
		// needs these three.
		for _, p := range []string{"runs under: ", "root subtree: "} {
			if rest, ok := strings.CutPrefix(l, p); ok && hasControllers(rest) {
				got[i] = p + "cpu memory pids"
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("in a cgroup namespace: got\n%s\nwant\n%s", out, strings.Join(want, "\n"))
	}
}

// stopService stops racelab as systemctl does: it must exit 0 on SIGTERM,
// and its cgroups go with it.
func stopService(t *testing.T, v *vm) {
	out := v.must(t, `systemctl stop racelab
systemctl show -p Result --value racelab
systemctl show -p ExecMainStatus --value racelab
test -e `+unitCgroup+` && echo "cgroup left" || echo "cgroup gone"
journalctl -b -u racelab --no-pager | grep -c -i panic || true`)
	if out != "success\n0\ncgroup gone\n0" {
		t.Errorf("systemctl stop racelab: result, exit status, cgroup, panics in the journal = %q; want success, 0, gone, 0", out)
	}
	// The runs it prepared ahead go with it.
	if left, _ := leftovers(t, v, false); len(left) > 0 {
		t.Errorf("left behind in the guest by a stopped racelab:\n%s", strings.Join(left, "\n"))
	}
}

// mainGo is a main.go whose main has body, importing imports.
func mainGo(body string, imports ...string) map[string]string {
	var b strings.Builder
	b.WriteString("package main\n\n")
	for _, imp := range imports {
		fmt.Fprintf(&b, "import %q\n", imp)
	}
	fmt.Fprintf(&b, "\nfunc main() {\n\t%s\n}\n", body)
	return map[string]string{"main.go": b.String()}
}

// buildOf returns the run's build event (zero if it has none).
func buildOf(evs []sandbox.Event) sandbox.Event {
	for _, e := range evs {
		if e.Kind == sandbox.KindBuild {
			return e
		}
	}
	return sandbox.Event{}
}

// textOf joins the Data of the events of kind k.
func textOf(evs []sandbox.Event, k sandbox.Kind) string {
	var b strings.Builder
	for _, e := range evs {
		if e.Kind == k {
			b.WriteString(e.Data)
		}
	}
	return b.String()
}

const racyCounter = `package main

import (
	"fmt"
	"sync"
)

func main() {
	var wg sync.WaitGroup
	n := 0
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				n++
			}
		}()
	}
	wg.Wait()
	fmt.Println("n =", n)
}
`

// waitReady waits until racelab's /readyz answers 200 through the
// forwarded port.
func waitReady(ctx context.Context, t *testing.T, v *vm) {
	t.Helper()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", v.url+"/readyz", nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("/readyz never answered 200 (last: %v)", err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// run posts req to /api/run and returns its events, calling each(e) as
// each arrives; it fails the test if the request or its stream fails.
func run(ctx context.Context, t *testing.T, v *vm, req sandbox.Request, each func(sandbox.Event)) []sandbox.Event {
	t.Helper()
	evs, err := post(ctx, v, req, each)
	if err != nil {
		t.Fatalf("POST /api/run: %v%s", err, describe(evs))
	}
	return evs
}

// post posts req to /api/run and returns the events read, and what
// broke the request or its stream, if anything did.
func post(ctx context.Context, v *vm, req sandbox.Request, each func(sandbox.Event)) ([]sandbox.Event, error) {
	body, _ := json.Marshal(req)
	ctx, cancel := context.WithTimeout(ctx, v.scaled(3*time.Minute))
	defer cancel()
	hr, _ := http.NewRequestWithContext(ctx, "POST", v.url+"/api/run", bytes.NewReader(body))
	hr.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		return nil, fmt.Errorf("%s: %s", res.Status, b)
	}
	var evs []sandbox.Event
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var e sandbox.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return evs, fmt.Errorf("event %q: %w", sc.Text(), err)
		}
		evs = append(evs, e)
		if each != nil {
			each(e)
		}
	}
	return evs, sc.Err()
}

func hasKind(evs []sandbox.Event, k sandbox.Kind) bool {
	for _, e := range evs {
		if e.Kind == k {
			return true
		}
	}
	return false
}

// exitOf returns the run's exit event.
func exitOf(t *testing.T, evs []sandbox.Event) sandbox.Event {
	t.Helper()
	for _, e := range evs {
		if e.Kind == sandbox.KindExit {
			return e
		}
	}
	t.Fatalf("no exit event: %s", describe(evs))
	return sandbox.Event{}
}

// describe shows a run's events briefly, for a failure's message.
func describe(evs []sandbox.Event) string {
	var b strings.Builder
	for _, e := range evs {
		j, _ := json.Marshal(e)
		if len(j) > 300 {
			j = append(j[:300], "..."...)
		}
		fmt.Fprintf(&b, "\n  %s", j)
	}
	return b.String()
}
