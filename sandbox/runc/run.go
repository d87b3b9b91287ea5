package runc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/internal/gotool"
	"github.com/racelab/racelab/sandbox/internal/stream"
)

// Run builds and runs req in fresh containers; see sandbox.Runner.
func (r *Runner) Run(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
	emit, done, err := gotool.Begin(req, r.cfg.Limits, emit)
	if err != nil || done {
		return err
	}
	r.active.Add(1)
	defer r.active.Done()
	var slot int
	select {
	case slot = <-r.slots:
	case <-ctx.Done():
		emit(gotool.Canceled(req, r.cfg.Limits))
		return nil
	}
	defer func() { r.slots <- slot }()
	ru, err := r.newRun(req, emit, slot)
	if err != nil {
		return err
	}
	defer ru.cleanup()
	return ru.execute(ctx)
}

// run is one request on its way through the containers.
type run struct {
	r     *Runner
	id    string
	uid   int    // the slot's user and group
	dir   string // the run's own tmpfs on the host: bundles, logs, the kept binary; root's alone
	data  string // below dir, a second tmpfs the containers write: src/ and cache/
	req   *sandbox.Request
	plan  gotool.Plan
	emit  func(sandbox.Event)
	n     int // containers started so far
	tally *stream.Tally
}

// prefix starts the id of every run of this runner; it is derived from the
// state directory so that runners with different state directories never
// touch each other's cgroups.
func (r *Runner) prefix() string {
	h := sha256.Sum256([]byte(r.cfg.StateDir))
	return "rl" + hex.EncodeToString(h[:])[:6]
}

// newRun makes the run's directories: two size-limited tmpfs mounts, one
// for what only racelab writes (so a program that fills its disk cannot
// break the runner) and, inside it, one for the submitted files and the
// run's cache layer.
func (r *Runner) newRun(req *sandbox.Request, emit func(sandbox.Event), slot int) (*run, error) {
	id := fmt.Sprintf("%s-%d-%d", r.prefix(), os.Getpid(), r.seq.Add(1))
	dir := filepath.Join(r.runs, id)
	ru := &run{r: r, id: id, uid: r.cfg.UID + slot, dir: dir, data: filepath.Join(dir, "data"), req: req, emit: emit,
		plan: gotool.PlanFor(req.Mode, ctrTmp+"/prog")}
	if req.Repeat > 1 {
		ru.tally = stream.NewTally()
	}
	if err := os.Mkdir(ru.dir, 0o700); err != nil {
		return nil, fmt.Errorf("runc: run directory: %w", err)
	}
	size := "size=" + strconv.FormatInt(r.cfg.Limits.TmpBytes, 10)
	if err := unix.Mount("tmpfs", ru.dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, size+",mode=0700"); err != nil {
		os.Remove(ru.dir)
		return nil, fmt.Errorf("runc: mount the run's tmpfs: %w", err)
	}
	err := os.Mkdir(ru.data, 0o700)
	if err == nil {
		err = unix.Mount("tmpfs", ru.data, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, size+",mode=0755")
	}
	if err == nil {
		err = ru.writeFiles()
	}
	if err != nil {
		ru.cleanup()
		return nil, fmt.Errorf("runc: prepare the run's files: %w", err)
	}
	return ru, nil
}

func (ru *run) writeFiles() error {
	uid, gid := ru.uid, ru.r.cfg.GID+(ru.uid-ru.r.cfg.UID)
	src := filepath.Join(ru.data, "src")
	upper := filepath.Join(ru.data, "cache", "upper")
	dirs := []string{src, upper, filepath.Join(ru.data, "cache", "work")}
	// The warm cache is root's; the run adds entries through directories
	// of its own upper layer, which overlayfs shows in place of the lower
	// ones.
	for i := 0; i < 256; i++ {
		dirs = append(dirs, filepath.Join(upper, fmt.Sprintf("%02x", i)))
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := os.Chown(d, uid, gid); err != nil {
			return err
		}
	}
	files := ru.req.Files
	if _, ok := files["go.mod"]; !ok {
		files = map[string]string{"go.mod": gotool.GoMod}
		for k, v := range ru.req.Files {
			files[k] = v
		}
	}
	if m := ru.req.Mode; m == sandbox.ModeRun || m == sandbox.ModeRace {
		files, _ = gotool.WrapMain(files)
	}
	for name, body := range files {
		p := filepath.Join(src, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return err
		}
		if err := os.Chown(p, uid, gid); err != nil {
			return err
		}
	}
	// A fresh trim stamp keeps the go command from scanning (and trimming
	// into this layer) the whole warm cache; see cache.go.
	stamp := filepath.Join(upper, "trim.txt")
	if err := os.WriteFile(stamp, []byte(strconv.FormatInt(time.Now().Unix(), 10)), 0o644); err != nil {
		return err
	}
	return os.Chown(stamp, uid, gid)
}

// cleanup removes the run's directories and everything in them.
func (ru *run) cleanup() {
	for _, d := range []string{ru.data, ru.dir} {
		if err := unix.Unmount(d, 0); err != nil {
			_ = unix.Unmount(d, unix.MNT_DETACH)
		}
	}
	if err := os.RemoveAll(ru.dir); err != nil {
		ru.r.cfg.Log.Error("remove run directory", "dir", ru.dir, "err", err)
	}
}

// runIndex is the run number put on events: 0 unless the request repeats.
func (ru *run) runIndex(i int) int {
	if ru.req.Repeat > 1 {
		return i
	}
	return 0
}

// execute builds (and runs, once) in the first container, then runs the
// built binary again in a fresh container for each further repeat.
func (ru *run) execute(ctx context.Context) error {
	ok, err := ru.buildAndRun(ctx)
	if err != nil {
		return err
	}
	for i := 2; ok && i <= ru.req.Repeat; i++ {
		if ctx.Err() != nil {
			// Stopped between two runs: say so, as a run stopped midway
			// would.
			ru.emit(gotool.Canceled(ru.req, ru.r.cfg.Limits))
			break
		}
		if ok, err = ru.runAgain(ctx, i); err != nil {
			return err
		}
	}
	// A repeated request always ends with its summary, also when it was
	// stopped early: it counts the runs that finished.
	if ru.tally != nil {
		ru.emit(sandbox.Event{Kind: sandbox.KindSummary, Summary: ru.tally.Summary()})
	}
	return nil
}
