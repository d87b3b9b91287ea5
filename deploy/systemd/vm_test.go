//go:build vmtest

package systemd

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// vmConfig is what scripts/vm-test made for the guest.
type vmConfig struct {
	kernel, initrd string // Debian's, from the guest's root file system
	root           string // the guest's root disk, ext4, made for this run
	dir            string // where the console log and the agent's socket go
}

// vmConfigFromEnv reads the RACELAB_VM_* variables scripts/vm-test sets.
func vmConfigFromEnv() (vmConfig, error) {
	c := vmConfig{
		kernel: os.Getenv("RACELAB_VM_KERNEL"),
		initrd: os.Getenv("RACELAB_VM_INITRD"),
		root:   os.Getenv("RACELAB_VM_ROOT"),
		dir:    os.Getenv("RACELAB_VM_LOG"),
	}
	for name, p := range map[string]string{"RACELAB_VM_KERNEL": c.kernel, "RACELAB_VM_INITRD": c.initrd,
		"RACELAB_VM_ROOT": c.root, "RACELAB_VM_LOG": c.dir} {
		if p == "" {
			return c, fmt.Errorf("%s is not set: run scripts/vm-test, which makes the guest", name)
		}
		if _, err := os.Stat(p); err != nil {
			return c, fmt.Errorf("%s: %w", name, err)
		}
	}
	return c, nil
}

// guestPort is where racelab listens in the guest; QEMU forwards a port
// of the host's loopback to it.
const guestPort = 8080

// vm is a QEMU guest under TCG (no KVM here), with the test's agent on a
// virtio serial port and racelab's port forwarded to the host.
type vm struct {
	cmd      *exec.Cmd
	exited   chan error // QEMU's end
	url      string     // racelab, from the host: http://127.0.0.1:PORT
	console  string     // the serial console's log
	qmp      string     // QEMU's monitor socket, for a post-mortem
	kallsyms string     // the guest kernel's text symbols, read at boot

	// slow is how much slower than a quiet host the guest booted, 1 to
	// maxSlow: every time limit of the test and of the racelab it
	// installs is scaled by it (see scaled).
	slow float64

	mu    sync.Mutex // one command at a time on the agent's channel
	agent net.Conn
	r     *bufio.Reader
}

// The guest's speed. Under TCG the guest shares the host's two cores with
// whatever else runs there: its boot, 22-24 s on a quiet host, took 111 s
// beside four busy processes, and every later step slowed alike (a race
// build 7 s -> 34 s, a container start 57 ms -> 1.9 s). A test whose
// limits were set for a quiet host then fails for time alone, each step
// after the first a casualty of the one before. So the boot is the test's
// yardstick: its limits, and those racelab gets at install, grow with it,
// up to maxSlow. A failure logs the host's load and the factor.
const (
	quietBoot = 25 * time.Second
	maxSlow   = 4
)

// scaled is d on this guest: d times its slowness.
func (v *vm) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * v.slow)
}

