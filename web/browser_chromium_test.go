package web_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The browser's life in the browser tests: finding and starting Chromium,
// watching each tab's console, and making sure that no process or
// goroutine of it outlives the test.

// chromiumPath finds Debian's Chromium: without it the tests skip, or
// fail in CI, where the test command installs it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is not installed in CI: %v", err)
		}
		t.Skipf("chromium is not installed (apt-get install chromium): %v", err)
	}
	return path
}

// The browser tests share one Chromium: starting one takes some 3.5 s of
// CPU on the two cores the tests are held to, and there are eighteen
// tests. Each test gets a browser context of its own (what a fresh
// profile has: its own localStorage, cookies and cache), which goes with
// its tabs when the test ends; TestMain ends the browser and checks that
// no process or goroutine of it outlived it.
type chromium struct {
	once        sync.Once
	ctx         context.Context // the browser's first tab
	cancel      context.CancelFunc
	cancelAlloc context.CancelFunc
	dir         string        // the profile
	out         *lockedBuffer // what Chromium printed
	cmdline     string
	err         error
}

// shared is the browser tests' Chromium, started by the first test that
// needs it.
var shared chromium

// startChromium opens a browser context of t's own in the shared Chromium
// (starting it with the flags the first time) and ends the
// context, with its tabs, when t ends.
func startChromium(t *testing.T, path string) context.Context {
	t.Helper()
	b := &shared
	b.once.Do(func() { b.start(path) })
	if b.err != nil {
		t.Fatalf("starting Chromium: %v", b.err)
	}
	t.Logf("Chromium: %s", b.cmdline)
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(func() {
		if err := chromedp.Cancel(ctx); err != nil {
			t.Errorf("closing the test's browser context: %v", err)
		}
		if t.Failed() {
			t.Logf("Chromium's output (of every test so far):\n%s", b.out.tail(8<<10))
		}
	})
	bounded(t, cancel, "opening a browser context", func() error { return chromedp.Do(ctx) })
	return ctx
}

// start starts the shared Chromium with a fresh profile.
func (b *chromium) start(path string) {
	dir, err := os.MkdirTemp("", "racelab-chromium-")
	if err != nil {
		b.err = err
		return
	}
	b.dir, b.out = dir, new(lockedBuffer)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(dir),
		chromedp.CombinedOutput(b.out),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	b.ctx, b.cancel, b.cancelAlloc = ctx, cancel, cancelAlloc
	// chromedp ties the browser's life to the context of the first action,
	// so that action cannot carry a timeout: a timer cancels instead.
	timer := time.AfterFunc(browserWait, cancel)
	err = chromedp.Do(ctx)
	if !timer.Stop() {
		err = fmt.Errorf("not started within %v", browserWait)
	}
	if err != nil {
		b.err = fmt.Errorf("%w; its output:\n%s", err, b.out.tail(8<<10))
		return
	}
	if p := chromedp.FromContext(ctx).Browser.Process(); p != nil {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.Pid))
		b.cmdline = strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " ")
	}
}

// close ends the shared Chromium, if a test started it, and returns what
// of it outlived it: processes (which it kills), goroutines, the profile.
func (b *chromium) close() []string {
	if b.cancel == nil {
		return nil
	}
	b.cancel()
	b.cancelAlloc() // waits for the browser process to exit
	var left []string
	if procs := waitProcsGone(b.dir); len(procs) > 0 {
		left = append(left, fmt.Sprintf("Chromium processes outlived the browser: %v", procs))
	}
	if err := os.RemoveAll(b.dir); err != nil {
		left = append(left, fmt.Sprintf("removing the browser profile: %v", err))
	}
	if g := waitGoroutinesGone("github.com/chromedp/"); g != "" {
		left = append(left, "chromedp goroutines outlived the browser:\n"+g)
	}
	return left
}

