package runc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/racelab/racelab/sandbox"
)

// hugeProgram prints ready and waits: a race binary, caught while it runs.
const hugeProgram = `package main

import (
	"fmt"
	"time"
)

func main() {
	fmt.Println("ready")
	time.Sleep(1500 * time.Millisecond)
}
`

// TestHugePages checks from the host that a race program of a container
// has its zero-filled static data marked for huge pages (VmFlags hg, on
// the mapping the kernel made for it, of megabytes), and on huge pages
// where the host's transparent huge pages allow them; and that the
// library that does it is in the skeleton, named in its ld.so.preload,
// and unchanged by a run that tries to overwrite it.
func TestHugePages(t *testing.T) {
	r := runner(t)
	lib := filepath.Join(r.rootfs, preloadLib)
	before := fileSum(t, lib)
	if b, err := os.ReadFile(filepath.Join(r.rootfs, "etc", "ld.so.preload")); err != nil || string(b) != preloadLib+"\n" {
		t.Fatalf("the skeleton's ld.so.preload holds %q (%v), want %s", b, err, preloadLib)
	}
	if gvisor() {
		// gVisor's own kernel backs the program's memory: the host sees
		// its sandbox, not the program. A race run must still work.
		res := runSrc(t, sandbox.ModeRace, hugeProgram)
		outcome{reason: sandbox.ReasonExited, stdout: []string{"ready"}}.check(t, res)
		return
	}
	var (
		once  sync.Once
		found hugeMapping
		pid   string
	)
	res := &result{}
	res.err = r.Run(context.Background(), &sandbox.Request{Mode: sandbox.ModeRace, Files: map[string]string{"main.go": hugeProgram}},
		func(e sandbox.Event) {
			res.add(e)
			if e.Kind == sandbox.KindStdout && strings.Contains(e.Data, "ready") {
				once.Do(func() { pid, found = programMapping(r) })
			}
		})
	outcome{reason: sandbox.ReasonExited, stdout: []string{"ready"}}.check(t, res)
	if pid == "" {
		t.Fatalf("no process named prog of the sandbox while the program ran: %v", sandboxProcesses(r))
	}
	if found.size < 4<<20 {
		t.Fatalf("process %s has no mapping of 4 MiB or more marked for huge pages (largest marked: %d bytes)", pid, found.size)
	}
	mode := thpMode(t)
	t.Logf("transparent huge pages %q: the static data's mapping is %d KiB, %d KiB of it on huge pages", mode, found.size>>10, found.huge>>10)
	if (mode == "madvise" || mode == "always") && found.huge == 0 {
		t.Errorf("transparent huge pages are %q, and the program's static data has no huge page", mode)
	}
	if after := fileSum(t, lib); after != before {
		t.Errorf("the library changed during the run")
	}
}

// hugeMapping is the largest mapping of a process marked for huge pages.
type hugeMapping struct {
	size int64 // bytes
	huge int64 // AnonHugePages, bytes
}

// programMapping finds the sandbox's process named prog and its largest
// mapping with VmFlags hg.
func programMapping(r *Runner) (string, hugeMapping) {
	pid := processNamed(r, "prog")
	if pid == "" {
		return "", hugeMapping{}
	}
	f, err := os.Open(filepath.Join("/proc", pid, "smaps"))
	if err != nil {
		return pid, hugeMapping{}
	}
	defer f.Close()
	var best, cur hugeMapping
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		switch {
		case len(fields) > 0 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			lo, hi, _ := strings.Cut(fields[0], "-")
			a, _ := strconv.ParseUint(lo, 16, 64)
			b, _ := strconv.ParseUint(hi, 16, 64)
			cur = hugeMapping{size: int64(b - a)}
		case len(fields) >= 2 && fields[0] == "AnonHugePages:":
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			cur.huge = kb << 10
		case len(fields) > 0 && fields[0] == "VmFlags:":
			for _, fl := range fields[1:] {
				if fl == "hg" && cur.size > best.size {
					best = cur
				}
			}
		}
	}
	return pid, best
}

// processNamed is the pid of the sandbox's process named name, or "".
func processNamed(r *Runner, name string) string {
	for _, p := range sandboxProcesses(r) {
		pid, rest, _ := strings.Cut(p, " ")
		if comm, _, _ := strings.Cut(rest, " "); comm == name {
			return pid
		}
	}
	return ""
}

// thpMode is the host's transparent huge page setting: always, madvise
// or never.
func thpMode(t *testing.T) string {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		return "none"
	}
	_, rest, ok := bytes.Cut(b, []byte("["))
	mode, _, _ := bytes.Cut(rest, []byte("]"))
	if !ok {
		t.Fatalf("unreadable transparent_hugepage/enabled: %q", b)
	}
	return string(mode)
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// Without a working gcc the skeleton gets no preload library and no
// ld.so.preload (the runner says so and goes on: race programs start on
// 4 KiB pages); with one, an ELF shared object and the file naming it.
func TestWritePreload(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "gcc"), []byte("#!/bin/sh\necho 'gcc: fatal error: no input files' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Run("BrokenGCC", func(t *testing.T) {
		t.Setenv("PATH", bin)
		err := writePreload(t.Context(), root)
		if err == nil || !strings.Contains(err.Error(), "gcc") || !strings.Contains(err.Error(), "fatal error") {
			t.Fatalf("writePreload with a broken gcc: %v; want gcc's failure and its words", err)
		}
		if _, err := os.Stat(filepath.Join(root, "etc", "ld.so.preload")); !os.IsNotExist(err) {
			t.Errorf("ld.so.preload written without a library (stat: %v)", err)
		}
	})
	t.Run("Built", func(t *testing.T) {
		if err := writePreload(t.Context(), root); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(root, preloadLib))
		if err != nil || !bytes.HasPrefix(b, []byte("\x7fELF")) {
			t.Fatalf("the library is not an ELF file (%d bytes, %v)", len(b), err)
		}
		if b, err := os.ReadFile(filepath.Join(root, "etc", "ld.so.preload")); err != nil || string(b) != preloadLib+"\n" {
			t.Errorf("ld.so.preload holds %q (%v), want %s", b, err, preloadLib)
		}
	})
}
