package runc

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/internal/driver"
	"github.com/racelab/racelab/sandbox/internal/gotool"
)

// place is a run's own user and directories on the host, named before
// its request is known (see prestart.go).
type place struct {
	r        *Runner
	id       string
	slot     int
	uid, gid int    // the slot's user and group
	dir      string // the run's own tmpfs on the host: bundles, logs, binaries; root's alone
	data     string // below dir, a second tmpfs the containers write: src/ and cache/
}

// The files of a run's directory that its containers see.
const (
	progFile = "prog" // bound read-only at /prog in the first container: a program built earlier is copied here
	keptFile = "kept" // the first container's fd 6: the binary its build keeps for the repeats and the cache
)

// job is one request on its way through the containers; see driver.Job.
// The first container builds and, once told to go ahead, runs the program
// as execution 1 (or runs a program built earlier); each repeat runs the
// binary in a fresh container.
type job struct {
	place
	req    *sandbox.Request
	files  map[string]string
	plan   gotool.Plan
	binary string             // the host path of the built program the repeats run: the kept one, or the cache's
	n      int                // containers named so far
	first  *prep              // the run prepared for the slot, until its first container is claimed
	held   *building          // the build's container, built and waiting for the go-ahead; nil otherwise
	next   []*pending[*spare] // the containers of the next executions, being prepared or ready
	cold   bool               // the first container never became ready: nothing is prepared for the slot
}

// prefix starts the id of every run of this runner; it is derived from the
// state directory so that runners with different state directories never
// touch each other's cgroups.
func (r *Runner) prefix() string {
	h := sha256.Sum256([]byte(r.cfg.StateDir))
	return "rl" + hex.EncodeToString(h[:])[:6]
}

// randomID names a run: random, so that what a container can see of its
// own name (in its mounts' options) says nothing of racelab's process or
// of how many runs others made.
func randomID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newPlace names a run in slot: a random id, and its directories.
func (r *Runner) newPlace(slot int) place {
	id := r.prefix() + "-" + randomID()
	dir := filepath.Join(r.runs, id)
	return place{r: r, id: id, slot: slot, uid: r.cfg.UID + slot, gid: r.cfg.GID + slot,
		dir: dir, data: filepath.Join(dir, "data")}
}

// Prepare takes the run prepared for slot (see standby); see
// driver.Backend. The request is given to its first container by Build,
// or by Run for a program built earlier.
func (r *Runner) Prepare(req *sandbox.Request, files map[string]string, slot int) (driver.Job, error) {
	p := r.standby.take(slot)
	return &job{place: p.place, req: req, files: files, plan: gotool.PlanOf(req, ctrTmp+"/prog"),
		binary: filepath.Join(p.dir, keptFile), n: 1, first: p}, nil
}

// makeDirs makes the run's directories: two size-limited tmpfs mounts,
// one for what only racelab writes (so a program that fills its disk
// cannot break the runner) and, inside it, one for the submitted files
// and the run's cache layer.
func (p place) makeDirs() error {
	if err := os.Mkdir(p.dir, 0o700); err != nil {
		return fmt.Errorf("runc: run directory: %w", err)
	}
	if err := p.mountTmpfs(p.dir, "0700"); err != nil {
		return fmt.Errorf("runc: mount the run's tmpfs: %w", err)
	}
	if err := p.makeData(); err != nil {
		return fmt.Errorf("runc: prepare the run's directories: %w", err)
	}
	return nil
}

// makeData mounts the tmpfs the containers write, makes its directories
// and the overlay of the warm cache, and the file bound at /prog.
func (p place) makeData() error {
	if err := os.Mkdir(p.data, 0o700); err != nil {
		return err
	}
	if err := p.mountTmpfs(p.data, "0755"); err != nil {
		return err
	}
	if err := p.makeOwnDirs(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(p.dir, progFile), nil, 0o755); err != nil {
		return err
	}
	return p.mountCache()
}

// mountCache mounts the run's view of the build cache: the warm cache as
// the lower, read-only layer and the run's own upper layer, which takes
// everything the run writes and is thrown away with it. It is mounted
// here, on the host, and bound into the build's container, so that every
// runtime sees the same (gVisor cannot mount an overlay of host
// directories itself).
func (p place) mountCache() error {
	c := filepath.Join(p.data, "cache")
	merged := filepath.Join(c, "merged")
	if err := os.Mkdir(merged, 0o755); err != nil {
		return err
	}
	opts := "lowerdir=" + p.r.warmDir + ",upperdir=" + filepath.Join(c, "upper") + ",workdir=" + filepath.Join(c, "work")
	return unix.Mount("overlay", merged, "overlay", unix.MS_NOSUID|unix.MS_NODEV, opts)
}

