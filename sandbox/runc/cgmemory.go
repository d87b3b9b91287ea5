package runc

import (
	"os"
	"path/filepath"

	"github.com/racelab/racelab/sandbox"
)

// memoryAhead is the memory limit a container prepared ahead starts
// with, before a request's mode is known: the smallest of the modes', so
// that a container nobody claimed yet is held to the tightest one.
func (r *Runner) memoryAhead() int64 {
	return min(r.cfg.Limits.MemoryBytes, r.cfg.Limits.RaceMemory)
}

// setMemory gives the container id prepared ahead the memory limit of
// mode, unless it has it already.
func (r *Runner) setMemory(id string, mode sandbox.Mode) error {
	if m := r.cfg.Limits.MemoryFor(mode); m != r.memoryAhead() {
		return r.cg.setMemory(id, m)
	}
	return nil
}

// setMemory changes run id's memory limit (see create) while its
// container runs. On v1, memory+swap is never below memory, so the two
// are written in the order that keeps it so.
func (cg cgroups) setMemory(id string, memory int64) error {
	if cg.v2 {
		return writeFile(cg.dir("", id), "memory.max", memory)
	}
	md := cg.dir("memory", id)
	mem, memsw := "memory.limit_in_bytes", "memory.memsw.limit_in_bytes"
	if _, err := os.Stat(filepath.Join(md, memsw)); err != nil {
		return writeFile(md, mem, memory)
	}
	if memory > readInt(filepath.Join(md, mem)) {
		if err := writeFile(md, memsw, memory+swapSliver); err != nil {
			return err
		}
		return writeFile(md, mem, memory)
	}
	if err := writeFile(md, mem, memory); err != nil {
		return err
	}
	return writeFile(md, memsw, memory+swapSliver)
}
