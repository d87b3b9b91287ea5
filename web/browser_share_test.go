package web_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// Sharing a cell's code (web/src/share.js): a link that holds the code in
// its fragment, so the server stores nothing, and opens the lesson with
// that code in that cell; a clear message when the code is too long for a
// link; the code copied as a file. The clipboard is the page's own
// navigator.clipboard, watched by the test.
func TestBrowserShare(t *testing.T) {
	bt := newBrowserTest(t, fakeViewsSite())
	for _, st := range []subtest{
		{"LinkRoundTrip", testShareLink},
		{"TooLong", testShareTooLong},
		{"Damaged", testShareDamaged},
	} {
		t.Run(st.name, func(t *testing.T) { st.run(t, bt) })
	}
}

const sharedProgram = "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"shared with you: é ✓\")\n}\n"

// shareView is a cell's share panel.
type shareView struct {
	Shown    bool   `json:"shown"`
	Link     string `json:"link"`
	Msg      string `json:"msg"`
	CopyOff  bool   `json:"copyOff"` // Copy link is disabled
	Text     string `json:"text"`    // the fallback text box
	TextShow bool   `json:"textShow"`
	Copied   string `json:"copied"` // what the page put on the clipboard
}

func shareExpr(id string) string {
	return `(() => {
	const p = document.querySelector('figure.cell[data-cell=' + ` + jsString(id) + ` + '] .cell-share');
	const ta = p.querySelector('.share-text');
	return {shown: !p.hidden, link: p.querySelector('.share-link').value, msg: p.querySelector('.share-msg').textContent,
		copyOff: p.querySelector('.share-copy').disabled, text: ta.value, textShow: !ta.hidden, copied: window.racelabCopied || ''};
})()`
}

// watchClipboard replaces the page's clipboard writes with a record of
// them, or with a refusal.
func watchClipboard(refuse bool) string {
	return fmt.Sprintf(`Object.defineProperty(navigator.clipboard, 'writeText', {configurable: true, value: async (t) => {
	if (%t) throw new DOMException('refused', 'NotAllowedError');
	window.racelabCopied = t;
}})`, refuse)
}

func shareButton(id, sel string) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`figure[data-cell=%q] %s`, id, sel))
}

func testShareLink(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	bt.putProgram(t, tab, cellHello, sharedProgram)
	do(t, tab, "press Share", chromedp.Click(button(cellHello, "share")))
	v := poll(t, tab, "the link", browserWait, shareExpr(cellHello), func(v shareView) bool { return v.Link != "" || strings.Contains(v.Msg, "could not") })
	if !strings.HasPrefix(v.Link, bt.url+"/lessons/"+lessonSlug+"#share="+cellHello+".z") || !strings.Contains(v.Msg, "nothing is stored on the server") {
		failShot(t, tab, "share panel %+v, want a link to this lesson holding the code", v)
	}
	t.Logf("link of %d characters: %s", len(v.Link), v.Link)
	eval[chromedp.Void](t, tab, watchClipboard(false))
	do(t, tab, "press Copy link", chromedp.Click(shareButton(cellHello, ".share-copy")))
	if v = poll(t, tab, "the copy", browserWait, shareExpr(cellHello), func(v shareView) bool { return v.Copied != "" }); v.Copied != v.Link || v.Msg != "The link is copied." {
		t.Errorf("Copy link put %q on the clipboard and said %q", v.Copied, v.Msg)
	}
	do(t, tab, "press Copy as a file", chromedp.Click(shareButton(cellHello, ".share-file")))
	if v = poll(t, tab, "the copy", browserWait, shareExpr(cellHello), func(v shareView) bool { return v.Copied != v.Link }); v.Copied != sharedProgram || v.TextShow {
		t.Errorf("Copy as a file put %q on the clipboard (text box shown %v), want the program", v.Copied, v.TextShow)
	}
	eval[chromedp.Void](t, tab, watchClipboard(true))
	do(t, tab, "press Copy as a file, refused", chromedp.Click(shareButton(cellHello, ".share-file")))
	if v = eval[shareView](t, tab, shareExpr(cellHello)); !v.TextShow || v.Text != sharedProgram || !strings.HasPrefix(v.Msg, "Select the code below") {
		failShot(t, tab, "with the clipboard refused: %+v, want the code shown to copy by hand", v)
	}
	shot(t, tab, cellHello, "views-share.png")

	// The link opens the lesson with the code in the cell, in a browser
	// that never saw it: the learner's own edit is forgotten first.
	do(t, tab, "reset", chromedp.Click(button(cellHello, "reset")))
	other, _ := bt.open(t, strings.TrimPrefix(v.Link, bt.url))
	bt.waitLive(t, other)
	c := poll(t, other, "the shared code", browserWait, cellExpr(cellHello), func(c cellView) bool { return c.State == "shared" || c.State == "error" })
	st := eval[cellStatus](t, other, statusExpr(cellHello))
	if c.Editor != sharedProgram || st.State != "shared" || !strings.Contains(st.Text, "code from a shared link") {
		failShot(t, other, "the link opened the cell with %q, status %+v", c.Editor, st)
	}
	if top := eval[float64](t, other, `document.querySelector('figure.cell[data-cell="`+cellHello+`"]').getBoundingClientRect().top`); top < -1 || top > 200 {
		t.Errorf("the shared cell is %v px from the top of the window, want it in view", top)
	}
}

func testShareTooLong(t *testing.T, bt *browserTest) {
	tab := bt.openLesson(t)
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	b.WriteString("package main\n\n// noise that does not compress:\n// ")
	for i := range 12000 {
		b.WriteByte(byte('!' + r.IntN(90)))
		if i%70 == 69 {
			b.WriteString("\n// ")
		}
	}
	b.WriteString("\nfunc main() {}\n")
	// The editor draws only the lines in view, so putProgram cannot check
	// this long a program: store it and reload.
	files, _ := json.Marshal(map[string]string{"main.go": b.String()})
	eval[chromedp.Void](t, tab, fmt.Sprintf("localStorage.setItem(%s, %s)", jsString("racelab:cell:"+cellHello), jsString(string(files))))
	do(t, tab, "reload", chromedp.Reload())
	bt.waitLive(t, tab)
	do(t, tab, "press Share", chromedp.Click(button(cellHello, "share")))
	v := poll(t, tab, "the answer", browserWait, shareExpr(cellHello), func(v shareView) bool { return !strings.HasPrefix(v.Msg, "Making") })
	if v.Link != "" || !v.CopyOff || !strings.HasPrefix(v.Msg, "This code is too long to share as a link") || !strings.Contains(v.Msg, "Copy as a file") {
		failShot(t, tab, "sharing 12 KB of noise: %+v, want the limit said and Copy as a file suggested", v)
	}
	do(t, tab, "reset", chromedp.Click(button(cellHello, "reset")))
}

func testShareDamaged(t *testing.T, bt *browserTest) {
	tab, _ := bt.open(t, "/lessons/"+lessonSlug+"#share="+cellHello+".zAAAA")
	bt.waitLive(t, tab)
	st := poll(t, tab, "the cell to say so", browserWait, statusExpr(cellHello), func(s cellStatus) bool { return s.State == "error" })
	if !strings.Contains(st.Text, "shared link is damaged") {
		failShot(t, tab, "a damaged link: status %+v", st)
	}
	if c, _ := bt.lib.Cell(cellHello); eval[cellView](t, tab, cellExpr(cellHello)).Editor != c.FileMap()["main.go"] {
		t.Errorf("a damaged link changed the cell's code")
	}
}
