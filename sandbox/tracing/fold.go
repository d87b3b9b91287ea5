package tracing

import (
	"strconv"

	"github.com/racelab/racelab/sandbox"
)

// fold keeps the first sandbox.MaxTimelineLanes goroutines of tl as
// lanes of their own and folds the others, by the place that created
// them, into aggregate lanes: each counts its goroutines and sums their
// time in each state; the edges of a folded goroutine name its aggregate.
func fold(tl *sandbox.Timeline) {
	if len(tl.Goroutines) <= sandbox.MaxTimelineLanes {
		return
	}
	lanes := tl.Goroutines[:sandbox.MaxTimelineLanes:sandbox.MaxTimelineLanes]
	byPlace := map[string]int{} // creation place → index in lanes
	moved := map[int64]int64{}  // folded goroutine's id → its aggregate's
	for _, g := range tl.Goroutines[sandbox.MaxTimelineLanes:] {
		key := "?"
		if g.Created != nil {
			key = g.Created.File + ":" + strconv.Itoa(g.Created.Line)
		}
		i, ok := byPlace[key]
		if !ok {
			i = len(lanes)
			byPlace[key] = i
			lanes = append(lanes, sandbox.TraceGoroutine{ID: -int64(len(byPlace)), Name: g.Name,
				Created: g.Created, Parent: g.Parent, States: map[string]int64{}})
		}
		a := &lanes[i]
		a.Count++
		for _, s := range g.Spans {
			a.States[s.State] += s.EndNs - s.StartNs
		}
		moved[g.ID] = a.ID
	}
	tl.Goroutines = lanes
	for i, e := range tl.Edges {
		if id, ok := moved[e.From]; ok {
			tl.Edges[i].From = id
		}
		if id, ok := moved[e.To]; ok {
			tl.Edges[i].To = id
		}
	}
}
