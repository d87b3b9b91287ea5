package server

import (
	"strings"

	"github.com/racelab/racelab/check"
	"github.com/racelab/racelab/lessons"
	"github.com/racelab/racelab/sandbox"
)

// judge holds what a run of a lesson cell shows, to say at its end whether
// the run showed what the cell claims: the verdict event, judged by the
// rules racelab check proves the lessons with.
type judge struct {
	cell *lessons.Cell
	seen *check.Observed
}

// judgeFor returns the judge of req, or nil when req names no cell of the
// lessons served now, or asks something other than what the cell claims
// (another mode, another repeat count).
func (s *Server) judgeFor(req *sandbox.Request) *judge {
	if req.Cell == "" {
		return nil
	}
	// The page names a cell "lesson/cell-id".
	slug, id, found := strings.Cut(req.Cell, "/")
	if !found {
		id, slug = slug, ""
	}
	lib := s.site.Load().lib
	if lib == nil {
		return nil
	}
	cell, ok := lib.Cell(id)
	if !ok || (slug != "" && cell.Lesson != slug) || !check.Applies(cell, req) {
		return nil
	}
	return &judge{cell: cell, seen: check.NewObserved()}
}

// see takes in e, and returns the verdict event to send before it when e
// ends the run (an error ends it without one).
func (j *judge) see(e sandbox.Event, req *sandbox.Request) (sandbox.Event, bool) {
	j.seen.Add(e)
	if !e.Ends(req) || e.Kind == sandbox.KindError {
		return sandbox.Event{}, false
	}
	v := check.Judge(j.cell, j.seen)
	return sandbox.Event{Kind: sandbox.KindVerdict, Verdict: &v}, true
}
