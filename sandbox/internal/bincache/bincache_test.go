package bincache

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/racelab/racelab/sandbox"
)

func files(src string) map[string]string {
	return map[string]string{"main.go": src, "go.mod": "module prog\n"}
}

var argv = []string{"go", "build", "-race", "-o", "/tmp/prog", "."}

func TestKeyOf(t *testing.T) {
	base := KeyOf("go1.26 gcc12", sandbox.ModeRace, argv, files("package main"))
	if again := KeyOf("go1.26 gcc12", sandbox.ModeRace, argv, files("package main")); again != base {
		t.Fatal("the same build has two keys")
	}
	for name, k := range map[string]Key{
		"another source":       KeyOf("go1.26 gcc12", sandbox.ModeRace, argv, files("package main ")),
		"another file name":    KeyOf("go1.26 gcc12", sandbox.ModeRace, argv, map[string]string{"x.go": "package main", "go.mod": "module prog\n"}),
		"another toolchain":    KeyOf("go1.27 gcc12", sandbox.ModeRace, argv, files("package main")),
		"another mode":         KeyOf("go1.26 gcc12", sandbox.ModeRun, argv, files("package main")),
		"another command line": KeyOf("go1.26 gcc12", sandbox.ModeRace, argv[:5], files("package main")),
		"bytes moved between a name and its body": KeyOf("go1.26 gcc12", sandbox.ModeRace, argv,
			map[string]string{"main.gop": "ackage main", "go.mod": "module prog\n"}),
	} {
		if k == base {
			t.Errorf("%s: same key as the original", name)
		}
	}
}

// writeBinary writes a fake built binary of n bytes and returns its path.
func writeBinary(t *testing.T, n int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "prog")
	if err := os.WriteFile(p, []byte(strings.Repeat("x", n)), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPutThenHit(t *testing.T) {
	c, err := Open(t.TempDir(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	k := KeyOf("tc", sandbox.ModeRace, argv, files("ok"))
	res, release, b, err := c.Get(t.Context(), k)
	if err != nil || release != nil || b == nil {
		t.Fatalf("first Get = %+v, %v, %v; want a build to do", res, b, err)
	}
	if err := b.Put(Result{Output: "note\n"}, writeBinary(t, 100)); err != nil {
		t.Fatal(err)
	}
	res, release, b, err = c.Get(t.Context(), k)
	if err != nil || b != nil || res.Output != "note\n" || res.Binary == "" {
		t.Fatalf("second Get = %+v, %v, %v; want a hit with the binary", res, b, err)
	}
	defer release()
	if got, _ := os.ReadFile(res.Binary); len(got) != 100 {
		t.Errorf("the cached binary has %d bytes, want 100", len(got))
	}
	failed := KeyOf("tc", sandbox.ModeRace, argv, files("broken"))
	_, _, b, _ = c.Get(t.Context(), failed)
	b.Put(Result{Status: 1, Output: "./main.go:1:1: expected 'package'\n"}, "")
	res, release2, _, _ := c.Get(t.Context(), failed)
	defer release2()
	if res.Status != 1 || res.Binary != "" || !strings.Contains(res.Output, "expected") {
		t.Errorf("a failed build's hit = %+v, want its status and errors, no binary", res)
	}
}

// Sixty identical requests at once: exactly one builds, the others wait
// for it and hit.
func TestOneBuildForMany(t *testing.T) {
	c, err := Open(t.TempDir(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	k := KeyOf("tc", sandbox.ModeRace, argv, files("class"))
	bin := writeBinary(t, 10)
	var builds, hits atomic.Int64
	var wg sync.WaitGroup
	for range 60 {
		wg.Go(func() {
			res, release, b, err := c.Get(context.Background(), k)
			switch {
			case err != nil:
				t.Error(err)
			case b != nil:
				builds.Add(1)
				time.Sleep(50 * time.Millisecond) // the build
				if err := b.Put(Result{}, bin); err != nil {
					t.Error(err)
				}
			default:
				hits.Add(1)
				if res.Binary == "" {
					t.Error("a hit without a binary")
				}
				release()
			}
		})
	}
	wg.Wait()
	if builds.Load() != 1 || hits.Load() != 59 {
		t.Errorf("%d builds and %d hits, want 1 and 59", builds.Load(), hits.Load())
	}
}

// A build that is stopped leaves no entry; one who waited builds instead.
func TestAbortedBuild(t *testing.T) {
	c, _ := Open(t.TempDir(), 1<<20)
	k := KeyOf("tc", sandbox.ModeRace, argv, files("stopped"))
	_, _, b, _ := c.Get(t.Context(), k)
	got := make(chan *Build)
	go func() {
		_, _, b2, _ := c.Get(context.Background(), k)
		got <- b2
	}()
	time.Sleep(20 * time.Millisecond)
	b.Abort()
	if b2 := <-got; b2 == nil {
		t.Fatal("the waiter got no build of its own after the first was aborted")
	} else {
		b2.Abort()
	}
	ctx, cancel := context.WithCancel(t.Context())
	_, _, b, _ = c.Get(t.Context(), k)
	defer b.Abort()
	cancel()
	if _, _, _, err := c.Get(ctx, k); err == nil {
		t.Error("a waiter whose context ended did not give up")
	}
}

// The cache keeps within its bound, the least recently used going first,
// never an entry in use; and it remembers its entries after a restart.
func TestEvictionAndRestart(t *testing.T) {
	dir := t.TempDir()
	c, _ := Open(dir, 2500)
	put := func(src string) Key {
		k := KeyOf("tc", sandbox.ModeRun, argv, files(src))
		_, _, b, _ := c.Get(t.Context(), k)
		if err := b.Put(Result{}, writeBinary(t, 1000)); err != nil {
			t.Fatal(err)
		}
		return k
	}
	a := put("a")
	_, inUse, _, _ := c.Get(t.Context(), a) // a is in use
	time.Sleep(10 * time.Millisecond)
	bk := put("b")
	time.Sleep(10 * time.Millisecond)
	put("c") // over the bound: b, the oldest not in use, goes
	if size, n := c.Size(); size > 2500 || n != 2 {
		t.Errorf("after three puts: %d bytes in %d entries, want at most 2500 in 2", size, n)
	}
	if _, err := os.Stat(filepath.Join(dir, bk.String())); !os.IsNotExist(err) {
		t.Errorf("b, the least recently used, is still on disk (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, a.String(), "prog")); err != nil {
		t.Errorf("a, in use, was evicted: %v", err)
	}
	inUse()
	os.MkdirAll(filepath.Join(dir, "tmp-123"), 0o755) // an interrupted write
	c2, err := Open(dir, 2500)
	if err != nil {
		t.Fatal(err)
	}
	if size, n := c2.Size(); n != 2 || size == 0 {
		t.Errorf("after a restart: %d entries (%d bytes), want the 2 left", n, size)
	}
	if _, err := os.Stat(filepath.Join(dir, "tmp-123")); !os.IsNotExist(err) {
		t.Error("an interrupted write is still there after a restart")
	}
	if _, _, b, _ := c2.Get(t.Context(), a); b != nil {
		t.Error("after a restart, a kept entry is a miss")
	}
}
