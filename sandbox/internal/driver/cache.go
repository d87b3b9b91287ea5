package driver

import (
	"context"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/internal/bincache"
	"github.com/racelab/racelab/sandbox/internal/gotool"
	"github.com/racelab/racelab/sandbox/internal/stream"
)

// cached is what the binary cache says of a run's build: a hit (the
// program was built earlier), a build this run is to do and store, or
// neither (no cache, or a mode that builds no program).
type cached struct {
	hit     *bincache.Result
	release func()          // of the hit
	store   *bincache.Build // of the miss
}

// lookup asks the cache for the build of files in mode, waiting while
// another run builds the same. Its error is ctx's.
func (d *Driver) lookup(ctx context.Context, req *sandbox.Request, files map[string]string) (cached, error) {
	plan := gotool.PlanOf(req, "prog")
	if d.cache == nil || plan.Binary == "" {
		return cached{}, nil
	}
	argv := append(append([]string{}, plan.Env...), plan.Build...)
	res, release, b, err := d.cache.Get(ctx, bincache.KeyOf(d.toolchain, req.Mode, argv, files))
	if err != nil {
		return cached{}, err
	}
	if b != nil {
		return cached{store: b}, nil
	}
	return cached{hit: &res, release: release}, nil
}

// build is the run's build: the one the cache kept, or the job's own,
// which is then stored when it ended by itself (a program, or the errors
// of code that does not compile: never a limit's end, which depends on
// the machine's load).
func (c cached) build(ctx context.Context, job Job, out *stream.Output) (BuildResult, error) {
	if c.hit != nil {
		if c.hit.Binary != "" {
			job.Use(c.hit.Binary)
		}
		return BuildResult{Status: c.hit.Status, Output: c.hit.Output, Truncated: c.hit.Truncated, Cached: true}, nil
	}
	b, err := job.Build(ctx, out)
	if err != nil || c.store == nil || b.Stopped != "" || b.MemoryHit || b.Status < 0 || (b.Status == 0 && b.Binary == "") {
		return b, err
	}
	_ = c.store.Put(bincache.Result{Status: b.Status, Output: b.Output, Truncated: b.Truncated}, b.Binary)
	return b, nil
}

// done ends the run's use of the cache: the hit's binary may go, and a
// build not stored lets a waiting run build it.
func (c cached) done() {
	if c.release != nil {
		c.release()
	}
	if c.store != nil {
		c.store.Abort()
	}
}
