package runc

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// cgroupRoot is where the cgroup file systems are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// cgroupParent is the cgroup (under each hierarchy) that holds every run.
const cgroupParent = "racelab"

// cgroups manages the parent cgroup of each run. runc creates and removes
// the container's own cgroup below it, and with it the counters of that
// cgroup; the memory limit sits on the parent instead, so that the peak
// usage, the OOM-kill count and the CPU time outlive the container and can
// be reported in its exit event. Both cgroup v2 (unified) and v1 (one
// hierarchy per controller, as on this project's CI machine) are handled.
type cgroups struct {
	v2   bool
	root string // cgroupRoot, or a test's directory
	// base is the cgroup, as a path below root, that holds racelab's
	// parent of the runs: on v2, racelab's own cgroup when it is racelab's
	// to manage (see cgroup2.go); "/" otherwise, and always on v1.
	base string
}

func detectCgroups() (cgroups, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &st); err != nil {
		return cgroups{}, fmt.Errorf("cgroups: %s: %w", cgroupRoot, err)
	}
	cg := cgroups{v2: st.Type == unix.CGROUP2_SUPER_MAGIC, root: cgroupRoot, base: "/"}
	if cg.v2 {
		own, err := ownCgroupV2("/proc/self/cgroup")
		if err != nil {
			return cgroups{}, err
		}
		cg.base, err = claimV2(cg.root, own)
		return cg, err
	}
	for _, c := range []string{"memory", "cpuacct", "cpu", "pids"} {
		if _, err := os.Stat(filepath.Join(cgroupRoot, c)); err != nil {
			return cgroups{}, fmt.Errorf("cgroups: the v1 %s controller is not mounted at %s: %w", c, cgroupRoot, err)
		}
	}
	return cg, nil
}

// path returns the runc cgroupsPath of run id's container: a path from
// the hierarchy's root, which is how runc's cgroupfs driver reads an
// absolute one.
func (cg cgroups) path(id string) string { return path.Join(cg.base, cgroupParent, id, "ctr") }

// dir returns the directory of run id's parent cgroup in controller c
// (ignored on v2).
func (cg cgroups) dir(c, id string) string {
	if cg.v2 {
		return filepath.Join(cg.root, cg.base, cgroupParent, id)
	}
	return filepath.Join(cg.root, c, cgroupParent, id)
}

// swapSliver is the swap a v1 cgroup may use beyond its memory limit.
const swapSliver = 4 << 20

// cpuPeriod is the CFS period of the CPU limit, in microseconds.
const cpuPeriod = 100000

// create makes run id's parent cgroup with the memory limit and a CPU
// limit of cpus cores (0: none).
func (cg cgroups) create(id string, memory int64, cpus float64) error {
	var err error
	if cg.v2 {
		err = cg.createV2(id, memory)
	} else {
		err = cg.createV1(id, memory)
	}
	if err != nil {
		return err
	}
	return cg.setCPU(id, cpus)
}

// createV2 makes run id's parent cgroup below racelab's, which
// detectCgroups made ready to hand the controllers down.
func (cg cgroups) createV2(id string, memory int64) error {
	d := cg.dir("", id)
	if err := os.Mkdir(d, 0o755); err != nil {
		return fmt.Errorf("cgroups: %w", err)
	}
	if err := writeFile(d, "memory.max", memory); err != nil {
		return err
	}
	// Without swap accounting the file does not exist, and nothing swaps.
	_ = os.WriteFile(filepath.Join(d, "memory.swap.max"), []byte("0"), 0)
	return enableControllers(d)
}

func (cg cgroups) createV1(id string, memory int64) error {
	for _, c := range []string{"memory", "cpuacct", "cpu"} {
		if err := os.MkdirAll(cg.dir(c, id), 0o755); err != nil {
			return fmt.Errorf("cgroups: %w", err)
		}
	}
	// memory.use_hierarchy is 1 on every kernel that still has v1, so the
	// limit covers the container's cgroup below.
	md := cg.dir("memory", id)
	if err := writeFile(md, "memory.limit_in_bytes", memory); err != nil {
		return err
	}
	// With swap on the host, memory+swap gets the limit plus a sliver, so
	// a program over its memory is stopped rather than swapped. The sliver
	// makes the memory counter, whose failcnt the kernel keeps, fail first
	// (it keeps none for memory+swap). The file exists only with swap
	// accounting on.
	if _, err := os.Stat(filepath.Join(md, "memory.memsw.limit_in_bytes")); err == nil {
		if err := writeFile(md, "memory.memsw.limit_in_bytes", memory+swapSliver); err != nil {
			return err
		}
	}
	_ = os.WriteFile(filepath.Join(md, "memory.swappiness"), []byte("0"), 0)
	return nil
}

// writeFile writes v to the cgroup file dir/name.
func writeFile[T int64 | string](dir, name string, v T) error {
	if err := os.WriteFile(filepath.Join(dir, name), []byte(fmt.Sprint(v)), 0); err != nil {
		return fmt.Errorf("cgroups: %s: %w", name, err)
	}
	return nil
}

// setCPU limits run id to cpus cores (0: no limit). It is set on the
// parent so that it can change while the container runs: the build step
// may use every core, the program the CPU limit.
func (cg cgroups) setCPU(id string, cpus float64) error {
	quota := int64(-1)
	if cpus > 0 {
		quota = int64(cpus * cpuPeriod)
	}
	if cg.v2 {
		return cg.setCPUv2(id, quota)
	}
	return cg.setCPUv1(id, quota)
}

