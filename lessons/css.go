package lessons

import (
	"slices"
	"strings"

	chromahtml "github.com/alecthomas/chroma/v2/formatters/html"
	"github.com/alecthomas/chroma/v2/styles"
)

// The chroma styles of the highlighted code: GitHub's, whose light and dark
// variants match the colours learners know from reading code there.
const (
	lightStyle = "github"
	darkStyle  = "github-dark"
)

// ChromaCSS returns the style sheet for the highlighting classes in the
// rendered lessons: the light theme, then the dark theme inside
// @media (prefers-color-scheme: dark). The HTML carries classes only, never
// style attributes, so that the site can forbid inline styles in its
// Content-Security-Policy; this sheet is served as a file. It is computed on
// each call: call it once at start-up.
func ChromaCSS() string {
	light := chromaRules(lightStyle)
	dark := overlay(light, chromaRules(darkStyle))
	var b strings.Builder
	b.WriteString("/* Code highlighting: chroma's " + lightStyle + " and " + darkStyle + " styles (lessons.ChromaCSS). */\n")
	for _, r := range light {
		b.WriteString(r.String())
	}
	b.WriteString("@media (prefers-color-scheme: dark) {\n")
	for _, r := range dark {
		b.WriteString("  " + r.String())
	}
	b.WriteString("}\n")
	return b.String()
}

// A cssRule is one rule of chroma's style sheet.
type cssRule struct {
	selector string
	decls    []string // "color: #24292f"
}

func (r cssRule) String() string {
	return r.selector + " { " + strings.Join(r.decls, "; ") + " }\n"
}

// chromaRules returns the rules chroma writes for a style, one per line.
func chromaRules(style string) []cssRule {
	var b strings.Builder
	f := chromahtml.New(chromahtml.WithClasses(true), chromahtml.WithCSSComments(false))
	_ = f.WriteCSS(&b, styles.Get(style)) // a strings.Builder does not fail
	var rules []cssRule
	for line := range strings.Lines(b.String()) {
		sel, body, ok := strings.Cut(strings.TrimSpace(line), " { ")
		if !ok || !strings.HasPrefix(sel, ".chroma") {
			// Only rules under .chroma: chroma's .bg is for standalone
			// pages, and so generic a class name could hit the site's own.
			continue
		}
		r := cssRule{selector: sel}
		for d := range strings.SplitSeq(strings.TrimSuffix(body, "}"), ";") {
			if d = strings.TrimSpace(d); d != "" {
				r.decls = append(r.decls, d)
			}
		}
		rules = append(rules, r)
	}
	return rules
}

// overlay returns the dark rules completed so that nothing of the light
// theme shows through them: a property that a light rule sets and the dark
// one does not is reset with "unset", and a light rule with no dark
// counterpart gets one that resets all of its properties. Without this, a
// token that GitHub's light style colours and its dark style leaves alone
// would keep its light colour on a dark background.
func overlay(light, dark []cssRule) []cssRule {
	out := slices.Clone(dark)
	index := map[string]int{}
	for i, r := range out {
		index[r.selector] = i
	}
	for _, l := range light {
		i, ok := index[l.selector]
		if !ok {
			out = append(out, cssRule{selector: l.selector})
			i = len(out) - 1
			index[l.selector] = i
		}
		for _, d := range l.decls {
			prop := property(d)
			if !slices.ContainsFunc(out[i].decls, func(x string) bool { return property(x) == prop }) {
				out[i].decls = append(out[i].decls, prop+": unset")
			}
		}
	}
	return out
}

// property returns the property name of a declaration: "color: red" → "color".
func property(decl string) string {
	p, _, _ := strings.Cut(decl, ":")
	return strings.TrimSpace(p)
}
