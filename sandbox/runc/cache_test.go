package runc

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// The warm sample must build and vet cleanly, or no runner can start; this
// needs no root and no container, so it runs everywhere.
func TestWarmSampleBuilds(t *testing.T) {
	dir := t.TempDir()
	for name, body := range warmSample() {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, argv := range [][]string{{"go", "vet", "."}, {"go", "test", "-c", "-o", os.DevNull, "."}} {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false", "GOTOOLCHAIN=local")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%v: %v\n%s", argv, err, out)
		}
	}
}

// The trusted warm cache is owned by the sandbox uid on the host, so any
// host process running as that uid ("nobody") can plant or rewrite cache
// entries that every later run then builds with. The go command checks
// only an output's size against its action entry, not its content.
func TestWarmCacheNotWritableBySandboxUID(t *testing.T) {
	r := runner(t)
	target := filepath.Join(r.warmDir, "00", "review-poison")
	defer os.Remove(target)
	cmd := exec.Command("/bin/sh", "-c", `: > "$1"`, "sh", target)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(r.cfg.UID), Gid: uint32(r.cfg.GID)}}
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("a host process with uid %d created %s in the trusted warm cache (%s)", r.cfg.UID, target, out)
	}
}
