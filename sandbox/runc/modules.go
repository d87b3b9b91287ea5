package runc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// DefaultModules are the modules a sandboxed program may import besides
// the standard library, without a go.mod of its own: the lessons use
// golang.org/x/sync/errgroup.
func DefaultModules() []string { return []string{"golang.org/x/sync@v0.25.0"} }

// ctrProxy is where the containers see the module download directory.
const ctrProxy = "/goproxy"

// ensureModules downloads the configured modules once, as trusted code on
// the host (the only time racelab needs the module proxy), into a
// directory the containers mount read-only as their GOPROXY. A host
// without a proxy still gets a working sandbox, only without them.
func (r *Runner) ensureModules(ctx context.Context) {
	if len(r.cfg.Modules) == 0 {
		return
	}
	h := sha256.Sum256([]byte(strings.Join(r.cfg.Modules, "\n")))
	dir := filepath.Join(r.cfg.CacheDir, "modules-"+hex.EncodeToString(h[:])[:12])
	download := filepath.Join(dir, "cache", "download")
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		r.proxyDir = download
		return
	}
	unlock, err := lockFile(ctx, dir+".lock")
	if err != nil {
		r.cfg.Log.Warn("modules unavailable in the sandbox", "err", err)
		return
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		r.proxyDir = download
		return
	}
	if err := r.downloadModules(ctx, dir); err != nil {
		r.cfg.Log.Warn("modules unavailable in the sandbox: programs may import only the standard library", "modules", r.cfg.Modules, "err", err)
		return
	}
	r.proxyDir = download
}

func (r *Runner) downloadModules(ctx context.Context, dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "racelab-modules-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	cmd := exec.CommandContext(ctx, filepath.Join(r.cfg.GOROOT, "bin", "go"), append([]string{"mod", "download"}, r.cfg.Modules...)...)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "GOMODCACHE="+dir, "GOFLAGS=-modcacherw", "GO111MODULE=on", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go mod download: %v: %s", err, out)
	}
	// The extracted sources are not needed: the containers extract their
	// own copy from the download directory into their private GOMODCACHE.
	return os.WriteFile(filepath.Join(dir, "complete"), nil, 0o644)
}
