package bincache

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Get returns the result of the build of k. On a hit, release must be
// called once the run no longer uses the binary (until then the entry is
// not evicted). On a miss with no build of k under way, it returns a
// Build instead: the caller builds, then calls its Put or Abort. While
// another caller builds k, Get waits for that build, or for ctx.
func (c *Cache) Get(ctx context.Context, k Key) (res Result, release func(), b *Build, err error) {
	for {
		c.mu.Lock()
		if e, ok := c.entries[k]; ok {
			res, err := c.read(k)
			if err != nil { // gone from the disk: forget it, and build
				c.drop(k, e)
				c.mu.Unlock()
				continue
			}
			e.refs++
			e.used = time.Now()
			c.mu.Unlock()
			now := time.Now()
			_ = os.Chtimes(filepath.Join(c.dir, k.String(), "result.json"), now, now) // for the next start's order
			return res, c.releaser(k), nil, nil
		}
		f, building := c.flights[k]
		if !building {
			f = &flight{done: make(chan struct{})}
			c.flights[k] = f
			c.mu.Unlock()
			return Result{}, nil, &Build{c: c, key: k, f: f}, nil
		}
		c.mu.Unlock()
		select {
		case <-f.done: // put (a hit now) or aborted (build it ourselves)
		case <-ctx.Done():
			return Result{}, nil, nil, ctx.Err()
		}
	}
}

// read reads entry k's result; c.mu is held.
func (c *Cache) read(k Key) (Result, error) {
	dir := filepath.Join(c.dir, k.String())
	b, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if err != nil {
		return Result{}, err
	}
	var res Result
	if err := json.Unmarshal(b, &res); err != nil {
		return Result{}, err
	}
	if res.Status == 0 {
		res.Binary = filepath.Join(dir, "prog")
	}
	return res, nil
}

// releaser returns the release of one use of entry k.
func (c *Cache) releaser(k Key) func() {
	done := false
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if e, ok := c.entries[k]; ok && !done {
			e.refs--
			done = true
			c.evict()
		}
	}
}

// drop forgets entry k and removes it from the disk; c.mu is held.
func (c *Cache) drop(k Key, e *entry) {
	delete(c.entries, k)
	c.size -= e.size
	_ = os.RemoveAll(filepath.Join(c.dir, k.String()))
}

// evict removes the least recently used entries not in use until the
// cache is within its limit; c.mu is held.
func (c *Cache) evict() {
	for c.size > c.limit {
		var oldest Key
		var victim *entry
		for k, e := range c.entries {
			if e.refs == 0 && (victim == nil || e.used.Before(victim.used)) {
				oldest, victim = k, e
			}
		}
		if victim == nil {
			return // everything left is in use
		}
		c.drop(oldest, victim)
	}
}

// Build is a build of a key that no entry answers yet: the caller's own,
// which the other callers of Get for the key wait for.
type Build struct {
	c    *Cache
	key  Key
	f    *flight
	over bool
}

// Put stores the build's result and, for a build that succeeded, a copy
// of the binary at the host path binary; then the callers waiting for it
// find it. A build that failed is stored too: the same source gets the
// same errors again without a build.
func (b *Build) Put(res Result, binary string) error {
	if b.over {
		return nil
	}
	c := b.c
	tmp, err := os.MkdirTemp(c.dir, "tmp-")
	if err == nil {
		err = writeEntry(tmp, res, binary)
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(c.dir, b.key.String()))
	}
	if err != nil {
		os.RemoveAll(tmp)
		b.Abort()
		return fmt.Errorf("bincache: store %s: %w", b.key, err)
	}
	size, _, err := entrySize(filepath.Join(c.dir, b.key.String()))
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.entries[b.key] = &entry{size: size, used: time.Now()}
		c.size += size
		c.evict()
	}
	b.end()
	return err
}

// Abort ends the build without an entry (it was stopped, or failed for a
// reason of the sandbox's): a waiting caller builds it again. It does
// nothing after Put.
func (b *Build) Abort() {
	if b.over {
		return
	}
	b.c.mu.Lock()
	defer b.c.mu.Unlock()
	b.end()
}

// end closes the flight; b.c.mu is held.
func (b *Build) end() {
	b.over = true
	delete(b.c.flights, b.key)
	close(b.f.done)
}

// writeEntry writes an entry's files into dir: the binary, when there is
// one, and the result.
func writeEntry(dir string, res Result, binary string) error {
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	if res.Status == 0 {
		if err := copyFile(binary, filepath.Join(dir, "prog")); err != nil {
			return err
		}
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "result.json"), b, 0o644)
}

// copyFile copies the regular file src to a new file dst, executable.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
