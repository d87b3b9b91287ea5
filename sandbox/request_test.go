package sandbox_test

import (
	"encoding/json"
	"errors"
	"flag"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/racelab/racelab/sandbox"
)

const mainGo = "package main\n\nfunc main() {}\n"

// files returns a request's files: main.go plus the extra names given,
// each with a small valid body.
func files(extra ...string) map[string]string {
	m := map[string]string{"main.go": mainGo}
	for _, name := range extra {
		m[name] = "package main\n"
	}
	return m
}

func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name string
		req  sandbox.Request
		want sandbox.Request // after Normalize
	}{
		{
			name: "defaults",
			req:  sandbox.Request{Files: files()},
			want: sandbox.Request{Files: files(), Mode: sandbox.ModeRun, Repeat: 1},
		},
		{
			name: "trace",
			req:  sandbox.Request{Files: files(), Trace: true},
			want: sandbox.Request{Files: files(), Mode: sandbox.ModeRun, Repeat: 1, Trace: true},
		},
		{
			name: "go.mod",
			req:  sandbox.Request{Files: map[string]string{"main.go": mainGo, "go.mod": "module prog\n\ngo 1.26\n"}},
			want: sandbox.Request{Files: map[string]string{"main.go": mainGo, "go.mod": "module prog\n\ngo 1.26\n"}, Mode: sandbox.ModeRun, Repeat: 1},
		},
		{
			name: "race repeat 100",
			req:  sandbox.Request{Files: files(), Mode: sandbox.ModeRace, Repeat: 100, GOMAXPROCS: 64},
			want: sandbox.Request{Files: files(), Mode: sandbox.ModeRace, Repeat: 100, GOMAXPROCS: 64},
		},
		{
			name: "test with a test file",
			req:  sandbox.Request{Files: files("main_test.go"), Mode: sandbox.ModeTest},
			want: sandbox.Request{Files: files("main_test.go"), Mode: sandbox.ModeTest, Repeat: 1},
		},
		{
			name: "exactly 20 files",
			req:  sandbox.Request{Files: manyFiles(20), Mode: sandbox.ModeVet},
			want: sandbox.Request{Files: manyFiles(20), Mode: sandbox.ModeVet, Repeat: 1},
		},
		{
			name: "exactly 64 KiB",
			req:  sandbox.Request{Files: map[string]string{"main.go": strings.Repeat("x", 64<<10)}},
			want: sandbox.Request{Files: map[string]string{"main.go": strings.Repeat("x", 64<<10)}, Mode: sandbox.ModeRun, Repeat: 1},
		},
		{
			name: "utf-8 name and body",
			req:  sandbox.Request{Files: map[string]string{"héllo.go": "package main // ✓\n"}},
			want: sandbox.Request{Files: map[string]string{"héllo.go": "package main // ✓\n"}, Mode: sandbox.ModeRun, Repeat: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			if err := req.Validate(sandbox.DefaultLimits()); err != nil {
				t.Fatalf("Validate(%+v) = %v, want nil", tt.req, err)
			}
			if !reflect.DeepEqual(req, tt.req) {
				t.Errorf("Validate changed the request to %+v, want it as it was: %+v", req, tt.req)
			}
			req.Normalize()
			if err := req.Validate(sandbox.DefaultLimits()); err != nil {
				t.Fatalf("Validate(%+v) after Normalize = %v, want nil", req, err)
			}
			if !reflect.DeepEqual(req, tt.want) {
				t.Errorf("after Normalize, request = %+v, want %+v", req, tt.want)
			}
		})
	}
}

func manyFiles(n int) map[string]string {
	m := files()
	for i := len(m); i < n; i++ {
		m["f"+strings.Repeat("x", i)+".go"] = "package main\n"
	}
	return m
}

