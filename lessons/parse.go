package lessons

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"html/template"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

// relExternal is the rel of a link to another site: the lesson's address is
// not sent along, and the new page cannot reach back into this one.
const relExternal = "noreferrer noopener"

// parseLesson parses and renders the source of one lesson file.
func parseLesson(src []byte, slug, name string, r *mdRenderer) (*Lesson, error) {
	src = bytes.TrimPrefix(src, []byte("\uFEFF"))
	src = bytes.ReplaceAll(src, []byte("\r\n"), []byte("\n"))
	if err := checkUTF8(src); err != nil {
		return nil, err
	}
	fm, bodyStart, bodyLine, err := parseFrontMatter(src)
	if err != nil {
		return nil, err
	}
	body := src[bodyStart:]
	doc := r.md.Parser().Parse(text.NewReader(body))
	ls := &Lesson{Slug: slug, File: name, Title: fm.Title, Summary: fm.Summary, Order: fm.Order}
	p := &lessonParser{lesson: ls, body: body, lines: newLineIndex(body, bodyLine),
		exercises: exercises{byName: map[string]*Cell{}, broken: map[string]bool{}, named: map[string]bool{}}}
	if err := p.prepare(doc); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := r.md.Renderer().Render(&out, body, doc); err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	ls.HTML = template.HTML(out.String())
	return ls, nil
}

// checkUTF8 reports the line of the first byte that is not UTF-8.
func checkUTF8(src []byte) error {
	if utf8.Valid(src) {
		return nil
	}
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && size == 1 {
			return errorAt(1+bytes.Count(src[:i], []byte("\n")), "the file is not valid UTF-8 text")
		}
		i += size
	}
	return nil
}

// A lineIndex maps byte offsets of a lesson's body to lines of its file.
type lineIndex struct {
	newlines []int // offsets of the body's newlines
	base     int   // lines of the file before the body
}

func newLineIndex(body []byte, base int) lineIndex {
	var nl []int
	for i, b := range body {
		if b == '\n' {
			nl = append(nl, i)
		}
	}
	return lineIndex{newlines: nl, base: base}
}

// line returns the 1-based file line of a body offset.
func (x lineIndex) line(off int) int {
	n, _ := slices.BinarySearch(x.newlines, off)
	return x.base + 1 + n
}

// lessonParser turns the parsed markdown of one lesson into what the
// renderer draws: runnable cells and marked external links.
type lessonParser struct {
	lesson    *Lesson
	body      []byte
	lines     lineIndex
	exercises exercises
}

// prepare replaces each runnable fenced block of doc by a cell node and
// marks external links. It reports every broken cell, not only the first.
func (p *lessonParser) prepare(doc ast.Node) error {
	var blocks []*ast.FencedCodeBlock
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.FencedCodeBlock:
			blocks = append(blocks, n)
		case *ast.Link:
			markExternal(n, n.Destination)
		case *ast.AutoLink:
			if n.AutoLinkType == ast.AutoLinkURL {
				markExternal(n, n.URL(p.body))
			}
		}
		return ast.WalkContinue, nil
	})
	var errs []error
	for _, b := range blocks {
		n, err := p.block(b)
		switch {
		case err != nil:
			errs = append(errs, err)
		case n != nil:
			b.Parent().ReplaceChild(b.Parent(), b, n)
		}
	}
	errs = append(errs, p.exercises.finish(p.lesson.Cells)...)
	slices.SortStableFunc(errs, func(a, b error) int { return cmp.Compare(errorLine(a), errorLine(b)) })
	return errors.Join(errs...)
}

// errorLine returns the line of an *Error, for listing errors in file order.
func errorLine(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Line
	}
	return 0
}

// markExternal gives a link to another site rel="noreferrer noopener". Any
// absolute http or https URL is another site: lessons link to their own
// site with paths.
func markExternal(n ast.Node, dest []byte) {
	u, err := url.Parse(string(dest))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return
	}
	n.SetAttributeString("rel", []byte(relExternal))
}

// block returns the node that replaces a fenced block: a cell, a solution,
// or nil for plain code.
func (p *lessonParser) block(b *ast.FencedCodeBlock) (ast.Node, error) {
	if b.Info == nil {
		return nil, nil
	}
	fence := p.lines.line(b.Info.Segment.Start)
	braces, ok, err := cellInfo(string(b.Info.Segment.Value(p.body)))
	if err != nil || !ok {
		return nil, wrapAt(fence, err)
	}
	attrs, err := parseAttrs(braces)
	if err != nil {
		return nil, wrapAt(fence, err)
	}
	src := p.srcLines(b)
	if slices.ContainsFunc(attrs, func(a attr) bool { return a.key == "solution" }) {
		n, err := p.solution(attrs, src, fence)
		if n == nil || err != nil {
			return nil, err // nil, nil leaves a solution to a broken exercise out of the page
		}
		return n, nil
	}
	if isWrong(attrs) {
		n, err := p.wrong(attrs, src, fence)
		if n == nil || err != nil {
			return nil, err
		}
		return n, nil
	}
	c, err := p.cell(attrs, src, fence)
	if err != nil {
		// A broken exercise's solution is left out quietly, rather than
		// reported as a solution without an exercise.
		if name := exerciseAttr(attrs); name != "" && p.exercises.byName[name] == nil {
			p.exercises.broken[name] = true
		}
		return nil, err
	}
	return &cellNode{cell: c}, nil
}

// srcLines returns the lines of a fenced block with their file lines.
func (p *lessonParser) srcLines(b *ast.FencedCodeBlock) []srcLine {
	src := make([]srcLine, b.Lines().Len())
	for i := range src {
		seg := b.Lines().At(i)
		src[i] = srcLine{text: string(seg.Value(p.body)), line: p.lines.line(seg.Start)}
	}
	return src
}

// exerciseAttr returns the value of the exercise attribute, or "".
func exerciseAttr(attrs []attr) string {
	for _, a := range attrs {
		if a.key == "exercise" {
			return a.value
		}
	}
	return ""
}

// cell makes the runnable cell of a fenced block from its attributes and
// lines, and adds it to the lesson.
func (p *lessonParser) cell(attrs []attr, src []srcLine, fence int) (*Cell, error) {
	c, err := newCell(attrs)
	if err != nil {
		return nil, wrapAt(fence, err)
	}
	if c.Files, err = splitFiles(src, fence); err != nil {
		return nil, err
	}
	c.HasTests = slices.ContainsFunc(c.Files, func(f File) bool { return hasTestSuffix(f.Name) })
	if err := c.check(); err != nil {
		return nil, wrapAt(fence, err)
	}
	ls := p.lesson
	c.Lesson, c.File, c.Line = ls.Slug, ls.File, fence
	if c.Exercise != "" {
		if err := p.exercises.add(c); err != nil {
			return nil, wrapAt(fence, err)
		}
	}
	c.ID = fmt.Sprintf("%s-%d", ls.Slug, len(ls.Cells)+1)
	ls.Cells = append(ls.Cells, c)
	return c, nil
}

func hasTestSuffix(name string) bool {
	return strings.HasSuffix(name, "_test.go")
}

// wrapAt places err at a line; nil stays nil.
func wrapAt(line int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Line: line, Err: err}
}
