package local

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/internal/driver"
	"github.com/racelab/racelab/sandbox/internal/gotool"
	"github.com/racelab/racelab/sandbox/internal/stream"
)

// job is one request in its temporary directory: src, home, tmp, prog and
// a directory of its own for each execution.
type job struct {
	r    *Runner
	req  *sandbox.Request
	dir  string
	plan gotool.Plan
}

// Prepare makes the run's temporary directory and writes the files into
// it; see driver.Backend. The slot is not used: every run is the user's.
func (r *Runner) Prepare(req *sandbox.Request, files map[string]string, slot int) (driver.Job, error) {
	dir, err := os.MkdirTemp("", "racelab-")
	if err != nil {
		return nil, fmt.Errorf("local: run directory: %w", err)
	}
	j := &job{r: r, req: req, dir: dir, plan: gotool.PlanOf(req, filepath.Join(dir, "prog"))}
	if err := j.writeFiles(files); err != nil {
		j.Close()
		return nil, fmt.Errorf("local: write the files: %w", err)
	}
	return j, nil
}

func (j *job) writeFiles(files map[string]string) error {
	for _, d := range []string{"src", "home", "tmp"} {
		if err := os.Mkdir(filepath.Join(j.dir, d), 0o700); err != nil {
			return err
		}
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(j.Dir(), name), []byte(body), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// Dir is where the sources are built.
func (j *job) Dir() string { return filepath.Join(j.dir, "src") }

// Close removes the run's directory, even where the program took away
// its own write permission.
func (j *job) Close() {
	if os.RemoveAll(j.dir) == nil {
		return
	}
	_ = filepath.WalkDir(j.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	_ = os.RemoveAll(j.dir)
}

// Build runs the plan's go command in the source directory.
func (j *job) Build(ctx context.Context, _ *stream.Output) (driver.BuildResult, error) {
	cfg := j.r.cfg
	cmd := exec.Command(filepath.Join(cfg.GOROOT, "bin", j.plan.Build[0]), j.plan.Build[1:]...)
	cmd.Dir = j.Dir()
	cmd.Env = append(gotool.BuildEnv(cfg.GOROOT, filepath.Join(j.dir, "home"), cfg.CacheDir, filepath.Join(j.dir, "tmp")), j.plan.Env...)
	out := &capped{limit: cfg.Limits.OutputFor(j.req.Mode)}
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	o, err := supervise(ctx, cmd, cfg.Limits.BuildTimeout, 0, nil)
	if err != nil {
		return driver.BuildResult{}, fmt.Errorf("local: %s: %w", strings.Join(j.plan.Build, " "), err)
	}
	res := driver.BuildResult{Stopped: o.reason, Status: o.code, Code: o.code, Output: string(out.data),
		Truncated: out.truncated, Ms: time.Since(start).Milliseconds(), CPUMs: o.cpuMs, PeakBytes: o.peak}
	if o.reason == "" && o.code == 0 {
		res.Binary = j.plan.Binary
	}
	if j.plan.Output == gotool.Formatted && o.reason == "" && o.code == 0 {
		res.Files, res.FilesCut, err = gotool.ReadSource(j.Dir(), j.req.Files, cfg.Limits.OutputBytes)
	}
	return res, err
}

// Use runs the program built earlier at binary; see driver.Job.
func (j *job) Use(binary string) { j.plan.Binary = binary }

// Run executes the built program as execution i. Like a fresh container,
// it has its own HOME and TMPDIR and, after the first execution (which
// starts in the source directory), an empty working directory.
func (j *job) Run(ctx context.Context, i int, out *stream.Output) (driver.RunResult, error) {
	l := j.r.cfg.Limits
	own := filepath.Join(j.dir, "run"+strconv.Itoa(i))
	if err := os.Mkdir(own, 0o700); err != nil {
		return driver.RunResult{}, fmt.Errorf("local: run directory: %w", err)
	}
	cmd := exec.Command(j.plan.Binary, j.plan.Args...)
	cmd.Dir = own
	if i == 1 {
		cmd.Dir = j.Dir()
	}
	cmd.Env = gotool.RunEnv(j.req, j.plan, own, own)
	cmd.Stdout, cmd.Stderr = out.Stdout(), out.Stderr()
	o, err := supervise(ctx, cmd, l.RunTimeout, l.KillGrace, out.Exceeded())
	if err != nil {
		return driver.RunResult{}, fmt.Errorf("local: run the program: %w", err)
	}
	return driver.RunResult{Stopped: o.reason, Code: o.code, Signaled: o.signaled, CPUMs: o.cpuMs, PeakBytes: o.peak}, nil
}

// TracePath is where a traced program's execution 1 writes its trace:
// the source directory it starts in; see driver.Job.
func (j *job) TracePath() string { return filepath.Join(j.Dir(), gotool.TraceFile) }
