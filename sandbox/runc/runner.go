// Package runc runs racelab requests in containers started by an OCI
// runtime: runc by default, crun (the same containers for less CPU a
// start), or gVisor's runsc for public hosting (set Config.Runtime;
// runtime.go holds the few places their command lines differ, and the
// whole test suite runs on each). It writes an OCI bundle
// per container, with the host's toolchain bind-mounted read-only, an
// empty network namespace, no capabilities and cgroup limits.
package runc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/internal/bincache"
	"github.com/racelab/racelab/sandbox/internal/driver"
)

// DefaultStateDir holds the runner's warm build cache, root file system
// skeleton, runtime state and the runs' directories.
const DefaultStateDir = "/var/lib/racelab"

// DefaultUID is the first of the unprivileged users the sandboxed code
// runs as: slot i of the runner uses DefaultUID+i, so that concurrent runs
// never share a user's kernel budgets (inotify instances, message queues,
// pipe buffers, pending signals). The range sits above the subordinate
// ids Debian hands out (100000+65536 per user) and owns no host file.
const DefaultUID = 200000

// Config sets up a Runner.
type Config struct {
	// Runtime is the OCI runtime binary: "runc" (default), "crun" or
	// "runsc".
	Runtime string
	// StateDir is the runner's own directory (default DefaultStateDir).
	StateDir string
	// CacheDir holds the warm build caches (default StateDir/cache). Runners
	// with different state directories may share it: a cache, once built,
	// is only ever read, and building one is serialized by a lock.
	CacheDir string
	// GOROOT is the toolchain bind-mounted into the containers (default:
	// the GOROOT of the go command on PATH).
	GOROOT string
	// Limits bound every run (default sandbox.DefaultLimits()).
	Limits sandbox.Limits
	// Concurrency is how many containers may run at once (default: cores).
	Concurrency int
	// UID and GID are the first user and group of the sandboxed code
	// (default DefaultUID); each concurrent slot adds its index.
	UID, GID int
	// Seccomp applies the seccomp profile (see seccomp.go).
	Seccomp bool
	// HugePages puts the static data of the containers' dynamically
	// linked programs, race binaries, on huge pages where the host allows
	// (see hugepages.go).
	HugePages bool
	// Modules ("path@version") may be imported by sandboxed programs
	// without a go.mod; they are downloaded once at start-up (default
	// DefaultModules(); an empty, non-nil slice for none).
	Modules []string
	// BinCacheBytes bounds the cache of the programs the runner built
	// (default DefaultBinCacheBytes; negative: no cache): the same source
	// is built once, and run from there again.
	BinCacheBytes int64
	// RuntimeTimeout bounds every wait on the OCI runtime (default
	// DefaultRuntimeTimeout): a container's start, a kill, a listing. A
	// runtime that does not answer in time is killed itself, and the run
	// ends with an error wrapping sandbox.ErrUnavailable, or its limit's
	// reason, instead of holding its slot for ever.
	RuntimeTimeout time.Duration
	// Log receives the runner's own messages (default: discarded).
	Log *slog.Logger
}

// DefaultBinCacheBytes is the default of Config.BinCacheBytes: a race
// binary is 2 to 5 MiB, so some three hundred programs.
const DefaultBinCacheBytes = 1 << 30

// DefaultRuntimeTimeout is the default of Config.RuntimeTimeout: runc
// starts a container in about 40 ms and stops one in less.
const DefaultRuntimeTimeout = 10 * time.Second

// Runner is the runc backend of sandbox.Runner.
type Runner struct {
	cfg      Config
	runtime  string       // absolute path of the OCI runtime
	exe      *sealedExe   // the runtime's binary that starts containers (see sealRuntime); nil: runtime
	unpin    func() error // thaws and removes the frozen cgroup of pinFreezer; nil: none
	hasInit  bool         // the skeleton holds racelab's init (init.go)
	flavour  flavour      // how its command line reads
	state    string       // runtime state (--root)
	runs     string       // parent of the runs' directories
	rootfs   string       // the read-only root file system skeleton
	warmDir  string       // the trusted warm build cache
	warmUse  *os.File     // shared flock on warmDir's use file while the runner may use it (see pruneWarm)
	proxyDir string       // the module download directory the containers use as GOPROXY ("" for none)
	hostDirs []string
	cg       cgroups
	drv      *driver.Driver
	cache    *bincache.Cache // the programs built; nil when off
	standby  *standby        // the runs prepared for idle slots; nil until New has set up
	lock     *os.File        // flock on StateDir: one runner per state directory
}

var _ sandbox.Runner = (*Runner)(nil)