// mountTmpfs mounts a tmpfs of the run's size at dir.
func (p place) mountTmpfs(dir, mode string) error {
	opts := "size=" + strconv.FormatInt(p.r.cfg.Limits.TmpBytes, 10) + ",mode=" + mode
	return unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts)
}

// makeOwnDirs makes the directories the slot's user writes: the sources
// and the run's layer of the build cache.
func (p place) makeOwnDirs() error {
	upper := filepath.Join(p.data, "cache", "upper")
	dirs := []string{filepath.Join(p.data, "src"), upper, filepath.Join(p.data, "cache", "work")}
	// The warm cache is root's; the run adds entries through directories
	// of its own upper layer, which overlayfs shows in place of the lower
	// ones.
	for i := 0; i < 256; i++ {
		dirs = append(dirs, filepath.Join(upper, fmt.Sprintf("%02x", i)))
	}
	// In order, each parent before its children: a Mkdir and a Lchown a
	// directory (MkdirAll would stat it and its parent first: a run makes
	// 259 of them).
	if err := os.Mkdir(filepath.Join(p.data, "cache"), 0o755); err != nil {
		return err
	}
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
		if err := os.Lchown(d, p.uid, p.gid); err != nil {
			return err
		}
	}
	return nil
}

// writeFiles writes the request's files, when its first container is
// claimed for a build (a program built earlier needs none: its /work is
// empty, as a repeat's).
func (j *job) writeFiles() error {
	for name, body := range j.files {
		if err := j.writeOwn(filepath.Join(j.data, "src", name), body); err != nil {
			return fmt.Errorf("runc: write the run's files: %w", err)
		}
	}
	// A fresh trim stamp keeps the go command from scanning (and trimming
	// into this layer) the whole warm cache; see cache.go.
	err := j.writeOwn(filepath.Join(j.data, "cache", "upper", "trim.txt"), strconv.FormatInt(time.Now().Unix(), 10))
	if err != nil {
		return fmt.Errorf("runc: write the run's files: %w", err)
	}
	return nil
}

// writeOwn writes a file the slot's user owns.
func (p place) writeOwn(path, body string) error {
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		return err
	}
	return os.Chown(path, p.uid, p.gid)
}

// Dir is where the sources are built, as the containers see it.
func (j *job) Dir() string { return ctrWork }

// Close ends the job's containers and removes the run's directories and
// everything in them; then the slot's next run is prepared. A run whose
// first container was never claimed (a compile error from the cache, a
// request stopped before its build) gives it back to the slot instead:
// it has still run nothing.
func (j *job) Close() {
	for _, s := range j.next {
		s.discard()
	}
	j.next = nil
	if j.held != nil { // built, never told to go ahead
		j.held.release()
		j.held = nil
	}
	if j.first != nil {
		j.r.standby.put(j.slot, j.first)
		return
	}
	j.remove()
	if !j.cold {
		j.r.standby.fill(j.slot)
	}
}

// remove removes the place's containers' state and its directories.
func (p place) remove() {
	if p.r.flavour.gvisor {
		p.r.forget(p.id)
	}
	unmount(filepath.Join(p.data, "cache", "merged"), p.data, p.dir)
	if err := os.RemoveAll(p.dir); err != nil {
		p.r.cfg.Log.Error("remove run directory", "dir", p.dir, "err", err)
	}
}

// ctr names the place's container n and its bundle directory.
func (p place) ctr(n int) (id, bundle string) {
	return p.id + "-" + strconv.Itoa(n), filepath.Join(p.dir, "b"+strconv.Itoa(n))
}

// launch writes the bundle of container id, makes its cgroup with a limit
// of memory bytes and cpus cores and starts it, its output going to out
// and extra becoming its fds 3, 4, ….
func (p place) launch(id, bundle string, spec containerSpec, memory int64, cpus float64, out *sink, extra []*os.File) (*container, error) {
	r := p.r
	spec.cgroup = r.cg.path(id)
	spec.uid, spec.gid = p.uid, p.gid
	if err := r.writeBundle(bundle, spec); err != nil {
		return nil, fmt.Errorf("runc: bundle: %w", err)
	}
	if err := r.cg.create(id, memory, cpus); err != nil {
		_ = r.cg.remove(id)
		return nil, err
	}
	c, err := r.start(id, bundle, out, extra)
	if err != nil {
		_ = r.cg.remove(id)
		return nil, err
	}
	return c, nil
}

// unmount unmounts each of dirs, lazily when it is busy.
func unmount(dirs ...string) {
	for _, d := range dirs {
		if err := unix.Unmount(d, 0); err != nil {
			_ = unix.Unmount(d, unix.MNT_DETACH)
		}
	}
}

// TracePath is where a traced program's execution 1 writes its trace:
// its working directory, the run's src on the host; see driver.Job. The
// file is the program's, read with care (gotool.ReadTrace).
func (j *job) TracePath() string { return filepath.Join(j.data, "src", gotool.TraceFile) }
