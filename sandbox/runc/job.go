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
	"github.com/racelab/racelab/sandbox/internal/stream"
)

// job is one request on its way through the containers; see driver.Job.
// The first container builds and, once told to go ahead, runs the program
// as execution 1; each repeat runs the kept binary in a fresh container.
type job struct {
	r        *Runner
	id       string
	uid, gid int    // the slot's user and group
	dir      string // the run's own tmpfs on the host: bundles, logs, the kept binary; root's alone
	data     string // below dir, a second tmpfs the containers write: src/ and cache/
	req      *sandbox.Request
	plan     gotool.Plan
	binary   string    // the host path of the built program the repeats run: the kept one, or the cache's
	n        int       // containers started so far
	held     *building // the build's container, built and waiting for the go-ahead; nil otherwise
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

// Prepare makes the run's directories, see driver.Backend: two
// size-limited tmpfs mounts, one for what only racelab writes (so a
// program that fills its disk cannot break the runner) and, inside it,
// one for the submitted files and the run's cache layer.
func (r *Runner) Prepare(req *sandbox.Request, files map[string]string, slot int) (driver.Job, error) {
	id := r.prefix() + "-" + randomID()
	dir := filepath.Join(r.runs, id)
	j := &job{r: r, id: id, uid: r.cfg.UID + slot, gid: r.cfg.GID + slot, dir: dir,
		data: filepath.Join(dir, "data"), req: req, plan: gotool.PlanOf(req, ctrTmp+"/prog"),
		binary: filepath.Join(dir, "prog")}
	if err := os.Mkdir(j.dir, 0o700); err != nil {
		return nil, fmt.Errorf("runc: run directory: %w", err)
	}
	if err := j.mountTmpfs(j.dir, "0700"); err != nil {
		os.Remove(j.dir)
		return nil, fmt.Errorf("runc: mount the run's tmpfs: %w", err)
	}
	if err := j.writeData(files); err != nil {
		j.Close()
		return nil, fmt.Errorf("runc: prepare the run's files: %w", err)
	}
	return j, nil
}

// writeData mounts the tmpfs the containers write and writes the files
// into it.
func (j *job) writeData(files map[string]string) error {
	if err := os.Mkdir(j.data, 0o700); err != nil {
		return err
	}
	if err := j.mountTmpfs(j.data, "0755"); err != nil {
		return err
	}
	if err := j.writeFiles(files); err != nil {
		return err
	}
	return j.mountCache()
}

// mountCache mounts the run's view of the build cache: the warm cache as
// the lower, read-only layer and the run's own upper layer, which takes
// everything the run writes and is thrown away with it. It is mounted
// here, on the host, and bound into the build's container, so that every
// runtime sees the same (gVisor cannot mount an overlay of host
// directories itself).
func (j *job) mountCache() error {
	c := filepath.Join(j.data, "cache")
	merged := filepath.Join(c, "merged")
	if err := os.Mkdir(merged, 0o755); err != nil {
		return err
	}
	opts := "lowerdir=" + j.r.warmDir + ",upperdir=" + filepath.Join(c, "upper") + ",workdir=" + filepath.Join(c, "work")
	return unix.Mount("overlay", merged, "overlay", unix.MS_NOSUID|unix.MS_NODEV, opts)
}

// mountTmpfs mounts a tmpfs of the run's size at dir.
func (j *job) mountTmpfs(dir, mode string) error {
	opts := "size=" + strconv.FormatInt(j.r.cfg.Limits.TmpBytes, 10) + ",mode=" + mode
	return unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts)
}

func (j *job) writeFiles(files map[string]string) error {
	src := filepath.Join(j.data, "src")
	upper := filepath.Join(j.data, "cache", "upper")
	dirs := []string{src, upper, filepath.Join(j.data, "cache", "work")}
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
		if err := os.Chown(d, j.uid, j.gid); err != nil {
			return err
		}
	}
	for name, body := range files {
		if err := j.writeOwn(filepath.Join(src, name), body); err != nil {
			return err
		}
	}
	// A fresh trim stamp keeps the go command from scanning (and trimming
	// into this layer) the whole warm cache; see cache.go.
	return j.writeOwn(filepath.Join(upper, "trim.txt"), strconv.FormatInt(time.Now().Unix(), 10))
}

// writeOwn writes a file the slot's user owns.
func (j *job) writeOwn(path, body string) error {
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		return err
	}
	return os.Chown(path, j.uid, j.gid)
}

// Dir is where the sources are built, as the containers see it.
func (j *job) Dir() string { return ctrWork }

// Close stops the build's container if it still waits for its go-ahead,
// and removes the run's directories and everything in them.
func (j *job) Close() {
	if j.held != nil {
		j.held.end()
		j.held = nil
	}
	if j.r.flavour.gvisor {
		j.r.forget(j.id)
	}
	unmount(filepath.Join(j.data, "cache", "merged"), j.data, j.dir)
	if err := os.RemoveAll(j.dir); err != nil {
		j.r.cfg.Log.Error("remove run directory", "dir", j.dir, "err", err)
	}
}

// launch writes the bundle of the job's next container, makes its cgroup
// with a CPU limit of cpus cores and starts it, its output going to out
// and extra becoming its fds 3, 4, ….
func (j *job) launch(spec containerSpec, cpus float64, out *stream.Output, extra []*os.File) (*container, error) {
	r := j.r
	j.n++
	id := j.id + "-" + strconv.Itoa(j.n)
	spec.cgroup = r.cg.path(id)
	spec.uid, spec.gid = j.uid, j.gid
	bundle := filepath.Join(j.dir, "b"+strconv.Itoa(j.n))
	if err := r.writeBundle(bundle, spec); err != nil {
		return nil, fmt.Errorf("runc: bundle: %w", err)
	}
	if err := r.cg.create(id, r.cfg.Limits.MemoryFor(j.req.Mode), cpus); err != nil {
		r.cg.remove(id)
		return nil, err
	}
	c, err := r.start(id, bundle, out, extra)
	if err != nil {
		r.cg.remove(id)
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
