//go:build vmtest

package systemd

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A guest that stops answering. Three CI runs saw the guest go silent
// during one run of the race cell: the build event came, then nothing,
// the forwarded port reset every later connection, the agent never
// answered again, and the console showed only the login prompt. What
// stopped cannot be read from inside a guest that does not answer, so
// postMortem asks from outside: QEMU's threads (is a virtual CPU
// spinning, or is every thread asleep?), QEMU's monitor (its state and
// each virtual CPU's registers, the instruction pointer named by the
// guest kernel's symbols), and finally an NMI, which the guest's kernel
// (booted with unknown_nmi_panic) answers with a panic that prints every
// CPU's stack on the console, unless its CPUs no longer run at all.

// postMortem logs what can be seen of a guest that stopped answering.
// It takes up to two minutes and leaves the guest panicked.
func (v *vm) postMortem(logf func(format string, args ...any)) {
	select {
	case err := <-v.exited:
		v.exited <- err
		logf("post-mortem: QEMU has ended: %v", err)
		return
	default:
	}
	logf("post-mortem: QEMU's threads over 3 s (%% of a core):\n%s", v.threadLoad(3*time.Second))
	q, err := dialQMP(v.qmp, 10*time.Second)
	if err != nil {
		logf("post-mortem: QEMU's monitor: %v (a virtual CPU holding QEMU's big lock would do this)", err)
		return
	}
	defer q.close()
	if st, err := q.do("query-status", nil); err != nil {
		logf("post-mortem: query-status: %v", err)
	} else {
		logf("post-mortem: QEMU's state: %s", st)
	}
	if regs, err := q.hmp("info registers -a"); err != nil {
		logf("post-mortem: info registers: %v", err)
	} else {
		// Not appended to the console log: QEMU writes that file at its
		// own offset, and the panic would overwrite them.
		logf("post-mortem: info registers -a:\n%s", regs)
		logf("post-mortem: the virtual CPUs:\n%s", v.summarizeRegisters(regs))
	}
	before := fileSize(v.console)
	if _, err := q.do("inject-nmi", nil); err != nil {
		logf("post-mortem: inject-nmi: %v", err)
		return
	}
	// The panic prints every CPU's stack and every task's through an
	// emulated UART: wait until the console is quiet for 5 s.
	for size, quiet, waited := fileSize(v.console), 0, 0; quiet < 5 && waited < 120; waited++ {
		time.Sleep(time.Second)
		if now := fileSize(v.console); now != size {
			size, quiet = now, 0
		} else {
			quiet++
		}
	}
	b, _ := os.ReadFile(v.console)
	logf("post-mortem: the console after an NMI (the guest panics on it, printing each CPU's stack, then every task's; the whole text is in %s):\n%s",
		v.console, panicDigest(string(b[min(before, int64(len(b))):])))
}

// panicDigest keeps of a panic's console text what tells where the guest
// stood: the stacks of the CPUs (the text before the first task), and of
// the task list (panic_print's show_state) only the tasks that were not
// sleeping (state D, R, ...), not the scheduler's tables after it.
func panicDigest(text string) string {
	if text == "" {
		return "(nothing: the guest's CPUs did not take the NMI)"
	}
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	var cpus, tasks []string
	inTasks, keep := false, false
	for _, l := range lines {
		if strings.Contains(l, "Sched Debug Version") || strings.Contains(l, "runnable tasks:") {
			break
		}
		if i := strings.Index(l, "task:"); i >= 0 {
			inTasks = true
			state := ""
			if j := strings.Index(l, "state:"); j >= 0 && j+6 < len(l) {
				state = l[j+6 : j+7]
			}
			keep = state != "S" && state != "I"
		}
		switch {
		case !inTasks:
			cpus = append(cpus, l)
		case keep:
			tasks = append(tasks, l)
		}
	}
	if len(cpus) > 200 {
		cpus = append(cpus[:200], "...")
	}
	if len(tasks) > 300 {
		tasks = append(tasks[:300], "...")
	}
	return strings.Join(cpus, "\n") + "\n--- tasks not sleeping ---\n" + strings.Join(tasks, "\n")
}

