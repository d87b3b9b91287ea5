package web_test

import (
	"math"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// How the lesson page looks (web/static/app.css): in the light and dark
// themes, on a phone's screen, and without JavaScript.
func TestBrowserLook(t *testing.T) {
	bt := newBrowserTest(t, site{})
	for _, st := range []subtest{
		{"Themes", testLookThemes},
		{"ThemeChoice", testLookThemeChoice},
		{"RunningGlyph", testLookRunningGlyph},
		{"Phone", testLookPhone},
		{"WithoutJavaScript", testLookWithoutJavaScript},
	} {
		t.Run(st.name, func(t *testing.T) { st.run(t, bt) })
	}
}

func emulateScheme(scheme string) chromedp.Action[chromedp.Void] {
	return cdpCall(emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	})
}

// themeColors is what a theme shows: text colours over the backgrounds
// they are drawn on, as RGBA bytes.
type themeColors struct {
	Dark  bool `json:"dark"` // the page sees prefers-color-scheme: dark
	Pairs []struct {
		What    string     `json:"what"`
		Missing bool       `json:"missing"`
		FG      [4]float64 `json:"fg"`
		BG      [4]float64 `json:"bg"`
	} `json:"pairs"`
}

// themeExpr reads colours through a canvas, which turns any CSS colour
// into sRGB bytes. An element's background is its own or, when that is
// transparent, the nearest one behind it.
const themeExpr = `(() => {
	const ctx = document.createElement('canvas').getContext('2d', {willReadFrequently: true});
	const rgba = (c) => { ctx.clearRect(0, 0, 1, 1); ctx.fillStyle = c; ctx.fillRect(0, 0, 1, 1); return [...ctx.getImageData(0, 0, 1, 1).data]; };
	const bg = (e) => {
		for (; e; e = e.parentElement) { const c = rgba(getComputedStyle(e).backgroundColor); if (c[3] > 0) return c; }
		return [255, 255, 255, 255];
	};
	const pair = (what, sel) => {
		const e = document.querySelector(sel);
		return e ? {what, fg: rgba(getComputedStyle(e).color), bg: bg(e)} : {what, missing: true};
	};
	return {dark: matchMedia('(prefers-color-scheme: dark)').matches, pairs: [
		pair('body', 'body'), pair('lesson text', '.lesson-body p'),
		pair('editor', 'figure.cell .cm-content'), pair('Run button', 'figure.cell .cell-btn-run'),
		pair('comment in the editor', 'figure.cell .cm-content .tok-comment'),
		pair('punctuation in the editor', 'figure.cell .cm-content .tok-punctuation'),
		pair('caption', 'figure.cell figcaption.cell-expect'),
		pair('plain code block', '.lesson-body > pre.chroma, .lesson-body .chroma'),
		pair('contents', 'nav.lesson-toc a')]};
})()`

func testLookThemes(t *testing.T, bt *browserTest) {
	body := map[string][4]float64{}
	for _, scheme := range []string{"light", "dark"} {
		t.Run(scheme, func(t *testing.T) {
			tab, _ := bt.openWith(t, "/lessons/"+lessonSlug, chromedp.EmulateViewport(1280, 900), emulateScheme(scheme))
			bt.waitLive(t, tab)
			waitEditors(t, tab)
			c := eval[themeColors](t, tab, themeExpr)
			if c.Dark != (scheme == "dark") {
				t.Fatalf("the page sees dark %v, want %v: the emulation did not take", c.Dark, scheme == "dark")
			}
			for _, p := range c.Pairs {
				if p.Missing {
					failShot(t, tab, "no %s on the page", p.What)
				}
				r := contrast(p.FG, p.BG)
				t.Logf("%s: %v on %v, contrast %.1f", p.What, p.FG, p.BG, r)
				if r < 4.5 {
					failShot(t, tab, "%s: text %v on %v has contrast %.2f, want ≥ 4.5", p.What, p.FG, p.BG, r)
				}
			}
			body[scheme] = c.Pairs[0].BG
			if scheme == "dark" {
				screenshot(t, tab, "lesson-dark.png")
			}
		})
	}
	light, ok1 := body["light"]
	dark, ok2 := body["dark"]
	if ok1 && ok2 && light == dark {
		t.Errorf("the body's background is %v in both themes, want them to differ", light)
	}
}

