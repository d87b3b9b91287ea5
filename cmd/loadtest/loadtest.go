package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// When the quiet comparison runs, relative to the class.
const (
	quietBefore = "before"
	quietAfter  = "after"
	quietBoth   = "both"
)

// config is what one load test does.
type config struct {
	URL       string        // the server, http://host:port
	Clients   int           // learners pressing Run at once (0: no class)
	PID       int           // the server's pid, to read its memory (0: unknown)
	QuietRuns int           // warm race runs per side of the quiet comparison (0: none)
	QuietAt   string        // quietBefore, quietAfter or quietBoth
	GoCache   string        // GOCACHE of the bare side ("": go env GOCACHE)
	Timeout   time.Duration // the whole test (0: none)
	Verbose   bool          // print every run of the quiet comparison
	Shapes    []string      // the classes, in order: shapeSame, shapeFresh
	BinCache  string        // the server's cache of built programs, to report its size ("": not reported)
}

// report is everything a load test measured.
type report struct {
	Classes []classReport // in the order they ran
	Quiet   []quietStats  // the quiet comparisons, in the order they ran
}

// classReport is one class.
type classReport struct {
	Shape      string        // shapeSame or shapeFresh
	Cells      []cellStats   // the race-mode cell, then the repeat=10 cell
	Took       time.Duration // from the first learner's dial to the last one's end
	RSSBefore  int64         // the server's resident memory before the class, in bytes (0: unknown)
	RSSAfter   int64         // and after it
	CacheBytes int64         // the server's cache of built programs after it (0: unknown)
}

// allSucceeded reports whether every learner's every cell succeeded.
func (r *report) allSucceeded() bool {
	for _, cl := range r.Classes {
		for _, c := range cl.Cells {
			if c.OK != c.Total {
				return false
			}
		}
	}
	return true
}

// run plays the load test cfg describes against the server at cfg.URL and
// writes its report to out as it goes. An error means the test could not
// be carried out; failed learners are in the report, not an error.
func run(ctx context.Context, cfg config, out io.Writer) (*report, error) {
	if cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
	}
	switch cfg.QuietAt {
	case quietBefore, quietAfter, quietBoth:
	default:
		return nil, fmt.Errorf("-quiet %q: want %s, %s or %s", cfg.QuietAt, quietBefore, quietAfter, quietBoth)
	}
	ws := "ws" + strings.TrimPrefix(cfg.URL, "http") + "/api/ws"
	rep := &report{}
	quiet := func(when string) error {
		if cfg.QuietRuns <= 0 || (cfg.QuietAt != when && cfg.QuietAt != quietBoth) {
			return nil
		}
		q, err := compare(ctx, ws, cfg.GoCache, cfg.QuietRuns)
		if err != nil {
			return fmt.Errorf("quiet comparison %s the class: %w", when, err)
		}
		if cfg.Clients > 0 {
			q.When = when
		}
		rep.Quiet = append(rep.Quiet, q)
		q.print(out, cfg.Verbose)
		return nil
	}
	if err := quiet(quietBefore); err != nil {
		return rep, err
	}
	id := strconv.FormatInt(time.Now().UnixNano(), 36) // new to the server's cache
	for _, shape := range cfg.Shapes {
		if cfg.Clients <= 0 {
			break
		}
		c := classReport{Shape: shape, RSSBefore: rss(cfg.PID)}
		results, took := class(ctx, ws, cfg.Clients, shape, id)
		c.Took, c.RSSAfter, c.CacheBytes = took, rss(cfg.PID), du(cfg.BinCache)
		c.Cells = cells(results)
		c.print(out)
		rep.Classes = append(rep.Classes, c)
	}
	if err := quiet(quietAfter); err != nil {
		return rep, err
	}
	return rep, nil
}

// du returns the bytes of the files below dir (0 for "" or none).
func du(dir string) int64 {
	var n int64
	if dir == "" {
		return 0
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// rss returns the resident memory of process pid in bytes (0 if unknown).
func rss(pid int) int64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kb)
			return kb << 10
		}
	}
	return 0
}