// threadLoad samples the CPU time of each of QEMU's threads (named, as
// -name debug-threads=on has them: "CPU 0/TCG", "worker", ...) over d.
func (v *vm) threadLoad(d time.Duration) string {
	type thread struct {
		name  string // id, name and state at the read
		ticks int64  // user and system time, in clock ticks
	}
	read := func() map[string]thread {
		m := map[string]thread{}
		dirs, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", v.cmd.Process.Pid))
		for _, dir := range dirs {
			comm, _ := os.ReadFile(filepath.Join(dir, "comm"))
			stat, _ := os.ReadFile(filepath.Join(dir, "stat"))
			// Fields after the command's closing parenthesis: state is
			// the first, utime and stime the 12th and 13th.
			s := string(stat)
			f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
			if len(f) < 13 {
				continue
			}
			u, _ := strconv.ParseInt(f[11], 10, 64)
			k, _ := strconv.ParseInt(f[12], 10, 64)
			id := filepath.Base(dir)
			m[id] = thread{id + " " + strings.TrimSpace(string(comm)) + " (" + f[0] + ")", u + k}
		}
		return m
	}
	a := read()
	time.Sleep(d)
	var lines []string
	for id, t := range read() {
		lines = append(lines, fmt.Sprintf("  %-32s %5.0f", t.name, float64(t.ticks-a[id].ticks)/100/d.Seconds()*100))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// ripRe finds each CPU's instruction pointer in "info registers -a".
var ripRe = regexp.MustCompile(`(?m)^(CPU#\d+)|RIP=([0-9a-f]{16})|RFL=([0-9a-f]+)|(HLT)=1`)

// summarizeRegisters keeps of "info registers -a" each CPU's instruction
// pointer (with the guest kernel's symbol for it), flags and halt
// state.
func (v *vm) summarizeRegisters(regs string) string {
	syms := v.loadKallsyms()
	var b strings.Builder
	for _, m := range ripRe.FindAllStringSubmatch(regs, -1) {
		switch {
		case m[1] != "":
			fmt.Fprintf(&b, "\n%s:", m[1])
		case m[2] != "":
			rip, _ := strconv.ParseUint(m[2], 16, 64)
			fmt.Fprintf(&b, " RIP %s %s", m[2], syms.name(rip))
		case m[3] != "":
			fl, _ := strconv.ParseUint(m[3], 16, 64)
			fmt.Fprintf(&b, " RFL %s (interrupts %s)", m[3], map[bool]string{true: "on", false: "off"}[fl&0x200 != 0])
		case m[4] != "":
			b.WriteString(" halted")
		}
	}
	return strings.TrimPrefix(b.String(), "\n")
}

// saveKallsyms writes the guest's text symbols to path from the agent's
// answer: gzip, base64, one line (late answers to connect's tries may
// come before it).
func saveKallsyms(path, answer string) {
	lines := strings.Split(strings.TrimSpace(answer), "\n")
	z, err := base64.StdEncoding.DecodeString(lines[len(lines)-1])
	if err != nil {
		return
	}
	r, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		return
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return
	}
	os.WriteFile(path, b, 0o644)
}

// kallsyms is the guest kernel's text symbols, as saveKallsyms kept them.
type kallsyms []kallsym

type kallsym struct {
	addr uint64
	name string
}

// loadKallsyms reads what saveKallsyms kept at boot; nil if nothing.
func (v *vm) loadKallsyms() kallsyms {
	b, err := os.ReadFile(v.kallsyms)
	if err != nil {
		return nil
	}
	var ks kallsyms
	for _, l := range strings.Split(string(b), "\n") {
		fs := strings.Fields(l)
		if len(fs) < 3 {
			continue
		}
		if a, err := strconv.ParseUint(fs[0], 16, 64); err == nil {
			ks = append(ks, kallsym{a, fs[2]})
		}
	}
	return ks
}

// name names a guest kernel address by the symbol at or below it.
func (ks kallsyms) name(addr uint64) string {
	if addr < 1<<63 {
		return "(user space)"
	}
	best := -1
	for i, s := range ks {
		if s.addr <= addr && (best < 0 || s.addr >= ks[best].addr) {
			best = i
		}
	}
	if best < 0 {
		return ""
	}
	return fmt.Sprintf("%s+0x%x", ks[best].name, addr-ks[best].addr)
}

// qmp is a connection to QEMU's machine protocol.
type qmp struct {
	c net.Conn
	r *bufio.Reader
}

// dialQMP connects and leaves the greeting's capabilities negotiation
// done; every later answer must come within timeout.
func dialQMP(path string, timeout time.Duration) (*qmp, error) {
	c, err := net.DialTimeout("unix", path, timeout)
	if err != nil {
		return nil, err
	}
	q := &qmp{c: c, r: bufio.NewReader(c)}
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := q.r.ReadString('\n'); err != nil { // the greeting
		c.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	if _, err := q.do("qmp_capabilities", nil); err != nil {
		c.Close()
		return nil, err
	}
	return q, nil
}

func (q *qmp) close() { q.c.Close() }

// do runs one command and returns its "return" value; events on the way
// are skipped.
func (q *qmp) do(cmd string, args any) (json.RawMessage, error) {
	q.c.SetDeadline(time.Now().Add(10 * time.Second))
	m := map[string]any{"execute": cmd}
	if args != nil {
		m["arguments"] = args
	}
	if err := json.NewEncoder(q.c).Encode(m); err != nil {
		return nil, err
	}
	for {
		line, err := q.r.ReadBytes('\n')
		if err != nil {
			return nil, err
		}
		var ans struct {
			Return json.RawMessage `json:"return"`
			Error  *struct {
				Desc string `json:"desc"`
			} `json:"error"`
		}
		if err := json.Unmarshal(line, &ans); err != nil {
			return nil, fmt.Errorf("%q: %w", line, err)
		}
		if ans.Error != nil {
			return nil, fmt.Errorf("%s: %s", cmd, ans.Error.Desc)
		}
		if ans.Return != nil {
			return ans.Return, nil
		}
	}
}

// hmp runs a human monitor command.
func (q *qmp) hmp(line string) (string, error) {
	raw, err := q.do("human-monitor-command", map[string]string{"command-line": line})
	if err != nil {
		return "", err
	}
	var s string
	err = json.Unmarshal(raw, &s)
	return s, err
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}
