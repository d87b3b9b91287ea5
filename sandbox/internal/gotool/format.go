package gotool

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// ReadSource reads back from dir the files of a request (the names of
// files) that a fmt build rewrote there, at most limit bytes in all. It
// reports whether they were over the limit, and then returns none: gofmt
// ran as untrusted work in the sandbox, and what it left is bounded here
// too. A name that is no longer a regular file is an error.
func ReadSource(dir string, files map[string]string, limit int64) (map[string]string, bool, error) {
	out := make(map[string]string, len(files))
	left := limit
	for name := range files {
		b, err := readRegular(filepath.Join(dir, name), left)
		if err != nil {
			return nil, false, fmt.Errorf("read back %s: %w", name, err)
		}
		if left -= int64(len(b)); left < 0 {
			return nil, true, nil
		}
		out[name] = string(b)
	}
	return out, false, nil
}

// readRegular reads at most limit+1 bytes of the regular file at path,
// without following a symbolic link.
func readRegular(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file")
	}
	return io.ReadAll(io.LimitReader(f, limit+1))
}
