package lessons

import (
	"bytes"
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
	p := &lessonParser{lesson: ls, body: body, lines: newLineIndex(body, bodyLine)}
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
	lesson *Lesson
	body   []byte
	lines  lineIndex
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
		c, err := p.cell(b)
		switch {
		case err != nil:
			errs = append(errs, err)
		case c != nil:
			b.Parent().ReplaceChild(b.Parent(), b, &cellNode{cell: c})
		}
	}
	return errors.Join(errs...)
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

// cell returns the runnable cell of a fenced block, or nil if the block is
// plain code.
func (p *lessonParser) cell(b *ast.FencedCodeBlock) (*Cell, error) {
	if b.Info == nil {
		return nil, nil
	}
	fence := p.lines.line(b.Info.Segment.Start)
	braces, ok, err := cellInfo(string(b.Info.Segment.Value(p.body)))
	if err != nil || !ok {
		return nil, wrapAt(fence, err)
	}
	c, err := newCell(braces)
	if err != nil {
		return nil, wrapAt(fence, err)
	}
	src := make([]srcLine, b.Lines().Len())
	for i := range src {
		seg := b.Lines().At(i)
		src[i] = srcLine{text: string(seg.Value(p.body)), line: p.lines.line(seg.Start)}
	}
	if c.Files, err = splitFiles(src, fence); err != nil {
		return nil, err
	}
	c.HasTests = slices.ContainsFunc(c.Files, func(f File) bool { return hasTestSuffix(f.Name) })
	if err := c.check(); err != nil {
		return nil, wrapAt(fence, err)
	}
	ls := p.lesson
	c.ID = fmt.Sprintf("%s-%d", ls.Slug, len(ls.Cells)+1)
	c.Lesson, c.File, c.Line = ls.Slug, ls.File, fence
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