func TestValidateRepeat(t *testing.T) {
	tests := []struct {
		repeat int
		ok     bool
	}{
		{0, true}, {1, true}, {2, true}, {100, true},
		{101, false}, {-1, false},
	}
	for _, tt := range tests {
		for _, mode := range []sandbox.Mode{sandbox.ModeRun, sandbox.ModeRace} {
			req := sandbox.Request{Files: files(), Mode: mode, Repeat: tt.repeat}
			err := req.Validate(sandbox.DefaultLimits())
			if got := err == nil; got != tt.ok {
				t.Errorf("Validate(mode %s, repeat %d) = %v, want ok=%v", mode, tt.repeat, err, tt.ok)
			}
			if err != nil && !errors.Is(err, sandbox.ErrBadRequest) {
				t.Errorf("Validate(mode %s, repeat %d) = %v, want it to wrap ErrBadRequest", mode, tt.repeat, err)
			}
		}
	}
}

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name string
		req  sandbox.Request
		want string // a part of the error message
	}{
		{"goarch outside asm", sandbox.Request{Files: files(), GOARCH: "arm64"}, "goarch works only with the asm mode"},
		{"unknown goarch", sandbox.Request{Files: files(), Mode: sandbox.ModeAsm, GOARCH: "riscv64"}, "use amd64 or arm64"},
		{"long cell name", sandbox.Request{Files: files(), Cell: strings.Repeat("c", 201)}, "cell name is longer"},
		{"no files", sandbox.Request{}, "no files"},
		{"empty files", sandbox.Request{Files: map[string]string{}}, "no files"},
		{"21 files", sandbox.Request{Files: manyFiles(21)}, "21 files is too many"},
		{"over 64 KiB", sandbox.Request{Files: map[string]string{"main.go": strings.Repeat("x", 32<<10), "b.go": strings.Repeat("x", 32<<10+1)}}, "at most 65536"},
		{"empty name", sandbox.Request{Files: files("")}, "empty name"},
		{"slash", sandbox.Request{Files: files("a/b.go")}, "plain name"},
		{"backslash", sandbox.Request{Files: files(`a\b.go`)}, "plain name"},
		{"dot dot", sandbox.Request{Files: files("..")}, "plain name"},
		{"dot", sandbox.Request{Files: files(".")}, "plain name"},
		{"leading dot", sandbox.Request{Files: files(".hidden.go")}, "must not start with a dot"},
		{"NUL", sandbox.Request{Files: files("a\x00.go")}, "NUL"},
		{"long name", sandbox.Request{Files: files(strings.Repeat("n", 126) + ".go")}, "longer than 128 bytes"},
		{"non-UTF-8 name", sandbox.Request{Files: files("\xff.go")}, "not valid UTF-8"},
		{"non-UTF-8 body", sandbox.Request{Files: map[string]string{"main.go": "package main // \xc3\x28\n"}}, "main.go is not valid UTF-8"},
		{"not .go", sandbox.Request{Files: files("README.md")}, `"README.md" is not a .go file`},
		{"no .go file", sandbox.Request{Files: map[string]string{"go.mod": "module prog\n"}}, "no .go file"},
		{"unknown mode", sandbox.Request{Files: files(), Mode: "debug"}, `unknown mode "debug"`},
		{"repeat 101", sandbox.Request{Files: files(), Repeat: 101}, "repeat 101 is out of range"},
		{"repeat asm", sandbox.Request{Files: files(), Mode: sandbox.ModeAsm, Repeat: 2}, "only with the run and race modes"},
		{"repeat test", sandbox.Request{Files: files("main_test.go"), Mode: sandbox.ModeTest, Repeat: 2}, "only with the run and race modes"},
		{"repeat fmt", sandbox.Request{Files: files(), Mode: sandbox.ModeFmt, Repeat: 3}, "only with the run and race modes"},
		{"gomaxprocs -1", sandbox.Request{Files: files(), GOMAXPROCS: -1}, "gomaxprocs -1 is out of range"},
		{"gomaxprocs 65", sandbox.Request{Files: files(), GOMAXPROCS: 65}, "gomaxprocs 65 is out of range"},
		{"test without test file", sandbox.Request{Files: files(), Mode: sandbox.ModeTest}, "mode test needs a _test.go file"},
		{"bench without test file", sandbox.Request{Files: files(), Mode: sandbox.ModeBench}, "mode bench needs a _test.go file"},
		{"trace race", sandbox.Request{Files: files(), Mode: sandbox.ModeRace, Trace: true}, "trace works only with the run mode, not race"},
		{"trace asm", sandbox.Request{Files: files(), Mode: sandbox.ModeAsm, Trace: true}, "trace works only with the run mode, not asm"},
		{"trace repeat", sandbox.Request{Files: files(), Repeat: 2, Trace: true}, "trace works with one run, not repeat 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			err := req.Validate(sandbox.DefaultLimits())
			if err == nil {
				t.Fatalf("Validate(%s) = nil, want an error containing %q", tt.name, tt.want)
			}
			if !errors.Is(err, sandbox.ErrBadRequest) {
				t.Errorf("Validate(%s) = %v, want it to wrap ErrBadRequest", tt.name, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate(%s) = %q, want it to contain %q", tt.name, err, tt.want)
			}
		})
	}
}

