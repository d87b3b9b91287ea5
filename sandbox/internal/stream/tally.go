package stream

import (
	"crypto/sha256"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/racelab/racelab/sandbox"
)

// Tally counts the outcomes of a repeated run for its summary event. It
// keeps a digest and a short sample of each distinct output, never the
// whole output, so its size does not grow with what the runs print.
type Tally struct {
	runs    int
	races   int
	outputs map[[32]byte]*sandbox.Outcome
	reasons map[sandbox.Reason]int
	codes   map[string]int
}

// NewTally returns an empty Tally.
func NewTally() *Tally {
	return &Tally{
		outputs: map[[32]byte]*sandbox.Outcome{},
		reasons: map[sandbox.Reason]int{},
		codes:   map[string]int{},
	}
}

// Add counts one finished run: what it printed and how it ended.
func (t *Tally) Add(stdout string, raced bool, exit sandbox.Event) {
	t.runs++
	if raced {
		t.races++
	}
	out := strings.TrimRight(stdout, " \t\r\n")
	key := sha256.Sum256([]byte(out))
	o, ok := t.outputs[key]
	if !ok {
		o = &sandbox.Outcome{Output: out}
		if len(out) > sandbox.MaxOutcomeBytes {
			cut := sandbox.MaxOutcomeBytes
			for cut > 0 && !utf8.RuneStart(out[cut]) {
				cut--
			}
			o.Output, o.Truncated = out[:cut], true
		}
		t.outputs[key] = o
	}
	o.Count++
	t.reasons[exit.Reason]++
	t.codes[strconv.Itoa(exit.Code)]++
}

// Summary returns the counts so far: the MaxOutcomes most frequent outputs
// (ties in the order of the output text, so the result is stable) and how
// many runs printed something else.
func (t *Tally) Summary() *sandbox.Summary {
	s := &sandbox.Summary{Runs: t.runs, Races: t.races, Reasons: t.reasons, Codes: t.codes}
	for _, o := range t.outputs {
		s.Outputs = append(s.Outputs, *o)
	}
	sort.Slice(s.Outputs, func(i, j int) bool {
		a, b := s.Outputs[i], s.Outputs[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Output < b.Output
	})
	if len(s.Outputs) > sandbox.MaxOutcomes {
		for _, o := range s.Outputs[sandbox.MaxOutcomes:] {
			s.Others += o.Count
		}
		s.Outputs = s.Outputs[:sandbox.MaxOutcomes]
	}
	return s
}
