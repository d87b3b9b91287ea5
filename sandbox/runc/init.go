package runc

import (
	"context"
	_ "embed"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// A program's container used to start it from a shell (which, in a
// container prepared ahead, said it started and waited for the go-ahead)
// and coreutils' timeout (the deadline that ends the program should
// racelab itself die): two dynamically linked programs loaded, a locale
// read and two execs before the program's own. In a class, where most
// containers are a repeat's, they were a sixth of the machine's CPU. So
// the skeleton holds a static init of racelab's own, preload/init.c,
// built with gcc when the runner opens, that does both in one process:
// a prepared container's whole init is `/racelab/init 3 4 …` and a first
// container's shell ends with `exec /racelab/init -1 -1 …`. Builds keep
// coreutils' timeout (one a run, and the go command's processes). Where
// gcc cannot link a static program (no libc.a), the runner says so and
// uses the shell and timeout as before.

//go:embed preload/init.c
var initC []byte

// ctrInit is where the init is in a container.
const ctrInit = "/racelab/init"

// writeInit builds the init into the skeleton below root.
func writeInit(ctx context.Context, root string) error {
	return buildC(ctx, initC, "init.c", filepath.Join(root, ctrInit), 0o755, "-static")
}

// initArgs runs argv under the init with the run's deadline (see
// deadline), with the ready line written on fd ready and the go-ahead
// read from fd goAhead (-1: none).
func (j *job) initArgs(ready, goAhead int, argv []string) []string {
	l := j.r.cfg.Limits
	sig, grace := syscall.SIGQUIT, l.KillGrace
	if grace <= 0 {
		sig, grace = syscall.SIGKILL, 0
	}
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	return append([]string{ctrInit, strconv.Itoa(ready), strconv.Itoa(goAhead), strconv.Itoa(int(sig)),
		ms(grace), ms(l.RunTimeout + backstop)}, argv...)
}