func TestLimitsCheck(t *testing.T) {
	if err := sandbox.DefaultLimits().Check(); err != nil {
		t.Fatalf("DefaultLimits().Check() = %v, want nil", err)
	}
	tests := []struct {
		name   string
		change func(*sandbox.Limits)
		flag   string
	}{
		{"build timeout 0", func(l *sandbox.Limits) { l.BuildTimeout = 0 }, "-build-timeout"},
		{"run timeout 0", func(l *sandbox.Limits) { l.RunTimeout = 0 }, "-run-timeout"},
		{"request timeout under a run's", func(l *sandbox.Limits) { l.RequestTimeout = l.RunTimeout - time.Second }, "-request-timeout"},
		{"kill grace negative", func(l *sandbox.Limits) { l.KillGrace = -time.Second }, "-kill-grace"},
		{"memory tiny", func(l *sandbox.Limits) { l.MemoryBytes = 1 << 20 }, "-memory"},
		{"race memory tiny", func(l *sandbox.Limits) { l.RaceMemory = 63 << 20 }, "-race-memory"},
		{"pids 15", func(l *sandbox.Limits) { l.Pids = 15 }, "-pids"},
		{"cpus 0", func(l *sandbox.Limits) { l.CPUs = 0 }, "-cpus"},
		{"output 0", func(l *sandbox.Limits) { l.OutputBytes = 0 }, "-output-limit"},
		{"asm output 0", func(l *sandbox.Limits) { l.AsmOutputBytes = 0 }, "-asm-output-limit"},
		{"tmp 15 MiB", func(l *sandbox.Limits) { l.TmpBytes = 15 << 20 }, "-tmp-size"},
		{"max files 0", func(l *sandbox.Limits) { l.MaxFiles = 0 }, "-max-files"},
		{"max source 0", func(l *sandbox.Limits) { l.MaxSourceBytes = 0 }, "-max-source"},
		{"max repeat 0", func(l *sandbox.Limits) { l.MaxRepeat = 0 }, "-max-repeat"},
		{"max gomaxprocs 0", func(l *sandbox.Limits) { l.MaxGOMAXPROCS = 0 }, "-max-gomaxprocs"},
		{"trace bytes 1000", func(l *sandbox.Limits) { l.TraceBytes = 1000 }, "-trace-bytes"},
		{"trace time 0", func(l *sandbox.Limits) { l.TraceTime = 0 }, "-trace-time"},
		{"trace parse memory 1 MiB", func(l *sandbox.Limits) { l.TraceParseMemory = 1 << 20 }, "-trace-parse-memory"},
		{"trace parse timeout 1ms", func(l *sandbox.Limits) { l.TraceParseTimeout = time.Millisecond }, "-trace-parse-timeout"},
		{"trace events 0", func(l *sandbox.Limits) { l.TraceEvents = 0 }, "-trace-events"},
		{"trace spans 99", func(l *sandbox.Limits) { l.TraceSpans = 99 }, "-trace-spans"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := sandbox.DefaultLimits()
			tt.change(&l)
			err := l.Check()
			if err == nil {
				t.Fatalf("Check() = nil, want an error naming %s", tt.flag)
			}
			if !strings.Contains(err.Error(), tt.flag) {
				t.Errorf("Check() = %q, want it to name %s", err, tt.flag)
			}
		})
	}
}

