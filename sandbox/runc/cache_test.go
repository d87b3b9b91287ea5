package runc

import (
	"os"
	"os/exec"
	"path/filepath"
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
