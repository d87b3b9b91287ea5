package runc

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racelab/racelab/sandbox"
)

// The sealed copy runs as the binary did when it was made, cannot be
// written, does not follow later changes of the installed binary, and
// is gone with its link once closed.
func TestSealRuntime(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "fakeruntime")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho first \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "exe")
	e, err := sealRuntime(bin, dir)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(e.path) != "fakeruntime" {
		t.Errorf("the link is %s, want it named as the runtime", e.path)
	}
	run := func() string {
		out, err := exec.Command(e.path, "run").CombinedOutput()
		if err != nil {
			t.Fatalf("running the sealed copy: %v: %s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := run(); got != "first run" {
		t.Fatalf("the sealed copy printed %q, want %q", got, "first run")
	}
	seals, err := unix.FcntlInt(e.file.Fd(), unix.F_GET_SEALS, 0)
	if err != nil || seals != sealedSeals {
		t.Errorf("seals %#x (%v), want %#x", seals, err, sealedSeals)
	}
	if _, err := e.file.WriteAt([]byte("#!/bin/sh\necho changed\n"), 0); !errors.Is(err, syscall.EPERM) {
		t.Errorf("writing the sealed copy: %v, want EPERM", err)
	}
	f, err := os.OpenFile(e.path, os.O_WRONLY, 0)
	if err == nil {
		_, err = f.Write([]byte("#!/bin/sh\necho changed\n"))
		f.Close()
	}
	if err == nil {
		t.Error("the sealed copy was written through its link")
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho second\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := run(); got != "first run" {
		t.Errorf("after the installed binary changed, the sealed copy printed %q, want %q", got, "first run")
	}
	e.close()
	if _, err := os.Lstat(e.path); !os.IsNotExist(err) {
		t.Errorf("the link is still there after close: %v", err)
	}
}

// sealRuntime replaces a link a runner of an earlier process left.
func TestSealRuntimeReplacesStaleLink(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/proc/999999999/fd/7", filepath.Join(dir, "true")); err != nil {
		t.Fatal(err)
	}
	e, err := sealRuntime("/bin/true", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	if out, err := exec.Command(e.path).CombinedOutput(); err != nil {
		t.Fatalf("running the sealed copy over a stale link: %v: %s", err, out)
	}
}

// TestRuntimeStartsSealed checks from the host that the runtime that runs
// a container is the runner's sealed copy (so it need not copy itself),
// named as the runtime; runsc runs as installed.
func TestRuntimeStartsSealed(t *testing.T) {
	r := runner(t)
	if gvisor() {
		if r.exe != nil {
			t.Fatalf("runsc starts from %s, want its installed binary", r.exe.path)
		}
		return
	}
	if r.exe == nil {
		t.Fatal("the runner has no sealed copy of its runtime")
	}
	name := filepath.Base(r.runtime)
	var (
		once sync.Once
		exes []string
	)
	res := &result{}
	res.err = r.Run(context.Background(), &sandbox.Request{Mode: sandbox.ModeRun, Files: map[string]string{"main.go": hugeProgram}},
		func(e sandbox.Event) {
			res.add(e)
			if e.Kind == sandbox.KindStdout && strings.Contains(e.Data, "ready") {
				once.Do(func() { exes = runtimeExes(t, name) })
			}
		})
	outcome{reason: sandbox.ReasonExited, stdout: []string{"ready"}}.check(t, res)
	if len(exes) == 0 {
		t.Fatalf("no process named %s of this test ran while the program did", name)
	}
	want := "/memfd:" + name + " (deleted)"
	for _, exe := range exes {
		if exe != want {
			t.Errorf("a %s process runs %s, want the sealed copy (%s)", name, exe, want)
		}
	}
}

// runtimeExes are the executables of this process's children named name.
func runtimeExes(t *testing.T, name string) []string {
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		t.Fatal(err)
	}
	me := strconv.Itoa(os.Getpid())
	var exes []string
	for _, dir := range dirs {
		comm, _ := os.ReadFile(filepath.Join(dir, "comm"))
		stat, _ := os.ReadFile(filepath.Join(dir, "stat"))
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if strings.TrimSpace(string(comm)) != name || len(f) < 2 || f[1] != me {
			continue
		}
		if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
			exes = append(exes, exe)
		}
	}
	return exes
}