func TestLimitsRegisterFlags(t *testing.T) {
	l := sandbox.DefaultLimits()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	l.RegisterFlags(fs)
	if err := fs.Parse([]string{"-run-timeout=2s", "-memory=1000000000"}); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := sandbox.DefaultLimits()
	want.RunTimeout = 2 * time.Second
	want.MemoryBytes = 1000000000
	if l != want {
		t.Errorf("after Parse, limits = %+v, want %+v", l, want)
	}
}

// TestLimitsEveryFieldHasAFlag sets each flag in turn and checks that it
// changes exactly one field, and that together the flags reach every field.
func TestLimitsEveryFieldHasAFlag(t *testing.T) {
	def := sandbox.DefaultLimits()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	def.RegisterFlags(fs)
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })

	fields := reflect.TypeOf(def).NumField()
	if len(names) != fields {
		t.Errorf("RegisterFlags registered %d flags, want one for each of the %d fields of Limits", len(names), fields)
	}
	reached := map[string]string{} // field name → flag
	for _, name := range names {
		l := sandbox.DefaultLimits()
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		l.RegisterFlags(fs)
		if err := fs.Set(name, otherValue(fs.Lookup(name))); err != nil {
			t.Fatalf("Set(%s): %v", name, err)
		}
		changed := changedFields(sandbox.DefaultLimits(), l)
		if len(changed) != 1 {
			t.Errorf("setting -%s changed fields %v, want exactly one", name, changed)
			continue
		}
		if prev, ok := reached[changed[0]]; ok {
			t.Errorf("-%s and -%s both set %s", prev, name, changed[0])
		}
		reached[changed[0]] = name
	}
	for i := range fields {
		if f := reflect.TypeOf(def).Field(i).Name; reached[f] == "" {
			t.Errorf("Limits.%s has no flag", f)
		}
	}
}

// otherValue returns a value for f that differs from every default.
func otherValue(f *flag.Flag) string {
	switch f.Value.(flag.Getter).Get().(type) {
	case time.Duration:
		return "1234ms"
	case float64:
		return "3.25"
	default:
		return "12345"
	}
}

func changedFields(a, b sandbox.Limits) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var changed []string
	for i := range va.NumField() {
		if !va.Field(i).Equal(vb.Field(i)) {
			changed = append(changed, va.Type().Field(i).Name)
		}
	}
	return changed
}

func TestRequestJSONDuplicateFiles(t *testing.T) {
	tests := []struct {
		in      string
		wantErr bool
		files   int
	}{
		{`{"files":{"main.go":"package main"},"mode":"race"}`, false, 1},
		{`{"files":{"main.go":"a","main.go":"b"}}`, true, 0},
		{`{"files":{"a.go":"x","b.go":"y","a.go":"z"}}`, true, 0},
		{`{"files":["main.go"]}`, true, 0},
		{`{"mode":"run"}`, false, 0},
		{`{"files":null}`, false, 0},
	}
	for _, tt := range tests {
		var r sandbox.Request
		err := json.Unmarshal([]byte(tt.in), &r)
		if (err != nil) != tt.wantErr {
			t.Errorf("Unmarshal(%s) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if tt.wantErr {
			continue
		}
		if len(r.Files) != tt.files {
			t.Errorf("Unmarshal(%s) gave %d files, want %d", tt.in, len(r.Files), tt.files)
		}
	}
	var r sandbox.Request
	if err := json.Unmarshal([]byte(`{"files":{"main.go":"a","main.go":"b"}}`), &r); !errors.Is(err, sandbox.ErrBadRequest) {
		t.Errorf("duplicate file error = %v, want one wrapping sandbox.ErrBadRequest", err)
	}
	if err := json.Unmarshal([]byte(`{"files":{"main.go":"x"},"mode":"race","gomaxprocs":4,"repeat":3}`), &r); err != nil ||
		r.Mode != sandbox.ModeRace || r.GOMAXPROCS != 4 || r.Repeat != 3 {
		t.Errorf("Unmarshal lost fields: %+v, %v", r, err)
	}
}