// Run builds and runs req in fresh containers; see sandbox.Runner.
func (r *Runner) Run(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
	return r.drv.Run(ctx, req, emit)
}

// ErrSetup wraps every reason New cannot make a working runner.
var ErrSetup = errors.New("runc sandbox unavailable")

// New prepares a runner: checks the runtime and privileges, removes what a
// crashed runner left behind, writes the root file system skeleton, and
// builds the warm cache if it does not exist yet (under two minutes on two
// cores, once per toolchain).
func New(ctx context.Context, cfg Config) (*Runner, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	r := &Runner{cfg: cfg}
	r.drv = driver.New(r, cfg.GOROOT, cfg.Limits, cfg.Concurrency)
	if err := r.checkHost(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSetup, err)
	}
	if err := r.setupDirs(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSetup, err)
	}
	r.sealRuntime()
	r.pinFreezer()
	r.cleanStale(ctx)
	if err := r.writeRootfs(ctx); err != nil {
		r.Close()
		return nil, fmt.Errorf("%w: root file system: %v", ErrSetup, err)
	}
	if err := r.ensureWarmCache(ctx); err != nil {
		r.Close()
		return nil, fmt.Errorf("%w: warm build cache: %v", ErrSetup, err)
	}
	r.pruneWarm()
	r.ensureModules(ctx)
	if err := r.openBinCache(); err != nil {
		r.Close()
		return nil, fmt.Errorf("%w: %v", ErrSetup, err)
	}
	r.standby = newStandby(r)
	for slot := range cfg.Concurrency {
		r.standby.fill(slot)
	}
	return r, nil
}

// openBinCache opens the runner's cache of built programs, in its state
// directory (a runner's own: each keeps what it built), unless it is off.
// Its keys name the warm cache (the toolchain and gcc) and the provided
// modules: a change of either builds again.
func (r *Runner) openBinCache() error {
	if r.cfg.BinCacheBytes < 0 {
		return nil
	}
	c, err := bincache.Open(filepath.Join(r.cfg.StateDir, "bin"), r.cfg.BinCacheBytes)
	if err != nil {
		return err
	}
	r.cache = c
	r.drv.UseCache(c, filepath.Base(r.warmDir)+" "+filepath.Base(r.proxyDir))
	return nil
}

func (c *Config) fill() error {
	c.Runtime = cmp.Or(c.Runtime, "runc")
	c.StateDir = cmp.Or(c.StateDir, DefaultStateDir)
	c.CacheDir = cmp.Or(c.CacheDir, filepath.Join(c.StateDir, "cache"))
	if err := driver.Fill(&c.Limits, &c.Concurrency); err != nil {
		return err
	}
	if c.UID == 0 && c.GID == 0 {
		c.UID, c.GID = DefaultUID, DefaultUID
	}
	if c.UID == 0 {
		return fmt.Errorf("%w: the sandbox must not run code as root (uid 0)", ErrSetup)
	}
	if c.Modules == nil {
		c.Modules = DefaultModules()
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.BinCacheBytes == 0 {
		c.BinCacheBytes = DefaultBinCacheBytes
	}
	if c.RuntimeTimeout <= 0 {
		c.RuntimeTimeout = DefaultRuntimeTimeout
	}
	if c.GOROOT != "" {
		return nil
	}
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return fmt.Errorf("%w: no Go toolchain on PATH (go env GOROOT: %v)", ErrSetup, err)
	}
	c.GOROOT = strings.TrimSpace(string(out))
	return nil
}

// checkHost finds the runtime and the kernel features the runner needs,
// and says how to get what is missing.
func (r *Runner) checkHost() error {
	path, err := exec.LookPath(r.cfg.Runtime)
	if err != nil {
		return fmt.Errorf("the OCI runtime %q is not installed (Debian: apt-get install runc, or crun; gVisor's runsc: make runsc)", r.cfg.Runtime)
	}
	r.runtime, r.flavour = path, flavourOf(path)
	if os.Geteuid() != 0 {
		return errors.New("starting containers needs root: run racelab as root, or use --sandbox local on your own machine")
	}
	if err := r.checkToolchain(); err != nil {
		return err
	}
	if r.cg, err = detectCgroups(); err != nil {
		return err
	}
	if r.flavour.crun {
		return r.cg.crunReady()
	}
	return nil
}

// crunReady checks that crun can start containers on these cgroups: on
// v2 it can; on v1 see crunOnHybrid.
func (cg cgroups) crunReady() error {
	if cg.v2 {
		return nil
	}
	return crunOnHybrid(filepath.Join(cg.root, "unified"))
}

