package web_test

import (
	"testing"
	"time"
)

// The pages' Content-Security-Policy, and the browser tests' watch on it.

// The console check of open must be able to see a violation, or its
// silence proves nothing: an inline script is refused, and reported.
func TestBrowserCSPReported(t *testing.T) {
	bt := newBrowserTest(t, site{})
	tab, w := bt.open(t, "/lessons/"+lessonSlug)
	w.expectCSP()
	title := eval[string](t, tab, `(() => {
	const s = document.createElement('script');
	s.textContent = 'document.title = "pwned"';
	document.head.append(s);
	return document.title;
})()`)
	if title == "pwned" {
		t.Errorf("an inline script ran despite the Content-Security-Policy")
	}
	deadline := time.Now().Add(browserWait)
	for len(w.violations()) == 0 {
		if time.Now().After(deadline) {
			failShot(t, tab, "no CSP violation reported for a refused inline script; the console saw %q", w.all())
		}
		time.Sleep(pollEvery)
	}
}
