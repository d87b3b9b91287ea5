package server

import (
	"bytes"
	"errors"
	"html"
	"html/template"

	"github.com/racelab/racelab/lessons"
)

// A site is one rendering of the lessons: everything the page handlers
// serve. It is never modified once published; Reload publishes a new one,
// so a request reads one consistent set of pages without a lock.
type site struct {
	version uint64           // 1 at start-up, one more at each Reload
	lib     *lessons.Library // the last library that loaded
	pages   map[string]*body // path → rendered page, ready to serve; nil while broken
	broken  []byte           // the error page served for every page while the lessons do not load
	missing []byte           // the rendered 404 page
	changed chan struct{}    // closed when a newer site replaces this one
}

// Reload replaces the pages with those of lib, or, when loadErr is not
// nil, with an error page showing loadErr (its text names the file and
// line) in place of the index and every lesson, until a later Reload
// brings good lessons back. Either way it bumps the version that
// GET /api/reload announces. It is safe to call while serving.
func (s *Server) Reload(lib *lessons.Library, loadErr error) {
	s.reload.Lock()
	defer s.reload.Unlock()
	old := s.site.Load()
	if lib == nil && loadErr == nil {
		loadErr = errors.New("server: no lessons")
	}
	var next *site
	if loadErr == nil {
		next, loadErr = s.render(lib)
	}
	if loadErr != nil {
		next = s.renderBroken(old, loadErr)
	}
	next.version = old.version + 1
	s.site.Store(next)
	close(old.changed)
}

// render renders the index, every lesson page and the 404 page of lib.
func (s *Server) render(lib *lessons.Library) (*site, error) {
	st := &site{lib: lib, pages: map[string]*body{}, changed: make(chan struct{})}
	var err error
	all := lib.Lessons()
	links := make([]lessonLink, len(all))
	for i, l := range all {
		links[i] = lessonLink{Slug: l.Slug, Title: l.Title, Summary: l.Summary, Order: l.Order, Cells: len(l.Cells)}
	}
	var b bytes.Buffer
	if err = s.tmplExec(&b, "index.html", indexPage{Title: "racelab", Lessons: links, Live: s.cfg.Live}); err != nil {
		return nil, err
	}
	if st.pages["/"], err = page(b.Bytes()); err != nil {
		return nil, err
	}
	for i, l := range all {
		p := lessonPage{Title: l.Title, Lesson: lessonView{Slug: l.Slug, Title: l.Title, Summary: l.Summary, Order: l.Order, HTML: l.HTML}, Live: s.cfg.Live}
		if i > 0 {
			p.Prev = &links[i-1]
		}
		if i+1 < len(links) {
			p.Next = &links[i+1]
		}
		b.Reset()
		if err = s.tmplExec(&b, "lesson.html", p); err != nil {
			return nil, err
		}
		if st.pages["/lessons/"+l.Slug], err = page(b.Bytes()); err != nil {
			return nil, err
		}
	}
	missing, err := s.renderMissing()
	if err != nil {
		return nil, err
	}
	st.missing = missing
	return st, nil
}

func (s *Server) renderMissing() ([]byte, error) {
	var b bytes.Buffer
	if err := s.tmplExec(&b, "404.html", notFoundPage{Title: "Not found", Live: s.cfg.Live}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// renderBroken returns the site that shows err on every page. It keeps
// the last good library and 404 page of old, for /healthz and unknown paths.
func (s *Server) renderBroken(old *site, err error) *site {
	st := &site{lib: old.lib, missing: old.missing, changed: make(chan struct{})}
	var b bytes.Buffer
	page := errorPage{Title: "A lesson does not load", Message: err.Error(), Live: s.cfg.Live}
	if e := s.tmplExec(&b, "error.html", page); e != nil {
		// The templates rendered at start-up, so this does not happen; the
		// author still deserves the message.
		s.cfg.Log.Error("render error page", "err", e)
		b.Reset()
		b.WriteString("<!doctype html><title>racelab</title><pre>" + html.EscapeString(err.Error()) + "</pre>")
	}
	st.broken = b.Bytes()
	return st
}

// The data of the page templates (see web/templates). Live asks the
// page to reload itself when the server's pages change.
type (
	lessonLink struct {
		Slug, Title, Summary string
		Order, Cells         int
	}
	indexPage struct {
		Title   string
		Lessons []lessonLink
		Live    bool
	}
	lessonView struct {
		Slug, Title, Summary string
		Order                int
		HTML                 template.HTML
	}
	lessonPage struct {
		Title      string
		Lesson     lessonView
		Prev, Next *lessonLink
		Live       bool
	}
	notFoundPage struct {
		Title, Path string
		Live        bool
	}
	errorPage struct {
		Title, Message string
		Live           bool
	}
)

// page is a rendered page ready to serve: asked again each time (it
// changes when the lessons do), gzipped once.
func page(html []byte) (*body, error) {
	return newBody("text/html; charset=utf-8", cacheRevalidate, bytes.Clone(html), nil, nil)
}
