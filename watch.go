package main

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/racelab/racelab/lessons"
)

// reloadDebounce is how long the lessons directory must stay quiet before
// it is loaded again: an editor's save is often several events (write,
// chmod, rename), and one reload should follow them all.
const reloadDebounce = 100 * time.Millisecond

// A lessonWatcher loads a lessons directory again whenever it changes.
type lessonWatcher struct {
	dir      string
	fsys     fs.FS
	w        *fsnotify.Watcher
	debounce time.Duration
	log      *slog.Logger
}

// watchLessons starts watching dir; changes wait, unseen, until run. The
// caller calls run, which ends when its context does, or close.
func watchLessons(dir string, log *slog.Logger) (*lessonWatcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch lessons: %w", err)
	}
	if err := w.Add(dir); err != nil {
		w.Close()
		return nil, fmt.Errorf("watch lessons: %w", err)
	}
	return &lessonWatcher{dir: dir, fsys: os.DirFS(dir), w: w, debounce: reloadDebounce, log: log}, nil
}

// close stops watching; run calls it too, and a second call does nothing.
func (lw *lessonWatcher) close() { lw.w.Close() }

// run calls reload with the result of lessons.Load after each burst of
// changes in the directory, until ctx is done.
func (lw *lessonWatcher) run(ctx context.Context, reload func(*lessons.Library, error)) {
	defer lw.close()
	timer := time.NewTimer(0)
	<-timer.C // Stopped and drained: it runs only after a change.
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case ev, ok := <-lw.w.Events:
			if !ok {
				return
			}
			lw.log.Debug("lessons changed", "file", ev.Name, "op", ev.Op.String())
			timer.Reset(lw.debounce)
		case err, ok := <-lw.w.Errors:
			if !ok {
				return
			}
			lw.log.Warn("watching lessons", "dir", lw.dir, "err", err)
		case <-timer.C:
			lib, err := lessons.Load(lw.fsys)
			if err != nil {
				lw.log.Warn("lessons reloaded with an error: pages show it until it is fixed", "dir", lw.dir, "err", err)
			} else {
				lw.log.Info("lessons reloaded", "dir", lw.dir, "lessons", len(lib.Lessons()))
			}
			reload(lib, err)
		}
	}
}
