package sandbox

import (
	"bytes"
	"encoding/json"
	"path"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// Mode says what the sandbox does with the submitted files.
type Mode string

// The modes of a run; README.md ("Running code") says what each runs in
// the container.
const (
	ModeRun   Mode = "run"   // go build, then run the program
	ModeRace  Mode = "race"  // go build -race, then run the program
	ModeAsm   Mode = "asm"   // go build -gcflags=-S of the user's package; nothing runs
	ModeTest  Mode = "test"  // go test -race -v
	ModeBench Mode = "bench" // go test -run=^$ -bench=. -benchmem
	ModeVet   Mode = "vet"   // go vet
	ModeFmt   Mode = "fmt"   // gofmt; the formatted files come back in a fmt event
)

// Modes lists every mode in the order a person would read them.
func Modes() []Mode {
	return []Mode{ModeRun, ModeRace, ModeAsm, ModeTest, ModeBench, ModeVet, ModeFmt}
}

// RunsProgram reports whether the mode executes the user's code after building it.
func (m Mode) RunsProgram() bool {
	switch m {
	case ModeRun, ModeRace, ModeTest, ModeBench:
		return true
	}
	return false
}

// Repeatable reports whether repeat > 1 makes sense: the program is built
// once and then executed again in fresh containers.
func (m Mode) Repeatable() bool { return m == ModeRun || m == ModeRace }

// Request is one submission: the files to build and how to run them.
// It is the JSON body of POST /api/run and the message sent on /api/ws.
type Request struct {
	// Files maps a file name ("main.go", "main_test.go", optionally
	// "go.mod") to its contents. Names are plain base names.
	Files map[string]string `json:"files"`
	// Mode is what to do with the files; empty means "run".
	Mode Mode `json:"mode,omitempty"`
	// GOMAXPROCS sets the program's GOMAXPROCS; 0 keeps the Go default.
	GOMAXPROCS int `json:"gomaxprocs,omitempty"`
	// Repeat runs the built program this many times, each in a fresh
	// container; 0 means once. Only for the run and race modes.
	Repeat int `json:"repeat,omitempty"`
	// GOARCH is the architecture the asm mode compiles for: "" or
	// "amd64" (the default), or "arm64". Only for the asm mode.
	GOARCH string `json:"goarch,omitempty"`
	// Cell names the lesson cell the files come from ("slug/cell-id"),
	// so that the server says whether the run showed what the cell
	// claims (a verdict event); empty for none.
	Cell string `json:"cell,omitempty"`
	// Trace runs the program with Go's execution tracer on, from just
	// before its main to just after main returns (within the limits
	// TraceBytes and TraceTime), and sends what it recorded as a
	// timeline event before the exit. Only for the run mode, once.
	Trace bool `json:"trace,omitempty"`
}

// Architectures lists the GOARCH values the asm mode compiles for.
func Architectures() []string { return []string{"amd64", "arm64"} }

// maxCellName bounds Request.Cell.
const maxCellName = 200

// Names returns the request's file names in sorted order.
func (r *Request) Names() []string {
	names := make([]string, 0, len(r.Files))
	for name := range r.Files {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Normalize fills in the defaults that the zero values stand for: mode
// run, repeat 1. A caller that reads Mode or Repeat (a backend, the web
// tier's edge) normalizes a request before it validates it.
func (r *Request) Normalize() {
	if r.Mode == "" {
		r.Mode = ModeRun
	}
	if r.Repeat == 0 {
		r.Repeat = 1
	}
}

// Validate checks the request against the limits and returns an error
// wrapping ErrBadRequest that says what to change. It does not change r:
// an empty mode and a zero repeat are checked as the defaults Normalize
// would set.
func (r *Request) Validate(l Limits) error {
	n := *r
	n.Normalize()
	return n.validate(l)
}

// validate checks a normalized request.
func (r *Request) validate(l Limits) error {
	if !validMode(r.Mode) {
		return badRequest("unknown mode %q (want one of %s)", r.Mode, modeList())
	}
	if r.Repeat < 1 || r.Repeat > l.MaxRepeat {
		return badRequest("repeat %d is out of range: use 1 to %d", r.Repeat, l.MaxRepeat)
	}
	if r.Repeat > 1 && !r.Mode.Repeatable() {
		return badRequest("repeat works only with the run and race modes, not %s", r.Mode)
	}
	if err := r.validateTrace(); err != nil {
		return err
	}
	if r.GOMAXPROCS < 0 || r.GOMAXPROCS > l.MaxGOMAXPROCS {
		return badRequest("gomaxprocs %d is out of range: use 1 to %d, or 0 for the default", r.GOMAXPROCS, l.MaxGOMAXPROCS)
	}
	if err := r.validateArch(); err != nil {
		return err
	}
	if len(r.Cell) > maxCellName || !utf8.ValidString(r.Cell) {
		return badRequest("the cell name is longer than %d bytes or not UTF-8", maxCellName)
	}
	return validateFiles(r.Files, r.Mode, l)
}

// validateTrace checks Trace: the run mode only, one execution.
func (r *Request) validateTrace() error {
	switch {
	case !r.Trace:
		return nil
	case r.Mode != ModeRun:
		return badRequest("trace works only with the run mode, not %s: the race detector's and the test binary's own goroutines would crowd the timeline", r.Mode)
	case r.Repeat > 1:
		return badRequest("trace works with one run, not repeat %d: a timeline shows one execution", r.Repeat)
	}
	return nil
}

// validateArch checks GOARCH: one of Architectures, in the asm mode only.
func (r *Request) validateArch() error {
	switch {
	case r.GOARCH == "":
		return nil
	case r.Mode != ModeAsm:
		return badRequest("goarch works only with the asm mode, not %s: programs run on the server's own architecture", r.Mode)
	case !slices.Contains(Architectures(), r.GOARCH):
		return badRequest("goarch %q is not one racelab compiles for: use %s", r.GOARCH, strings.Join(Architectures(), " or "))
	}
	return nil
}

func validateFiles(files map[string]string, mode Mode, l Limits) error {
	if len(files) == 0 {
		return badRequest("no files: send at least one .go file")
	}
	if len(files) > l.MaxFiles {
		return badRequest("%d files is too many: at most %d", len(files), l.MaxFiles)
	}
	total, goFiles, tests := 0, 0, 0
	for name, body := range files {
		if err := validName(name); err != nil {
			return err
		}
		if !utf8.ValidString(body) {
			return badRequest("%s is not valid UTF-8 text", name)
		}
		total += len(body)
		if strings.HasSuffix(name, ".go") {
			goFiles++
		}
		if strings.HasSuffix(name, "_test.go") {
			tests++
		}
	}
	if total > l.MaxSourceBytes {
		return badRequest("the source is %d bytes: at most %d in all files together", total, l.MaxSourceBytes)
	}
	if goFiles == 0 {
		return badRequest("no .go file among the files")
	}
	if (mode == ModeTest || mode == ModeBench) && tests == 0 {
		return badRequest("mode %s needs a _test.go file", mode)
	}
	return nil
}

func validName(name string) error {
	switch {
	case name == "":
		return badRequest("a file has an empty name")
	case strings.ContainsRune(name, 0):
		return badRequest("file name %q contains a NUL byte", name)
	case strings.ContainsAny(name, `/\`) || name == "." || name == ".." || path.Clean(name) != name:
		return badRequest("file name %q must be a plain name, without directories", name)
	case strings.HasPrefix(name, "."):
		return badRequest("file name %q must not start with a dot", name)
	case len(name) > 128:
		return badRequest("file name %q is longer than 128 bytes", name[:32]+"…")
	case !utf8.ValidString(name):
		return badRequest("file name %q is not valid UTF-8", name)
	case name == "go.mod":
		return nil
	case !strings.HasSuffix(name, ".go"):
		return badRequest("file %q is not a .go file (only *.go and go.mod are accepted)", name)
	}
	return nil
}

func validMode(m Mode) bool {
	for _, v := range Modes() {
		if v == m {
			return true
		}
	}
	return false
}

func modeList() string {
	var b strings.Builder
	for i, m := range Modes() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(m))
	}
	return b.String()
}

// UnmarshalJSON decodes a request and refuses a files object that names a
// file twice, which encoding/json would otherwise resolve silently by
// keeping the last one.
func (r *Request) UnmarshalJSON(b []byte) error {
	type plain Request
	var raw struct {
		Files json.RawMessage `json:"files"`
		*plain
	}
	raw.plain = (*plain)(r)
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if len(raw.Files) == 0 || bytes.Equal(raw.Files, []byte("null")) {
		r.Files = nil
		return nil
	}
	if err := checkDuplicateKeys(raw.Files); err != nil {
		return err
	}
	return json.Unmarshal(raw.Files, &r.Files)
}

// checkDuplicateKeys reports a key that appears twice in the JSON object b.
func checkDuplicateKeys(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return badRequest("files must be an object mapping file names to their contents")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		if seen[name] {
			return badRequest("the file %q is given twice", name)
		}
		seen[name] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	return nil
}
