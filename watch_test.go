package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/racelab/racelab/lessons"
)

// reloaded is what one call of the watcher's reload function got.
type reloaded struct {
	lib *lessons.Library
	err error
}

// The watcher loads the directory again after a change, once per burst
// of changes, and passes on a broken lesson's error; it ends with its
// context.
func TestWatchLessons(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "01-one.md", "---\ntitle: One\nsummary: S.\norder: 1\n---\n\nText.\n")
	w, err := watchLessons(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan reloaded, 10)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { w.run(ctx, func(lib *lessons.Library, err error) { got <- reloaded{lib, err} }) })
	defer func() {
		stop()
		wg.Wait()
	}()
	next := func(what string) reloaded {
		t.Helper()
		select {
		case r := <-got:
			return r
		case <-time.After(2 * time.Second):
			t.Fatalf("%s: no reload within 2 s", what)
			return reloaded{}
		}
	}

	// Several writes in a row are one reload.
	for _, title := range []string{"Uno", "Eins", "Un"} {
		writeFile(t, dir, "01-one.md", "---\ntitle: "+title+"\nsummary: S.\norder: 1\n---\n\nText.\n")
	}
	writeFile(t, dir, "02-two.md", "---\ntitle: Two\nsummary: S.\norder: 2\n---\n\nMore.\n")
	r := next("edit")
	if r.err != nil {
		t.Fatalf("reload after an edit: %v", r.err)
	}
	if ls := r.lib.Lessons(); len(ls) != 2 || ls[0].Title != "Un" {
		t.Errorf("reload after an edit: %d lessons, first %q; want 2, first \"Un\"", len(ls), ls[0].Title)
	}
	select {
	case r := <-got:
		t.Errorf("a second reload for one burst of writes: %+v", r)
	case <-time.After(3 * reloadDebounce):
	}

	writeFile(t, dir, "02-two.md", "---\ntitle: Two\nsummary: S.\norder: 2\n---\n\n```go {mode=warp}\npackage main\n```\n")
	if r := next("broken"); r.err == nil || !strings.Contains(r.err.Error(), "02-two.md:7") {
		t.Errorf("reload of a broken lesson: err %v, want one naming 02-two.md:7", r.err)
	}

	stop()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("the watcher did not end with its context")
	}
}