// bounded runs the first action of a chromedp context, cancelling the
// context if it takes longer than browserWait.
func bounded(t *testing.T, cancel context.CancelFunc, what string, first func() error) {
	t.Helper()
	timer := time.AfterFunc(browserWait, cancel)
	err := first()
	if !timer.Stop() {
		t.Fatalf("%s: not done within %v", what, browserWait)
	}
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// consoleWatch collects a tab's console calls, uncaught exceptions and
// browser log entries.
type consoleWatch struct {
	mu      sync.Mutex
	msgs    []string
	bad     []string // uncaught exceptions and CSP violations
	wantCSP bool     // the test provokes a violation on purpose
}

// event is called by chromedp in the tab's event loop: it must be quick.
func (w *consoleWatch) event(ev any) {
	switch ev := ev.(type) {
	case *cdpruntime.EventConsoleAPICalled:
		var args []string
		for _, a := range ev.Args {
			if a.Description != "" {
				args = append(args, a.Description)
			} else {
				args = append(args, string(a.Value))
			}
		}
		w.add("console."+string(ev.Type), strings.Join(args, " "), false)
	case *cdpruntime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		w.add("exception", fmt.Sprintf("%s (%s:%d)", text, d.URL, d.LineNumber+1), true)
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		w.add("log."+string(e.Level)+"."+string(e.Source), e.Text+" "+e.URL, false)
	}
}

func (w *consoleWatch) add(kind, text string, bad bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	msg := kind + ": " + text
	w.msgs = append(w.msgs, msg)
	if bad || strings.Contains(strings.ToLower(text), "content security policy") {
		w.bad = append(w.bad, msg)
	}
}

func (w *consoleWatch) expectCSP() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.wantCSP = true
}

func (w *consoleWatch) violations() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.bad...)
}

func (w *consoleWatch) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.msgs...)
}

// check logs what the console saw and fails t on an exception or a CSP
// violation that the test did not provoke.
func (w *consoleWatch) check(t *testing.T) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range w.msgs {
		t.Logf("browser %s", m)
	}
	if !w.wantCSP && len(w.bad) > 0 {
		t.Errorf("the page had uncaught exceptions or CSP violations:\n%s", strings.Join(w.bad, "\n"))
	}
}

// lockedBuffer collects Chromium's output, which chromedp copies from
// another goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	return len(p), nil
}

// tail returns the last n bytes of the output, without the lines about
// D-Bus, which a headless Chromium in a container prints by the dozen.
func (l *lockedBuffer) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var keep []string
	for _, line := range strings.SplitAfter(string(l.b), "\n") {
		if !strings.Contains(line, "dbus") {
			keep = append(keep, line)
		}
	}
	s := strings.Join(keep, "")
	return s[max(0, len(s)-n):]
}

// waitProcsGone waits a few seconds for every process using the profile
// dir to exit, kills the ones that do not (all are this test's Chromium),
// and returns what they were.
func waitProcsGone(dir string) []string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		procs := procsUsing(dir)
		if len(procs) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			var left []string
			for pid, cmd := range procs {
				if p, err := os.FindProcess(pid); err == nil {
					p.Kill()
				}
				left = append(left, fmt.Sprintf("%d %.80s", pid, cmd))
			}
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// procsUsing returns the processes whose command line names dir.
func procsUsing(dir string) map[int]string {
	procs := map[int]string{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), dir) {
			procs[pid] = strings.ReplaceAll(string(b), "\x00", " ")
		}
	}
	return procs
}

// waitGoroutinesGone waits a few seconds for the goroutines whose stacks
// mention pkg to end, and returns the stacks of those left.
func waitGoroutinesGone(pkg string) string {
	deadline := time.Now().Add(5 * time.Second)
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		var left []string
		for _, g := range strings.Split(string(buf[:n]), "\n\n") {
			if strings.Contains(g, pkg) {
				left = append(left, g)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return strings.Join(left, "\n\n")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
