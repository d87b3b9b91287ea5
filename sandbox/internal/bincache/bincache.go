// Package bincache keeps the programs racelab built, by a cryptographic
// hash of everything that determines them, so that a cell pressed again,
// or by a class of sixty at once, is built once: the others wait for that
// build and run its binary. Results are never kept: every run runs.
//
// The cache is a directory of racelab's own that no container can write:
// each entry is written by racelab into a temporary directory and renamed
// into place, and a run's container gets the binary bound read-only. It is
// bounded in bytes (least recently used entries go first, never one in
// use), survives restarts, and is shared by every slot of a runner.
package bincache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/racelab/racelab/sandbox"
)

// Version names the layout of the key and of an entry; a change of either
// makes every old entry unreachable.
const Version = "racelab-bin-v1"

// Key is the hash of everything that determines a build's outcome.
type Key [sha256.Size]byte

// String is the key in hex, the entry's directory name.
func (k Key) String() string { return hex.EncodeToString(k[:]) }

// KeyOf hashes what determines a build: the toolchain's identity (its
// version, gcc's, the provided modules: whatever the caller knows changes
// a build), the mode, the build's command line, and every file (names and
// contents, wrapper and go.mod included).
func KeyOf(toolchain string, mode sandbox.Mode, argv []string, files map[string]string) Key {
	h := sha256.New()
	field := func(s string) {
		fmt.Fprintf(h, "%d:", len(s))
		io.WriteString(h, s)
	}
	for _, s := range []string{Version, toolchain, string(mode), strconv.Itoa(len(argv))} {
		field(s)
	}
	for _, a := range argv {
		field(a)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		field(name)
		field(files[name])
	}
	var k Key
	h.Sum(k[:0])
	return k
}

// Result is what a build left: its status and what it printed, and for a
// build that succeeded, the binary (Binary: the entry's file).
type Result struct {
	Status    int    `json:"status"`
	Output    string `json:"output"`
	Truncated bool   `json:"truncated,omitempty"`
	Binary    string `json:"-"`
}

// Cache is a directory of built programs; see the package doc.
type Cache struct {
	dir   string
	limit int64

	mu      sync.Mutex
	size    int64
	entries map[Key]*entry
	flights map[Key]*flight // builds under way
}

// entry is what the cache knows of one entry on disk.
type entry struct {
	size int64
	used time.Time
	refs int // runs using it now: it is not evicted meanwhile
}

// flight is a build of a key under way; done is closed when it ends.
type flight struct{ done chan struct{} }

// Open opens (making it if need be) the cache in dir, bounded by limit
// bytes. It removes what an interrupted write left and learns the size of
// the entries there.
func Open(dir string, limit int64) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bincache: %w", err)
	}
	c := &Cache{dir: dir, limit: limit, entries: map[Key]*entry{}, flights: map[Key]*flight{}}
	if err := c.scan(); err != nil {
		return nil, fmt.Errorf("bincache: %w", err)
	}
	c.mu.Lock()
	c.evict()
	c.mu.Unlock()
	return c, nil
}

// scan learns the entries on disk and removes unfinished writes.
func (c *Cache) scan() error {
	ents, err := os.ReadDir(c.dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		var k Key
		b, err := hex.DecodeString(e.Name())
		if err != nil || len(b) != len(k) {
			os.RemoveAll(filepath.Join(c.dir, e.Name())) // a temporary directory, or not ours
			continue
		}
		copy(k[:], b)
		size, used, err := entrySize(filepath.Join(c.dir, e.Name()))
		if err != nil {
			os.RemoveAll(filepath.Join(c.dir, e.Name()))
			continue
		}
		c.entries[k] = &entry{size: size, used: used}
		c.size += size
	}
	return nil
}

// entrySize returns the bytes of an entry's files and when it was last used.
func entrySize(dir string) (int64, time.Time, error) {
	meta, err := os.Stat(filepath.Join(dir, "result.json"))
	if err != nil {
		return 0, time.Time{}, err
	}
	size := meta.Size()
	if fi, err := os.Stat(filepath.Join(dir, "prog")); err == nil {
		size += fi.Size()
	}
	return size, meta.ModTime(), nil
}

// Size returns the bytes the cache holds now and its number of entries.
func (c *Cache) Size() (int64, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size, len(c.entries)
}

// ErrNoEntry is returned by Get's lookup of a key that has no entry.
var ErrNoEntry = errors.New("bincache: no entry")