// contrast is the WCAG contrast ratio of two sRGB colours (alpha ignored):
// from 1, the same luminance, to 21, black on white.
func contrast(a, b [4]float64) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// luminance is the relative luminance of an sRGB colour given in bytes.
func luminance(c [4]float64) float64 {
	lin := func(v float64) float64 {
		v /= 255
		if v <= 0.04045 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c[0]) + 0.7152*lin(c[1]) + 0.0722*lin(c[2])
}

// themeState is what the page shows of its theme.
type themeState struct {
	Theme  string  `json:"theme"`  // data-theme on the root
	Select string  `json:"select"` // the theme selector's value
	Body   float64 `json:"body"`   // the luminance of the body's background
	Chroma float64 `json:"chroma"` // of a plain code block's
	Editor float64 `json:"editor"` // of the editor's text
}

const themeStateExpr = `(() => {
	const ctx = document.createElement('canvas').getContext('2d', {willReadFrequently: true});
	const lum = (c) => { ctx.clearRect(0, 0, 1, 1); ctx.fillStyle = c; ctx.fillRect(0, 0, 1, 1);
		const [r, g, b] = [...ctx.getImageData(0, 0, 1, 1).data].map((v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
		return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
	return {theme: document.documentElement.dataset.theme || '', select: document.getElementById('theme-select').value,
		body: lum(getComputedStyle(document.body).backgroundColor),
		chroma: lum(getComputedStyle(document.querySelector('.lesson-body pre.chroma')).backgroundColor),
		editor: lum(getComputedStyle(document.querySelector('figure.cell .cm-content')).color)};
})()`

func chooseTheme(theme string) string {
	return `(() => {
	const s = document.getElementById('theme-select');
	s.value = ` + jsString(theme) + `;
	s.dispatchEvent(new Event('change', {bubbles: true}));
})()`
}

// The theme selector: dark on a light system, remembered across a
// reload, light on a dark system, and back to the system's.
func testLookThemeChoice(t *testing.T, bt *browserTest) {
	tab, _ := bt.openWith(t, "/lessons/"+lessonSlug, chromedp.EmulateViewport(1280, 900), emulateScheme("light"))
	bt.waitLive(t, tab)
	dark := func(s themeState) bool { return s.Body < 0.05 && s.Chroma < 0.1 && s.Editor > 0.5 }
	light := func(s themeState) bool { return s.Body > 0.8 && s.Chroma > 0.8 && s.Editor < 0.1 }
	if s := eval[themeState](t, tab, themeStateExpr); s.Theme != "" || s.Select != "" || !light(s) {
		failShot(t, tab, "a fresh page on a light system: %+v, want the system's light theme", s)
	}
	eval[chromedp.Void](t, tab, chooseTheme("dark"))
	if s := eval[themeState](t, tab, themeStateExpr); s.Theme != "dark" || !dark(s) {
		failShot(t, tab, "dark chosen on a light system: %+v", s)
	}
	c := eval[themeColors](t, tab, themeExpr)
	for _, p := range c.Pairs {
		if r := contrast(p.FG, p.BG); !p.Missing && r < 4.5 {
			failShot(t, tab, "dark chosen: %s has contrast %.2f", p.What, r)
		}
	}
	do(t, tab, "reload", chromedp.Reload())
	bt.waitLive(t, tab)
	if s := eval[themeState](t, tab, themeStateExpr); s.Theme != "dark" || s.Select != "dark" || !dark(s) {
		failShot(t, tab, "after a reload: %+v, want the dark theme remembered", s)
	}
	screenshot(t, tab, "lesson-dark-chosen.png")
	do(t, tab, "a dark system", emulateScheme("dark"))
	eval[chromedp.Void](t, tab, chooseTheme("light"))
	if s := eval[themeState](t, tab, themeStateExpr); s.Theme != "light" || !light(s) {
		failShot(t, tab, "light chosen on a dark system: %+v", s)
	}
	eval[chromedp.Void](t, tab, chooseTheme(""))
	if s := eval[themeState](t, tab, themeStateExpr); s.Theme != "" || !dark(s) || eval[string](t, tab, `localStorage.getItem('racelab:theme') || ''`) != "" {
		failShot(t, tab, "back to the system's on a dark system: %+v", s)
	}
}

