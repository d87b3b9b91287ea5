package runc

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// A race binary starts by writing over its static data: some 15 MiB of
// zeros, thousands of 4 KiB page faults. On a virtual machine, where a
// fault costs up to ten microseconds, that was half of a race run's start
// (a 55 ms start and exit of a hello world, 28 ms on huge pages; README,
// "How long it takes"). So the skeleton holds a small library of racelab's
// own, preload/hugepages.c, named in the containers' /etc/ld.so.preload: the
// dynamic loader loads it into every dynamically linked program (race
// binaries are, for the race runtime's libc; the toolchain is static), and
// it asks the kernel to back the main program's zero-filled data with
// huge pages before the program runs. The kernel does so where its
// transparent huge pages are set to madvise (the usual default) or
// always; with never, nothing changes. The program's environment is
// untouched, and the skeleton is read-only in every container, so no run
// can replace the library for a later one.

//go:embed preload/hugepages.c
var hugePagesC []byte

// preloadLib is where the library is in a container.
const preloadLib = "/racelab/hugepages.so"

// cBuildTimeout bounds gcc's build of one of racelab's C programs.
const cBuildTimeout = time.Minute

// writePreload builds the library into the skeleton below root and names
// it in root/etc/ld.so.preload.
func writePreload(ctx context.Context, root string) error {
	lib := filepath.Join(root, preloadLib)
	if err := buildC(ctx, hugePagesC, "hugepages.c", lib, 0o644, "-shared", "-fPIC"); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, "etc", "ld.so.preload"), []byte(preloadLib+"\n"), 0o644)
}

// buildC compiles src (named name) with gcc and flags into out, with
// mode, making out's directory first.
func buildC(ctx context.Context, src []byte, name, out string, mode os.FileMode, flags ...string) error {
	ctx, cancel := context.WithTimeout(ctx, cBuildTimeout)
	defer cancel()
	tmp, err := os.MkdirTemp("", "racelab-c-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	file := filepath.Join(tmp, name)
	if err := os.WriteFile(file, src, 0o644); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	args := append([]string{"-O2", "-Wall", "-Werror"}, flags...)
	cmd := exec.CommandContext(ctx, "gcc", append(args, "-o", out, file)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gcc: %v\n%s", err, b)
	}
	return os.Chmod(out, mode)
}
