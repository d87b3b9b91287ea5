package runc

import (
	"bufio"
	"errors"
	"fmt"
	"os"
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
}

func detectCgroups() (cgroups, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &st); err != nil {
		return cgroups{}, fmt.Errorf("cgroups: %s: %w", cgroupRoot, err)
	}
	cg := cgroups{v2: st.Type == unix.CGROUP2_SUPER_MAGIC, root: cgroupRoot}
	if !cg.v2 {
		for _, c := range []string{"memory", "cpuacct", "cpu", "pids"} {
			if _, err := os.Stat(filepath.Join(cgroupRoot, c)); err != nil {
				return cgroups{}, fmt.Errorf("cgroups: the v1 %s controller is not mounted at %s: %w", c, cgroupRoot, err)
			}
		}
	}
	return cg, nil
}

// path returns the runc cgroupsPath of run id's container.
func (cg cgroups) path(id string) string { return "/" + cgroupParent + "/" + id + "/ctr" }

// dir returns the directory of run id's parent cgroup in controller c
// (ignored on v2).
func (cg cgroups) dir(c, id string) string {
	if cg.v2 {
		return filepath.Join(cg.root, cgroupParent, id)
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
	lim := strconv.FormatInt(memory, 10)
	if cg.v2 {
		for _, d := range []string{cg.root, filepath.Join(cg.root, cgroupParent)} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
			// Delegate the controllers the containers need; already-enabled
			// ones are fine, so the error is not fatal.
			_ = os.WriteFile(filepath.Join(d, "cgroup.subtree_control"), []byte("+memory +pids +cpu"), 0)
		}
		d := cg.dir("", id)
		if err := os.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("cgroups: %w", err)
		}
		if err := os.WriteFile(filepath.Join(d, "memory.max"), []byte(lim), 0); err != nil {
			return fmt.Errorf("cgroups: memory.max: %w", err)
		}
		_ = os.WriteFile(filepath.Join(d, "memory.swap.max"), []byte("0"), 0)
		_ = os.WriteFile(filepath.Join(d, "cgroup.subtree_control"), []byte("+memory +pids +cpu"), 0)
		return cg.setCPU(id, cpus)
	}
	for _, c := range []string{"memory", "cpuacct", "cpu"} {
		if err := os.MkdirAll(cg.dir(c, id), 0o755); err != nil {
			return fmt.Errorf("cgroups: %w", err)
		}
	}
	// memory.use_hierarchy is 1 on every kernel that still has v1, so the
	// limit covers the container's cgroup below.
	md := cg.dir("memory", id)
	if err := os.WriteFile(filepath.Join(md, "memory.limit_in_bytes"), []byte(lim), 0); err != nil {
		return fmt.Errorf("cgroups: memory.limit_in_bytes: %w", err)
	}
	// With swap on the host, memory+swap gets the limit plus a sliver, so
	// a program over its memory is stopped rather than swapped. The sliver
	// makes the memory counter, whose failcnt the kernel keeps, fail first
	// (it keeps none for memory+swap). The file exists only with swap
	// accounting on.
	if _, err := os.Stat(filepath.Join(md, "memory.memsw.limit_in_bytes")); err == nil {
		memsw := strconv.FormatInt(memory+swapSliver, 10)
		if err := os.WriteFile(filepath.Join(md, "memory.memsw.limit_in_bytes"), []byte(memsw), 0); err != nil {
			return fmt.Errorf("cgroups: memory.memsw.limit_in_bytes: %w", err)
		}
	}
	_ = os.WriteFile(filepath.Join(md, "memory.swappiness"), []byte("0"), 0)
	return cg.setCPU(id, cpus)
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
		v := "max " + strconv.Itoa(cpuPeriod)
		if quota > 0 {
			v = strconv.FormatInt(quota, 10) + " " + strconv.Itoa(cpuPeriod)
		}
		if err := os.WriteFile(filepath.Join(cg.dir("", id), "cpu.max"), []byte(v), 0); err != nil {
			return fmt.Errorf("cgroups: cpu.max: %w", err)
		}
		return nil
	}
	d := cg.dir("cpu", id)
	if err := os.WriteFile(filepath.Join(d, "cpu.cfs_period_us"), []byte(strconv.Itoa(cpuPeriod)), 0); err != nil {
		return fmt.Errorf("cgroups: cpu.cfs_period_us: %w", err)
	}
	if err := os.WriteFile(filepath.Join(d, "cpu.cfs_quota_us"), []byte(strconv.FormatInt(quota, 10)), 0); err != nil {
		return fmt.Errorf("cgroups: cpu.cfs_quota_us: %w", err)
	}
	return nil
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
	var u usage
	if cg.v2 {
		d := cg.dir("", id)
		u.peak = readInt(filepath.Join(d, "memory.peak"))
		u.limitHits = readKey(filepath.Join(d, "memory.events"), "oom_kill")
		u.cpuNs = readKey(filepath.Join(d, "cpu.stat"), "usage_usec") * 1000
		return u
	}
	u.peak = readInt(filepath.Join(cg.dir("memory", id), "memory.max_usage_in_bytes"))
	md := cg.dir("memory", id)
	u.limitHits = readInt(filepath.Join(md, "memory.failcnt")) + readInt(filepath.Join(md, "memory.memsw.failcnt"))
	u.cpuNs = readInt(filepath.Join(cg.dir("cpuacct", id), "cpuacct.usage"))
	return u
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
	var dirs []string
	if cg.v2 {
		dirs = []string{filepath.Join(cg.dir("", id), "ctr"), cg.dir("", id)}
	} else {
		ents, err := os.ReadDir(cg.root)
		if err != nil {
			return err
		}
		for _, e := range ents {
			d := filepath.Join(cg.root, e.Name(), cgroupParent, id)
			dirs = append(dirs, filepath.Join(d, "ctr"), d)
		}
	}
	var errs []error
	for _, d := range dirs {
		if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("cgroups: remove %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

// leftovers lists the containers whose id starts with prefix that still
// have a cgroup (for clean-up at start-up and for the tests' leak check).
func (cg cgroups) leftovers(prefix string) []string {
	seen := map[string]bool{}
	var parents []string
	if cg.v2 {
		parents = []string{filepath.Join(cg.root, cgroupParent)}
	} else {
		ents, _ := os.ReadDir(cg.root)
		for _, e := range ents {
			parents = append(parents, filepath.Join(cg.root, e.Name(), cgroupParent))
		}
	}
	var ids []string
	for _, p := range parents {
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