// The running status's mark is drawn, not a character: ⏵ is missing from
// many fonts.
func testLookRunningGlyph(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	type glyph struct {
		Content string  `json:"content"`
		Border  float64 `json:"border"`
		Text    string  `json:"text"`
	}
	g := eval[glyph](t, tab, `(() => {
	const s = document.querySelector('figure.cell .cell-status');
	s.dataset.state = 'running';
	const m = s.querySelector('.status-msg');
	m.textContent = 'running…';
	const cs = getComputedStyle(m, '::before');
	const g = {content: cs.content, border: parseFloat(cs.borderLeftWidth), text: s.textContent};
	s.dataset.state = 'idle';
	m.textContent = '';
	return g;
})()`)
	if g.Content != `""` || g.Border < 4 || strings.ContainsRune(g.Text, '⏵') {
		t.Errorf("the running mark is %+v, want an empty content drawn by its border", g)
	}
}

func TestContrast(t *testing.T) {
	black, white := [4]float64{0, 0, 0, 255}, [4]float64{255, 255, 255, 255}
	tests := []struct {
		a, b     [4]float64
		min, max float64
	}{
		{black, white, 21, 21},
		{white, black, 21, 21},
		{white, white, 1, 1},
		{[4]float64{0x76, 0x76, 0x76, 255}, white, 4.5, 4.6}, // the lightest grey that passes on white
		{[4]float64{0x1f, 0x23, 0x28, 255}, [4]float64{0xfd, 0xfd, 0xfc, 255}, 15, 16},
	}
	for _, tt := range tests {
		if got := contrast(tt.a, tt.b); got < tt.min-0.01 || got > tt.max+0.01 {
			t.Errorf("contrast(%v, %v) = %.2f, want %.2f to %.2f", tt.a, tt.b, got, tt.min, tt.max)
		}
	}
}

// phoneView is what a phone shows of the lesson page, in CSS pixels.
type phoneView struct {
	ScrollWidth int      `json:"scrollWidth"`
	InnerWidth  int      `json:"innerWidth"`
	Overflow    []string `json:"overflow"` // elements past the right edge that nothing clips
	Runs        []struct {
		W float64 `json:"w"`
		H float64 `json:"h"`
	} `json:"runs"` // the Run buttons
}

const phoneExpr = `(() => {
	const clipped = (e) => {
		for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
			if (getComputedStyle(p).overflowX !== 'visible') return true;
		}
		return false;
	};
	const name = (e) => e.tagName.toLowerCase() + (typeof e.className === 'string' && e.className.trim() ? '.' + e.className.trim().split(/\s+/).join('.') : '');
	return {
		scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
		overflow: [...document.querySelectorAll('body *')]
			.filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5 && !clipped(e)).slice(0, 8).map(name),
		runs: [...document.querySelectorAll('figure.cell button.cell-btn-run')].map((b) => {
			const r = b.getBoundingClientRect();
			return {w: r.width, h: r.height};
		}),
	};
})()`

