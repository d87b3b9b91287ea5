package stream

import (
	"crypto/sha256"
	"regexp"
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
	counted map[string]int64 // "label: N" lines, summed
	numbers []float64        // the number each run printed
	mixed   bool             // a run printed no number, or several
}

// NewTally returns an empty Tally.
func NewTally() *Tally {
	return &Tally{
		outputs: map[[32]byte]*sandbox.Outcome{},
		reasons: map[sandbox.Reason]int{},
		codes:   map[string]int{},
		counted: map[string]int64{},
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
	t.count(out)
	t.number(out)
}

// maxLabels bounds the distinct labels Counted keeps while counting.
const maxLabels = 200

// countedRE matches a line "label: N", as a litmus test prints its outcomes.
var countedRE = regexp.MustCompile(`^\s*(\S.{0,79}?)\s*:\s*(\d{1,15})\s*$`)

// count adds the "label: N" lines of out to the sums.
func (t *Tally) count(out string) {
	for _, line := range strings.Split(out, "\n") {
		m := countedRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if _, ok := t.counted[m[1]]; !ok && len(t.counted) >= maxLabels {
			continue
		}
		n, _ := strconv.ParseInt(m[2], 10, 64)
		t.counted[m[1]] += n
	}
}

// numberRE matches a number as a program prints one.
var numberRE = regexp.MustCompile(`-?\d+(?:\.\d+)?`)

// number keeps the number out holds, when it holds exactly one.
func (t *Tally) number(out string) {
	ns := numberRE.FindAllString(out, 2)
	if len(ns) != 1 {
		t.mixed = true
		return
	}
	f, _ := strconv.ParseFloat(ns[0], 64)
	t.numbers = append(t.numbers, f)
}

// Summary returns the counts so far: the MaxOutcomes most frequent outputs
// (ties in the order of the output text, so the result is stable) and how
// many runs printed something else.
func (t *Tally) Summary() *sandbox.Summary {
	s := &sandbox.Summary{Runs: t.runs, Races: t.races, Reasons: t.reasons, Codes: t.codes, Counted: t.countedList()}
	if !t.mixed && len(t.numbers) > 0 {
		s.Numbers = t.numbers
	}
	for _, o := range t.outputs {
		s.Outputs = append(s.Outputs, *o)
	}
	sort.Slice(s.Outputs, func(i, j int) bool {
		a, b := s.Outputs[i], s.Outputs[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return naturalLess(a.Output, b.Output)
	})
	if len(s.Outputs) > sandbox.MaxOutcomes {
		for _, o := range s.Outputs[sandbox.MaxOutcomes:] {
			s.Others += o.Count
		}
		s.Outputs = s.Outputs[:sandbox.MaxOutcomes]
	}
	return s
}

// countedList returns the summed labels, most counted first (ties in
// natural order), at most MaxOutcomes.
func (t *Tally) countedList() []sandbox.Counted {
	var cs []sandbox.Counted
	for label, n := range t.counted {
		cs = append(cs, sandbox.Counted{Label: label, Count: n})
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Count != cs[j].Count {
			return cs[i].Count > cs[j].Count
		}
		return naturalLess(cs[i].Label, cs[j].Label)
	})
	return cs[:min(len(cs), sandbox.MaxOutcomes)]
}

// naturalLess orders strings as a person does: runs of digits by their
// value ("n = 968568" before "n = 1564294"), the rest byte by byte.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

// digits returns the length of the run of ASCII digits s starts with.
func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
