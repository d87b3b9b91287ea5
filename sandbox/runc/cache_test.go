package runc

import (
	"go/parser"
	"go/token"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racelab/racelab/lessons"
	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/sandbox/internal/gotool"
)

// The warm sample must build and vet cleanly, or no runner can start; this
// needs no root and no container, so it runs everywhere.
func TestWarmSampleBuilds(t *testing.T) {
	work := warmSamples(t)
	for _, step := range []warmStep{
		{gotool.Plan{Build: []string{"go", "vet", "."}}, filepath.Join(work, "src")},
		{gotool.Plan{Build: []string{"go", "test", "-c", "-o", os.DevNull, "."}}, filepath.Join(work, "src")},
		{gotool.PlanFor(sandbox.ModeRace, os.DevNull), filepath.Join(work, "exit")},
	} {
		argv := step.Build
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = step.dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false", "GOTOOLCHAIN=local")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%v: %v\n%s", argv, err, out)
		}
	}
}

// Every standard-library package a built-in lesson's cell imports (its
// code, solution and known-wrong solutions) is in the warm cache, so a
// class's first Run does not compile it in every container; an asm cell's
// are also in the listing's sample for arm64, which the learner may pick.
// A lesson author who adds an import learns here to add it to warmMain or
// warmAsmMain.
func TestWarmCoversLessonImports(t *testing.T) {
	t.Parallel() // no container: go list, beside the waiting tests (see TestMain)
	lib, err := lessons.Load(lessons.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	std := goList(t, t.TempDir(), nil, "std")
	work := warmSamples(t)
	warm := goList(t, filepath.Join(work, "src"), nil, "-deps", "-test", ".")
	asm := goList(t, filepath.Join(work, "asm"), []string{"GOARCH=arm64", "CGO_ENABLED=0"}, "-deps", ".")
	checked := 0
	for _, c := range lib.AllCells() {
		files := slices.Clone(c.Files)
		files = append(files, c.Solution...)
		for _, w := range c.Wrong {
			files = append(files, w.Files...)
		}
		for _, f := range files {
			if !strings.HasSuffix(f.Name, ".go") {
				continue
			}
			af, err := parser.ParseFile(token.NewFileSet(), f.Name, f.Body, parser.ImportsOnly)
			if err != nil {
				continue // a cell that shows a syntax error
			}
			for _, spec := range af.Imports {
				imp, _ := strconv.Unquote(spec.Path.Value)
				if !std[imp] {
					continue
				}
				checked++
				if !warm[imp] {
					t.Errorf("cell %s imports %q, which the warm cache lacks: add it to warmMain (or warmTest)", c.ID, imp)
				}
				if c.Mode == "asm" && !asm[imp] {
					t.Errorf("asm cell %s imports %q, which the arm64 listing's warm cache lacks: add it to warmAsmMain", c.ID, imp)
				}
			}
		}
	}
	if checked < 100 {
		t.Errorf("checked %d imports of the built-in lessons, want the lessons' hundreds", checked)
	}
}

// warmSamples writes the warm samples as buildWarm does and returns
// their work directory: warmSample in src, warmExitSample in exit,
// warmAsmSample in asm.
func warmSamples(t *testing.T) string {
	t.Helper()
	work := t.TempDir()
	if err := writeWarmSamples(work, runtime.GOROOT()); err != nil {
		t.Fatal(err)
	}
	return work
}

// goList runs go list with args in dir and returns the packages it names.
func goList(t *testing.T, dir string, env []string, args ...string) map[string]bool {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GOFLAGS=-buildvcs=false", "GOTOOLCHAIN=local"), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	pkgs := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		pkgs[p] = true
	}
	return pkgs
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

// A wrapped program's build finds the exit package (gotool.ExitPackage)
// in the warm cache, wherever its sources are: only the learner's
// package main is compiled. Built on the host, against a copy of the
// warm cache, with the environment and flags of a run's build.
func TestWarmCacheHasExitPackage(t *testing.T) {
	r := runner(t)
	work := t.TempDir()
	cache := filepath.Join(work, "cache")
	if out, err := exec.Command("cp", "-a", r.warmDir, cache).CombinedOutput(); err != nil {
		t.Fatalf("copy the warm cache: %v\n%s", err, out)
	}
	src := filepath.Join(work, "src")
	for _, d := range []string{src, filepath.Join(work, "home"), filepath.Join(work, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	prog := "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tgo fmt.Println(\"a program the warm cache never saw\")\n}\n"
	for _, mode := range []sandbox.Mode{sandbox.ModeRace, sandbox.ModeRun} {
		files := gotool.Source(map[string]string{"main.go": prog}, mode, gotool.Tracing{}, r.cfg.GOROOT)
		if !strings.Contains(files["main.go"], gotool.ExitPackage) {
			t.Fatalf("%s: the program was not wrapped:\n%s", mode, files["main.go"])
		}
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		plan := gotool.PlanFor(mode, filepath.Join(work, "tmp", "prog"))
		cmd := exec.Command(filepath.Join(r.cfg.GOROOT, "bin", "go"), append([]string{plan.Build[1], "-x"}, plan.Build[2:]...)...)
		cmd.Dir = src
		cmd.Env = gotool.BuildEnv(r.cfg.GOROOT, filepath.Join(work, "home"), cache, filepath.Join(work, "tmp"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", mode, err, out)
		}
		compiled := regexp.MustCompile(`/compile .* -p (\S+) `).FindAllStringSubmatch(string(out), -1)
		var pkgs []string
		for _, m := range compiled {
			pkgs = append(pkgs, m[1])
		}
		if !slices.Equal(pkgs, []string{"main"}) {
			t.Errorf("%s: the build compiled %v, want only main", mode, pkgs)
		}
	}
}

// pruneWarm removes the warm caches of other keys that nobody holds, a
// sealed one (read-only files and directories) and its unfinished build
// included, and leaves alone: the runner's own, one a runner uses, one
// being built, the module download directory, and whatever is not a
// warm cache's directory.
func TestPruneWarm(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, sealed bool) {
		t.Helper()
		d := filepath.Join(dir, name, "00")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "entry-d"), []byte("x"), 0o444); err != nil {
			t.Fatal(err)
		}
		if sealed {
			os.Chmod(d, 0o555)
			os.Chmod(filepath.Join(dir, name), 0o555)
		}
	}
	const own, old, used, building = "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "cccccccccccccccc", "dddddddddddddddd"
	for _, name := range []string{own, old, old + ".new", used, building, "modules-0123456789ab", "notakey"} {
		mk(name, name == old)
	}
	if err := os.WriteFile(filepath.Join(dir, "eeeeeeeeeeeeeeee"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	user, err := flockWait(t.Context(), filepath.Join(dir, used+".use"), unix.LOCK_SH)
	if err != nil {
		t.Fatal(err)
	}
	defer user.Close()
	builder, err := flockWait(t.Context(), filepath.Join(dir, building+".lock"), unix.LOCK_EX)
	if err != nil {
		t.Fatal(err)
	}
	defer builder.Close()

	var log strings.Builder
	r := &Runner{cfg: Config{CacheDir: dir, Log: slog.New(slog.NewTextHandler(&log, nil))}, warmDir: filepath.Join(dir, own)}
	r.pruneWarm()
	for name, want := range map[string]bool{own: true, old: false, old + ".new": false, used: true, building: true,
		"modules-0123456789ab": true, "notakey": true, "eeeeeeeeeeeeeeee": true} {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v (%v)", name, err == nil, want, err)
		}
	}
	if !strings.Contains(log.String(), old) || strings.Contains(log.String(), "could not") {
		t.Errorf("the log does not say what was removed, or says a removal failed:\n%s", log.String())
	}
}

// A runner holds its warm cache's use lock for as long as it is open, so
// that another's pruneWarm (a racelab of another toolchain on a shared
// cache directory) cannot remove it from under its containers.
func TestRunnerHoldsItsWarmCache(t *testing.T) {
	r := runner(t)
	if removed, err := pruneUnused(r.warmDir); removed || err != nil {
		t.Fatalf("pruneUnused removed the open runner's warm cache (%v, %v)", removed, err)
	}
	if _, err := os.Stat(filepath.Join(r.warmDir, "README")); err != nil {
		t.Fatalf("the open runner's warm cache: %v", err)
	}
}
