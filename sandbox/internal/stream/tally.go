package stream

import (
	"sort"
	"strconv"
	"strings"

	"github.com/racelab/racelab/sandbox"
)

// Tally counts the outcomes of a repeated run for its summary event.
type Tally struct {
	runs    int
	races   int
	outputs map[string]int
	reasons map[sandbox.Reason]int
	codes   map[string]int
}

// NewTally returns an empty Tally.
func NewTally() *Tally {
	return &Tally{
		outputs: map[string]int{},
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
	t.outputs[strings.TrimRight(stdout, " \t\r\n")]++
	t.reasons[exit.Reason]++
	t.codes[strconv.Itoa(exit.Code)]++
}

// Summary returns the counts so far, outputs most frequent first (ties in
// the order of the output text, so the result is stable).
func (t *Tally) Summary() *sandbox.Summary {
	s := &sandbox.Summary{Runs: t.runs, Races: t.races, Reasons: t.reasons, Codes: t.codes}
	for out, n := range t.outputs {
		s.Outputs = append(s.Outputs, sandbox.Outcome{Output: out, Count: n})
	}
	sort.Slice(s.Outputs, func(i, j int) bool {
		a, b := s.Outputs[i], s.Outputs[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Output < b.Output
	})
	return s
}
