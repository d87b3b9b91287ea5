package gotool

import (
	"encoding/json"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/racelab/racelab/sandbox"
)

// diagRE matches one compiler or vet diagnostic: "./main.go:7:2: msg",
// "vet: ./main.go:7:2: msg", or with an absolute path.
var diagRE = regexp.MustCompile(`^(?:vet: )?(\S+?\.go):(\d+)(?::(\d+))?: (.*)$`)

// Diagnostics returns one compile_error event for each diagnostic line in
// the toolchain's output. Paths are reduced to the submitted file's name.
func Diagnostics(out string) []sandbox.Event {
	var evs []sandbox.Event
	for _, line := range strings.Split(out, "\n") {
		m := diagRE.FindStringSubmatch(strings.TrimRight(line, "\r"))
		if m == nil {
			continue
		}
		ln, _ := strconv.Atoi(m[2])
		col, _ := strconv.Atoi(m[3])
		evs = append(evs, sandbox.Event{
			Kind: sandbox.KindCompileError,
			File: path.Base(m[1]),
			Line: ln,
			Col:  col,
			Msg:  m[4],
		})
	}
	return evs
}

// asmRE matches an instruction line of the -S listing:
// "\t0x0004 00004 (/work/main.go:5)\tPCDATA\t$0, $-2".
var asmRE = regexp.MustCompile(`^\s+0x[0-9a-f]+ (\d+) \(([^)]*?):(\d+)\)\t(.*)$`)

// funcRE matches the header of a function: "main.main STEXT size=271 ...".
// Names of generic instantiations hold spaces ("main.f[go.shape.struct {
// X int }]"), so the name is everything before " STEXT".
var funcRE = regexp.MustCompile(`^(.+?) STEXT\b`)

// Asm parses the compiler's -S listing into lines, keeping only functions
// (STEXT symbols) and dropping data symbols, hex dumps and relocations.
// dir is the directory the submitted files were built in. Instructions
// whose source position is elsewhere (wrappers the compiler generates,
// standard-library code inlined into the user's) are kept but carry no
// file and no line, so they are never drawn against a submitted file that
// happens to share a name.
func Asm(out, dir string) []sandbox.AsmLine {
	var lines []sandbox.AsmLine
	fn := ""
	for _, raw := range strings.Split(out, "\n") {
		if m := funcRE.FindStringSubmatch(raw); m != nil {
			fn = m[1]
			continue
		}
		if raw != "" && raw[0] != '\t' && raw[0] != ' ' {
			fn = "" // a data symbol or another header: not code
			continue
		}
		m := asmRE.FindStringSubmatch(raw)
		if m == nil || fn == "" {
			continue
		}
		off, _ := strconv.Atoi(m[1])
		ln, _ := strconv.Atoi(m[3])
		text := strings.Join(strings.Fields(strings.ReplaceAll(m[4], "\t", " ")), " ")
		op, _, _ := strings.Cut(text, " ")
		// The listing prints a LOCK prefix as an instruction of its own;
		// join it to the instruction it locks, as a reader writes it.
		if n := len(lines); n > 0 && lines[n-1].Text == "LOCK" && lines[n-1].Func == fn {
			lines[n-1].Text = "LOCK " + text
			continue
		}
		file := m[2]
		if path.Dir(file) == dir {
			file = path.Base(file)
		} else {
			file, ln = "", 0
		}
		lines = append(lines, sandbox.AsmLine{
			Func:   fn,
			Offset: off,
			File:   file,
			Line:   ln,
			Text:   text,
			Noise:  op == "PCDATA" || op == "FUNCDATA",
		})
	}
	return lines
}

// AsmLines is the lines of an asm event: the listing as Asm reads it,
// each function's name on its first line only, cut before its JSON
// passes budget bytes. It reports whether it cut the listing.
func AsmLines(out, dir string, budget int64) ([]sandbox.AsmLine, bool) {
	lines := Asm(out, dir)
	size, fn := int64(0), ""
	for i := range lines {
		if lines[i].Func == fn {
			lines[i].Func = ""
		} else {
			fn = lines[i].Func
		}
		b, _ := json.Marshal(lines[i])
		if size += int64(len(b)) + 1; size > budget {
			return lines[:i], true
		}
	}
	return lines, false
}

// HasRace reports whether a program's standard error holds a race report.
func HasRace(stderr string) bool {
	return strings.Contains(stderr, "WARNING: DATA RACE")
}

// EmitDiagnostics sends the toolchain's findings, one compile_error event
// per line it can place, then the whole text as stderr so that nothing it
// cannot place is lost.
func EmitDiagnostics(emit func(sandbox.Event), text string, truncated bool) {
	for _, e := range Diagnostics(text) {
		emit(e)
	}
	if truncated {
		text += "\n[output truncated]\n"
	}
	if text != "" {
		emit(sandbox.Event{Kind: sandbox.KindStderr, Data: text})
	}
}

// QuietBuild drops from a successful build's output the go command's
// notes about resolving a provided module ("go: finding module for
// package …", "go: downloading …", "go: found …"), which are not the
// program's and would read to a learner as if it had printed them.
func QuietBuild(out string) string {
	var keep []string
	for _, line := range strings.SplitAfter(out, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "go: finding module for package ") || strings.HasPrefix(t, "go: downloading ") ||
			(strings.HasPrefix(t, "go: found ") && strings.Contains(t, " in ")) {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "")
}
