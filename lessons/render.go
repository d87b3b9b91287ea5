package lessons

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strings"

	"github.com/alecthomas/chroma/v2"
	chromahtml "github.com/alecthomas/chroma/v2/formatters/html"
	"github.com/alecthomas/chroma/v2/lexers"
	"github.com/alecthomas/chroma/v2/styles"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	goldhtml "github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/util"
)

// An mdRenderer turns lesson markdown into HTML. One is made per Load.
//
// Code is highlighted by a small goldmark node renderer of our own rather
// than by goldmark-highlighting: a runnable cell is not one code block but a
// figure of several highlighted files with their source as JSON, which that
// extension cannot draw, and its last release predates chroma's current
// API. Writing the fenced-code renderer ourselves keeps one path for all
// code and pins the exact HTML the front end relies on.
type mdRenderer struct {
	md        goldmark.Markdown
	formatter *chromahtml.Formatter
	style     *chroma.Style // never shows in the HTML: classes only
}

func newRenderer() *mdRenderer {
	r := &mdRenderer{
		// Classes, never inline styles: the site's Content-Security-Policy
		// forbids style attributes. ChromaCSS supplies the colours.
		formatter: chromahtml.New(chromahtml.WithClasses(true)),
		style:     styles.Get(lightStyle),
	}
	r.md = goldmark.New(
		// GFM: tables, strikethrough, autolinks (linkify) and task lists.
		goldmark.WithExtensions(extension.GFM),
		goldmark.WithParserOptions(parser.WithAutoHeadingID()),
		goldmark.WithRendererOptions(
			// An align attribute, not a style attribute, for the same CSP.
			extension.WithTableCellAlignMethod(extension.TableCellAlignAttribute),
			// goldhtml.WithUnsafe is deliberately not given: raw HTML in a
			// lesson is dropped, so a lesson cannot inject script or style.
			renderer.WithNodeRenderers(util.Prioritized(r, 100)),
		),
	)
	return r
}

// kindCell is the kind of the AST node that stands for a runnable cell.
var kindCell = ast.NewNodeKind("RacelabCell")

// A cellNode replaces the fenced block of a runnable cell in the AST.
type cellNode struct {
	ast.BaseBlock
	cell *Cell
}

func (n *cellNode) Kind() ast.NodeKind { return kindCell }

func (n *cellNode) Dump(source []byte, level int) {
	ast.DumpHelper(n, source, level, map[string]string{"ID": n.cell.ID}, nil)
}

// RegisterFuncs implements goldmark's renderer.NodeRenderer. Registered at a
// higher priority than goldmark's own, these replace its code blocks and
// headings.
func (r *mdRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(kindCell, r.renderCell)
	reg.Register(kindSolution, r.renderSolution)
	reg.Register(kindWrong, renderNothing)
	reg.Register(ast.KindFencedCodeBlock, r.renderCode)
	reg.Register(ast.KindCodeBlock, r.renderCode)
	reg.Register(ast.KindHeading, r.renderHeading)
}

// renderCode draws a code block that does not run: highlighted when chroma
// knows its language, plain text otherwise.
func (r *mdRenderer) renderCode(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkSkipChildren, nil
	}
	var lang string
	if b, ok := node.(*ast.FencedCodeBlock); ok {
		lang = string(b.Language(source))
	}
	var code strings.Builder
	for i := range node.Lines().Len() {
		seg := node.Lines().At(i)
		code.Write(seg.Value(source))
	}
	if err := r.highlight(w, lexerFor(lang), code.String()); err != nil {
		return ast.WalkStop, err
	}
	_ = w.WriteByte('\n')
	return ast.WalkSkipChildren, nil
}

// renderHeading draws a heading with its id; h2 and h3 also get a visible
// link to themselves, so a reader can share a section.
func (r *mdRenderer) renderHeading(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	n := node.(*ast.Heading)
	level := string(rune('0' + n.Level))
	if entering {
		_, _ = w.WriteString("<h" + level)
		if n.Attributes() != nil {
			goldhtml.RenderAttributes(w, n, goldhtml.HeadingAttributeFilter)
		}
		_ = w.WriteByte('>')
		return ast.WalkContinue, nil
	}
	if id, ok := n.AttributeString("id"); ok && (n.Level == 2 || n.Level == 3) {
		if id, ok := id.([]byte); ok {
			fmt.Fprintf(w, ` <a class="anchor" href="#%s" aria-label="Link to this section">#</a>`, html.EscapeString(string(id)))
		}
	}
	_, _ = w.WriteString("</h" + level + ">\n")
	return ast.WalkContinue, nil
}

// renderCell draws a runnable cell. The shape, its classes and data
// attributes are a contract with the front end and the server; see
// README.md.
func (r *mdRenderer) renderCell(w util.BufWriter, _ []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkSkipChildren, nil
	}
	if err := r.writeCell(w, node.(*cellNode).cell); err != nil {
		return ast.WalkStop, err
	}
	return ast.WalkSkipChildren, nil
}

