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

// preloadBuildTimeout bounds gcc's build of the library.
const preloadBuildTimeout = time.Minute

// writePreload builds the library into the skeleton below root and names
// it in root/etc/ld.so.preload.
func writePreload(ctx context.Context, root string) error {
	ctx, cancel := context.WithTimeout(ctx, preloadBuildTimeout)
	defer cancel()
	tmp, err := os.MkdirTemp("", "racelab-hugepages-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "hugepages.c")
	if err := os.WriteFile(src, hugePagesC, 0o644); err != nil {
		return err
	}
	lib := filepath.Join(root, preloadLib)
	if err := os.MkdirAll(filepath.Dir(lib), 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "gcc", "-O2", "-shared", "-fPIC", "-Wall", "-Werror", "-o", lib, src)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gcc: %v\n%s", err, out)
	}
	if err := os.Chmod(lib, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, "etc", "ld.so.preload"), []byte(preloadLib+"\n"), 0o644)
}