// setCPUv1 writes the CFS period and quota (-1 for none).
func (cg cgroups) setCPUv1(id string, quota int64) error {
	d := cg.dir("cpu", id)
	if err := writeFile(d, "cpu.cfs_period_us", int64(cpuPeriod)); err != nil {
		return err
	}
	return writeFile(d, "cpu.cfs_quota_us", quota)
}

// setCPUv2 writes cpu.max: a quota per period, or max for none (-1).
func (cg cgroups) setCPUv2(id string, quota int64) error {
	v := "max " + strconv.Itoa(cpuPeriod)
	if quota > 0 {
		v = strconv.FormatInt(quota, 10) + " " + strconv.Itoa(cpuPeriod)
	}
	return writeFile(cg.dir("", id), "cpu.max", v)
}

// usage is what a run's parent cgroup measured.
type usage struct {
	peak  int64 // bytes
	cpuNs int64
	// limitHits counts OOM kills on v2. On v1 the kernel counts an OOM
	// kill only in the victim's own cgroup, which runc removes with the
	// container, so it counts the times the limit was reached (failcnt):
	// together with a SIGKILL that racelab did not send, that is an OOM
	// kill.
	limitHits int64
}

// read returns the counters of run id's parent cgroup.
func (cg cgroups) read(id string) usage {
	if cg.v2 {
		d := cg.dir("", id)
		return usage{
			peak:      readInt(filepath.Join(d, "memory.peak")),
			limitHits: readKey(filepath.Join(d, "memory.events"), "oom_kill"),
			cpuNs:     readKey(filepath.Join(d, "cpu.stat"), "usage_usec") * 1000,
		}
	}
	md := cg.dir("memory", id)
	return usage{
		peak:      readInt(filepath.Join(md, "memory.max_usage_in_bytes")),
		limitHits: readInt(filepath.Join(md, "memory.failcnt")) + readInt(filepath.Join(md, "memory.memsw.failcnt")),
		cpuNs:     readInt(filepath.Join(cg.dir("cpuacct", id), "cpuacct.usage")),
	}
}

// resetPeak starts the peak-memory measurement afresh (after the build
// step, so the program's peak is not the compiler's). Kernels that cannot
// reset keep the peak of the whole container.
func (cg cgroups) resetPeak(id string) {
	if !cg.v2 {
		_ = os.WriteFile(filepath.Join(cg.dir("memory", id), "memory.max_usage_in_bytes"), []byte("0"), 0)
	}
}

// remove deletes run id's cgroups in every hierarchy; runc has removed the
// container's own by then. A cgroup still holding a process cannot be
// removed, and that is reported.
func (cg cgroups) remove(id string) error {
	var errs []error
	for _, p := range cg.parents() {
		for _, d := range []string{filepath.Join(p, id, "ctr"), filepath.Join(p, id)} {
			if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, fmt.Errorf("cgroups: remove %s: %w", d, err))
			}
		}
	}
	return errors.Join(errs...)
}

// parents lists racelab's parent cgroup in every hierarchy.
func (cg cgroups) parents() []string {
	if cg.v2 {
		return []string{filepath.Join(cg.root, cg.base, cgroupParent)}
	}
	var ps []string
	ents, _ := os.ReadDir(cg.root)
	for _, e := range ents {
		ps = append(ps, filepath.Join(cg.root, e.Name(), cgroupParent))
	}
	return ps
}

// leftovers lists the containers whose id starts with prefix that still
// have a cgroup (for clean-up at start-up and for the tests' leak check).
func (cg cgroups) leftovers(prefix string) []string {
	seen := map[string]bool{}
	var ids []string
	for _, p := range cg.parents() {
		ents, _ := os.ReadDir(p)
		for _, e := range ents {
			if e.IsDir() && strings.HasPrefix(e.Name(), prefix) && !seen[e.Name()] {
				seen[e.Name()] = true
				ids = append(ids, e.Name())
			}
		}
	}
	return ids
}

func readInt(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// readKey reads "key value" from a flat-keyed cgroup file.
func readKey(path, key string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// On cgroup v1, crun ends every container by freezing its cgroup, killing
// what is in it and thawing it (v2 has cgroup.kill, which it uses
// instead). The kernel's v1 freezer turns a static key on when the first
// cgroup freezes and off when the last thaws, and each turn rewrites
// kernel code on every CPU: on the project's CI machine (a VM) that was 6 %
// of all the CPU a class of 60 spent, in crun alone, more on the other
// core. While one empty cgroup of racelab's stays frozen, the key stays
// on and a container's freeze and thaw cost what they should.

// pinName is the empty cgroup, in racelab's parent of the v1 freezer
// hierarchy, that the runner with prefix keeps frozen; not a run's, so
// that it is never taken for one left behind.
func pinName(prefix string) string { return "frozen-" + prefix }

// pinFreezer makes and freezes the runner's pin (already there and frozen
// after a runner of the same state directory crashed: it is taken over).
// It returns what thaws and removes it again.
func (cg cgroups) pinFreezer(prefix string) (func() error, error) {
	d := filepath.Join(cg.root, "freezer", cgroupParent, pinName(prefix))
	if err := os.MkdirAll(d, 0o755); err != nil {
		return nil, err
	}
	state := filepath.Join(d, "freezer.state")
	if err := os.WriteFile(state, []byte("FROZEN"), 0); err != nil {
		_ = os.Remove(d)
		return nil, err
	}
	return func() error {
		// RemoveAll rmdirs a cgroup at once, its files with it.
		return errors.Join(os.WriteFile(state, []byte("THAWED"), 0), os.RemoveAll(d))
	}, nil
}