func (r *mdRenderer) writeCell(w io.Writer, c *Cell) error {
	fmt.Fprintf(w, `<figure class="cell" id="cell-%s" data-cell="%[1]s" data-mode="%s" data-gomaxprocs="%d" data-repeat="%d" data-tests="%t"`,
		html.EscapeString(c.ID), html.EscapeString(c.Mode), c.GOMAXPROCS, max(c.Repeat, 1), c.HasTests)
	if c.Trace {
		fmt.Fprint(w, ` data-trace="true"`)
	}
	if c.GOARCH != "" {
		fmt.Fprintf(w, ` data-goarch="%s"`, html.EscapeString(c.GOARCH))
	}
	if c.Exercise != "" {
		fmt.Fprintf(w, ` data-exercise="%s"`, html.EscapeString(c.Exercise))
	}
	if len(c.Hidden) > 0 {
		fmt.Fprintf(w, ` data-hidden="%s"`, html.EscapeString(strings.Join(c.Hidden, ",")))
	}
	io.WriteString(w, ">\n  <div class=\"cell-code\">\n")
	// The hidden files of an exercise are left out of the page's code, and
	// so of the no-script view; they are in the JSON, which every run sends.
	var shown []File
	for _, f := range c.Files {
		if c.Shown(f.Name) {
			shown = append(shown, f)
		}
	}
	if err := r.writeFiles(w, "cell-file", shown, len(shown) > 1); err != nil {
		return err
	}
	io.WriteString(w, "  </div>\n")
	fmt.Fprintf(w, "  <script type=\"application/json\" class=\"cell-files\">%s</script>\n", filesJSON(c.Files))
	if len(c.Expect) > 0 {
		fmt.Fprintf(w, "  <figcaption class=\"cell-expect\">%s</figcaption>\n", html.EscapeString(caption(c.Expect)))
	}
	_, err := io.WriteString(w, "</figure>\n")
	return err
}

// writeFiles draws highlighted files as <div class="CLASS" data-file="…">,
// each headed by a <div class="CLASS-name"> when named is true.
func (r *mdRenderer) writeFiles(w io.Writer, class string, files []File, named bool) error {
	for _, f := range files {
		name := html.EscapeString(f.Name)
		fmt.Fprintf(w, `    <div class="%s" data-file="%s">`, class, name)
		if named {
			fmt.Fprintf(w, `<div class="%s-name">%s</div>`, class, name)
		}
		if err := r.highlight(w, fileLexer(f.Name), f.Body); err != nil {
			return err
		}
		io.WriteString(w, "</div>\n")
	}
	return nil
}

// renderSolution draws the reference solution of an exercise, collapsed:
// it is there to read after trying, and does not run.
func (r *mdRenderer) renderSolution(w util.BufWriter, _ []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkSkipChildren, nil
	}
	ex := node.(*solutionNode).exercise
	fmt.Fprintf(w, "<details class=\"solution\" data-exercise=\"%s\">\n  <summary>Show a solution</summary>\n", html.EscapeString(ex.Exercise))
	// Name the files when the learner sees several, so it is clear which
	// one each replaces.
	named := len(ex.Solution) > 1 || len(ex.Files)-len(ex.Hidden) > 1
	if err := r.writeFiles(w, "solution-file", ex.Solution, named); err != nil {
		return ast.WalkStop, err
	}
	_, _ = w.WriteString("</details>\n")
	return ast.WalkSkipChildren, nil
}

// renderNothing draws a known-wrong solution: it is for racelab check, not
// for the page.
func renderNothing(util.BufWriter, []byte, ast.Node, bool) (ast.WalkStatus, error) {
	return ast.WalkSkipChildren, nil
}

// filesJSON encodes the files as a JSON object in their order, main.go
// first. json.Marshal escapes <, > and & as \u003c and so on, so the text
// can never close the script element it sits in, whatever the source holds.
func filesJSON(files []File) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range files {
		if i > 0 {
			b.WriteByte(',')
		}
		// Marshaling a string cannot fail: invalid UTF-8 would be replaced,
		// and Load has already refused it.
		k, _ := json.Marshal(f.Name)
		v, _ := json.Marshal(f.Body)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// highlight writes code as <pre class="chroma"><code>…</code></pre>.
func (r *mdRenderer) highlight(w io.Writer, lexer chroma.Lexer, code string) error {
	it, err := lexer.Tokenise(nil, code)
	if err != nil {
		return fmt.Errorf("highlight: %w", err)
	}
	if err := r.formatter.Format(w, r.style, it); err != nil {
		return fmt.Errorf("highlight: %w", err)
	}
	return nil
}

// lexerFor returns chroma's lexer for the language of a fenced block, or
// plain text when there is none or chroma does not know it.
func lexerFor(lang string) chroma.Lexer {
	if lang == "" {
		return lexers.Fallback
	}
	if l := lexers.Get(lang); l != nil {
		return chroma.Coalesce(l)
	}
	return lexers.Fallback
}

// fileLexer returns the lexer for a file of a cell. chroma has no go.mod
// lexer (and would take go.mod for another language), so that is plain text.
func fileLexer(name string) chroma.Lexer {
	if strings.HasSuffix(name, ".go") {
		return lexerFor("go")
	}
	return lexers.Fallback
}