func testLookPhone(t *testing.T, bt *browserTest) {
	tab, _ := bt.openWith(t, "/lessons/"+lessonSlug,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait, chromedp.EmulateScale(2)))
	bt.waitLive(t, tab)
	v := eval[phoneView](t, tab, phoneExpr)
	t.Logf("phone: scrollWidth %d, innerWidth %d, Run buttons %+v", v.ScrollWidth, v.InnerWidth, v.Runs)
	if v.InnerWidth != 390 {
		t.Fatalf("innerWidth %d, want 390: the emulation did not take", v.InnerWidth)
	}
	if v.ScrollWidth > v.InnerWidth {
		failShot(t, tab, "the page scrolls sideways: scrollWidth %d > innerWidth %d; past the edge: %q", v.ScrollWidth, v.InnerWidth, v.Overflow)
	}
	if l, _ := bt.lib.Lesson(lessonSlug); len(v.Runs) != len(l.Cells) {
		t.Errorf("%d Run buttons, want one for each of the %d cells", len(v.Runs), len(l.Cells))
	}
	for i, r := range v.Runs {
		if r.W < 40 || r.H < 40 {
			failShot(t, tab, "the Run button of cell %d is %.1f×%.1f CSS px, want at least 40×40", i+1, r.W, r.H)
		}
	}
	screenshot(t, tab, "lesson-phone.png")
}

// noScriptView is the lesson page as a browser without JavaScript shows it.
type noScriptView struct {
	JS    bool   `json:"js"`    // the page was marked by its script
	Note  string `json:"note"`  // the visible noscript note
	Live  int    `json:"live"`  // cells with editors
	Cells int    `json:"cells"` // figure.cell
	Codes []struct {
		Height  float64 `json:"height"`
		Shown   bool    `json:"shown"`
		Text    string  `json:"text"`
		Plain   string  `json:"plain"`   // the colour of the code
		Keyword string  `json:"keyword"` // the colour of its first keyword
	} `json:"codes"` // the highlighted code of each file of each cell
}

const noScriptExpr = `(() => ({
	js: document.documentElement.classList.contains('js'),
	note: [...document.querySelectorAll('.noscript-note')].filter((e) => e.getBoundingClientRect().height > 0).map((e) => e.textContent).join(''),
	live: document.querySelectorAll('figure.cell.cell-live, .cm-editor').length,
	cells: document.querySelectorAll('figure.cell').length,
	codes: [...document.querySelectorAll('figure.cell .cell-code pre.chroma')].map((p) => {
		const cs = getComputedStyle(p), kw = p.querySelector('.kn, .kd, .k');
		return {height: p.getBoundingClientRect().height, shown: cs.display !== 'none' && cs.visibility !== 'hidden',
			text: p.textContent, plain: cs.color, keyword: kw ? getComputedStyle(kw).color : ''};
	}),
}))()`

func testLookWithoutJavaScript(t *testing.T, bt *browserTest) {
	tab, _ := bt.openWith(t, "/lessons/"+lessonSlug, chromedp.EmulateViewport(1280, 900),
		cdpCall(emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}))
	v := eval[noScriptView](t, tab, noScriptExpr)
	if v.JS || v.Live > 0 {
		t.Fatalf("the page script ran (js %v, %d live cells or editors): scripts were not disabled", v.JS, v.Live)
	}
	if !strings.Contains(v.Note, "Running the examples needs JavaScript") {
		t.Errorf("without JavaScript the page says %q, want a note that running needs it", v.Note)
	}
	l, _ := bt.lib.Lesson(lessonSlug)
	if v.Cells != len(l.Cells) || len(v.Codes) < v.Cells {
		failShot(t, tab, "%d cells with %d highlighted files, want %d cells, each with its code", v.Cells, len(v.Codes), len(l.Cells))
	}
	for i, c := range v.Codes {
		if !c.Shown || c.Height <= 0 || !strings.Contains(c.Text, "package main") {
			failShot(t, tab, "code %d: shown %v, height %v, text %q; want it visible and holding package main", i+1, c.Shown, c.Height, c.Text)
		}
		if c.Keyword == "" || c.Keyword == c.Plain {
			t.Errorf("code %d: keyword colour %q, plain %q: want keywords highlighted", i+1, c.Keyword, c.Plain)
		}
	}
	if first, _ := bt.lib.Cell(cellHello); len(v.Codes) > 0 && v.Codes[0].Text != first.FileMap()["main.go"] {
		t.Errorf("the first cell shows %q, want its program %q", v.Codes[0].Text, first.FileMap()["main.go"])
	}
}