// crunOnHybrid checks that crun can start containers on a cgroup v1 host
// whose v2 hierarchy is mounted at unified: crun refuses to when that
// hierarchy holds controllers ("cgroups in hybrid mode not supported"),
// as it does on a host that left a controller unmounted as v1.
func crunOnHybrid(unified string) error {
	b, err := os.ReadFile(filepath.Join(unified, "cgroup.controllers"))
	if err != nil {
		return nil // no v2 hierarchy beside v1: pure v1, which crun takes
	}
	cs := strings.Fields(string(b))
	if len(cs) == 0 {
		return nil
	}
	var mounts []string
	for _, c := range cs {
		mounts = append(mounts, fmt.Sprintf("mkdir -p /sys/fs/cgroup/%s && mount -t cgroup -o %s cgroup /sys/fs/cgroup/%s", c, c, c))
	}
	return fmt.Errorf("crun cannot start containers on this host: its cgroups are v1 with a v2 hierarchy at %s that holds controllers (%s), which crun refuses (\"cgroups in hybrid mode not supported\"); mount them as v1 (%s), boot with cgroup v2 only, or use --runtime runc",
		unified, strings.Join(cs, " "), strings.Join(mounts, "; "))
}

// checkToolchain checks what building the warm cache needs: the toolchain,
// gcc, and state and cache directories that no container sees.
func (r *Runner) checkToolchain() error {
	if _, err := os.Stat(filepath.Join(r.cfg.GOROOT, "bin", "go")); err != nil {
		return fmt.Errorf("GOROOT %s has no bin/go", r.cfg.GOROOT)
	}
	for _, d := range []string{r.cfg.StateDir, r.cfg.CacheDir} {
		abs, err := filepath.Abs(d)
		if err != nil {
			return err
		}
		if under(abs, append(systemDirs(), r.cfg.GOROOT)) {
			return fmt.Errorf("%s is inside a directory every container sees (%s); put racelab's state elsewhere, such as %s", d, strings.Join(systemDirs(), ", "), DefaultStateDir)
		}
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		return errors.New("gcc is not installed; the race detector needs cgo (Debian: apt-get install gcc)")
	}
	return nil
}

func (r *Runner) setupDirs() error {
	sd := r.cfg.StateDir
	r.state = filepath.Join(sd, "runtime")
	r.runs = filepath.Join(sd, "runs")
	r.rootfs = filepath.Join(sd, "rootfs")
	// Root only: no host user may read a run's files or touch the cache.
	for _, d := range []string{sd, r.state, r.runs, r.cfg.CacheDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(filepath.Join(sd, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("state directory %s is in use by another racelab process (use --state-dir to give this one its own)", sd)
	}
	r.lock = f
	return nil
}

// Close waits for the runs going on (cancel their contexts first to end
// them quickly), ends the runs prepared ahead and removes what they made,
// and releases the state directory and the warm cache.
func (r *Runner) Close() error {
	r.drv.Wait()
	if r.standby != nil {
		r.standby.close()
	}
	if r.warmUse != nil {
		r.warmUse.Close()
		r.warmUse = nil
	}
	if r.exe != nil {
		r.exe.close()
		r.exe = nil
	}
	if r.unpin != nil {
		if err := r.unpin(); err != nil {
			r.cfg.Log.Warn("cannot thaw and remove the cgroup that kept the v1 freezer on", "err", err)
		}
		r.unpin = nil
	}
	if r.lock == nil {
		return nil
	}
	err := r.lock.Close()
	r.lock = nil
	return err
}

// Leftovers lists what runs left behind: containers known to the runtime,
// run directories, mounts under the state directory and cgroups. It is
// empty whenever no run is going, and the tests assert so. The runs
// prepared ahead for idle slots (see standby) are not left behind and not
// listed: their containers have run nothing, and Close removes them;
// after Close, everything is listed.
func (r *Runner) Leftovers() []string {
	var left []string
	add := func(kind, name string) {
		// Asked after the listing: a run prepared ahead is held by the
		// standby from before its first directory is made.
		if r.standby == nil || !r.standby.holds(name) {
			left = append(left, kind+" "+name)
		}
	}
	out, _ := r.ask(context.Background(), r.flavour.list()...)
	for _, id := range strings.Fields(string(out)) {
		add("container", id)
	}
	ents, _ := os.ReadDir(r.runs)
	for _, e := range ents {
		add("run directory", e.Name())
	}
	for _, m := range mountsUnder(r.runs) {
		add("mount", m)
	}
	for _, id := range r.cg.leftovers(r.prefix()) {
		add("cgroup", id)
	}
	return left
}