// boot starts the guest and returns once its agent answers.
func boot(ctx context.Context, t *testing.T, c vmConfig) *vm {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(c.dir, "agent.sock")
	os.Remove(sock)
	v := &vm{slow: 1, url: "http://127.0.0.1:" + strconv.Itoa(port), console: filepath.Join(c.dir, "console.log"),
		qmp: filepath.Join(c.dir, "qmp.sock"), kallsyms: filepath.Join(c.dir, "kallsyms"), exited: make(chan error, 1)}
	os.Remove(v.qmp)
	v.cmd = exec.Command("qemu-system-x86_64",
		"-machine", "q35", "-accel", "tcg,thread=multi", "-cpu", "max", "-smp", "2", "-m", "3072",
		"-display", "none", "-monitor", "none", "-no-reboot",
		"-name", "racelab-vm,debug-threads=on",
		"-qmp", "unix:"+v.qmp+",server=on,wait=off",
		"-serial", "file:"+v.console,
		"-kernel", c.kernel, "-initrd", c.initrd,
		// quiet, as Debian's boot loader has it: every line the kernel
		// prints goes through an emulated UART. An NMI from the host
		// (postMortem) panics the guest, printing every CPU's stack and
		// every task's.
		"-append", "root=/dev/vda rw console=ttyS0 quiet panic=-1 unknown_nmi_panic panic_print=0x41",
		// snapshot=on: the guest's writes go to a temporary file, so that
		// another boot (scripts/vm-test's second guest) starts afresh.
		"-drive", "file="+c.root+",format=raw,if=virtio,snapshot=on",
		// restrict=on: the guest reaches nothing but what is forwarded
		// to it; racelab needs no network beyond its own port.
		"-nic", fmt.Sprintf("user,model=virtio-net-pci,restrict=on,hostfwd=tcp:127.0.0.1:%d-:%d", port, guestPort),
		"-device", "virtio-serial-pci",
		"-chardev", "socket,id=agent,path="+sock+",server=on,wait=off",
		"-device", "virtserialport,chardev=agent,name=racelab-vm-agent",
	)
	out, err := os.Create(filepath.Join(c.dir, "qemu.log"))
	if err != nil {
		t.Fatal(err)
	}
	v.cmd.Stdout, v.cmd.Stderr = out, out
	start := time.Now()
	if err := v.cmd.Start(); err != nil {
		t.Fatalf("qemu: %v", err)
	}
	go func() { v.exited <- v.cmd.Wait(); out.Close() }()
	t.Cleanup(v.stop)
	if err := v.connect(ctx, sock); err != nil {
		t.Fatalf("the guest's agent never answered: %v (console: %s)", err, v.console)
	}
	took := time.Since(start)
	// Debian's System.map is a placeholder: a post-mortem names kernel
	// addresses with this boot's own symbols (KASLR moves them).
	if out, err := v.exchange("grep ' [Tt] ' /proc/kallsyms | gzip -1 | base64 -w0; echo", time.Now().Add(2*time.Minute)); err == nil {
		saveKallsyms(v.kallsyms, out)
	}
	v.slow = min(max(float64(took)/float64(quietBoot), 1), maxSlow)
	t.Logf("booted: the agent answered %.1f s after QEMU started (%.0f s on a quiet host; host load %s): the test's time limits are scaled by %.2f",
		took.Seconds(), quietBoot.Seconds(), hostLoad(), v.slow)
	return v
}

// stop powers the guest off; its disk is thrown away with the run.
func (v *vm) stop() {
	if v.agent != nil {
		v.agent.Close()
	}
	v.cmd.Process.Kill()
	<-v.exited
}

// connect dials the agent's socket and asks until the guest answers: the
// port opens only once systemd has started the agent.
func (v *vm) connect(ctx context.Context, sock string) error {
	for {
		if v.agent == nil {
			if c, err := net.Dial("unix", sock); err == nil {
				v.agent, v.r = c, bufio.NewReader(c)
			}
		}
		if v.agent != nil {
			if _, err := v.exchange("true", time.Now().Add(2*time.Second)); err == nil {
				return nil
			}
		}
		select {
		case err := <-v.exited:
			v.exited <- err
			return fmt.Errorf("qemu ended: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// answers reports whether the guest's agent still runs a command.
func (v *vm) answers() bool {
	_, err := v.exchange("true", time.Now().Add(v.scaled(30*time.Second)))
	return err == nil
}

// errStatus is a script's exit status other than 0.
type errStatus struct {
	status int
	out    string
}

func (e *errStatus) Error() string { return fmt.Sprintf("exit status %d: %s", e.status, e.out) }

// exchange sends script to the agent and reads its answer until the
// script's nonce and status, by deadline.
func (v *vm) exchange(script string, deadline time.Time) (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var b [8]byte
	rand.Read(b[:])
	nonce := "@" + hex.EncodeToString(b[:])
	v.agent.SetDeadline(deadline)
	if _, err := fmt.Fprintf(v.agent, "%s %s\n", nonce, base64.StdEncoding.EncodeToString([]byte(script))); err != nil {
		return "", err
	}
	var out strings.Builder
	for {
		line, err := v.r.ReadString('\n')
		if err != nil {
			return out.String(), err
		}
		if s, ok := strings.CutPrefix(line, nonce+" "); ok {
			status, _ := strconv.Atoi(strings.TrimSpace(s))
			text := strings.TrimSuffix(out.String(), "\n")
			if status != 0 {
				return text, &errStatus{status, text}
			}
			return text, nil
		}
		out.WriteString(line)
	}
}

// sh runs a shell script in the guest as root and returns its output
// (standard output and error); a status other than 0 is an error.
func (v *vm) sh(script string) (string, error) {
	return v.exchange(script, time.Now().Add(v.scaled(3*time.Minute)))
}

// must is sh that fails the test on an error.
func (v *vm) must(t *testing.T, script string) string {
	t.Helper()
	out, err := v.sh(script)
	if err != nil {
		t.Fatalf("in the guest: %s\n-> %v", script, err)
	}
	return out
}

// freePort returns a port of the host's loopback that was free a moment
// ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// hostLoad is the host's load averages, for a message.
func hostLoad() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return err.Error()
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return strings.TrimSpace(string(b))
	}
	return strings.Join(f[:3], " ")
}
