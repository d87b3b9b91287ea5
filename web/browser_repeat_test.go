package web_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/racelab/racelab/lessons"
)

// A repeated run (web/src/views.js), on the real sandbox: the histogram
// of its outputs, each bar as wide as its share of the runs.

// parity prints one of two lines, as the clock has it.
const parity = `package main

import (
	"fmt"
	"time"
)

func main() {
	fmt.Println("parity", time.Now().UnixNano()/1000%2)
}
`

// histView is the histogram of a repeated run.
type histView struct {
	Heading string    `json:"heading"`
	Labels  []string  `json:"labels"`
	Counts  []int     `json:"counts"`
	Shares  []float64 `json:"shares"` // each bar's width over its track's
	Facts   string    `json:"facts"`
}

func histExpr(id string) string {
	return `(() => {
	const f = document.querySelector('figure.cell[data-cell=' + ` + jsString(id) + ` + ']');
	const rows = [...f.querySelectorAll('.cell-summary .hist-row')];
	const h = f.querySelector('.cell-summary .view-heading');
	const p = f.querySelector('.summary-facts');
	return {heading: h ? h.textContent : '',
		labels: rows.map((r) => r.querySelector('.hist-label').textContent),
		counts: rows.map((r) => Number(r.querySelector('.hist-count').textContent)),
		shares: rows.map((r) => r.querySelector('.hist-bar').getBoundingClientRect().width / r.querySelector('.hist-track').clientWidth),
		facts: p ? p.textContent : ''};
})()`
}

// repeatedCell finds a built-in run-mode cell with repeat ≥ 2 and one
// file, main.go.
func repeatedCell(t *testing.T, lib *lessons.Library) *lessons.Cell {
	t.Helper()
	for _, l := range lib.Lessons() {
		for _, c := range l.Cells {
			if c.Repeat >= 2 && (c.Mode == "" || c.Mode == "run") && c.Exercise == "" && len(c.Files) == 1 && c.Files[0].Name == "main.go" {
				return c
			}
		}
	}
	t.Fatal("no built-in cell runs main.go with repeat ≥ 2")
	return nil
}

func TestBrowserRepeat(t *testing.T) {
	bt := newBrowserTest(t, site{})
	c := repeatedCell(t, bt.lib)
	tab, _ := bt.open(t, "/lessons/"+c.Lesson)
	files, _ := json.Marshal(map[string]string{"main.go": parity})
	eval[chromedp.Void](t, tab, fmt.Sprintf("localStorage.setItem(%s, %s)", jsString("racelab:cell:"+c.ID), jsString(string(files))))
	do(t, tab, "reload", chromedp.Reload())
	poll(t, tab, "the cell to show the program", browserWait, cellExpr(c.ID), func(v cellView) bool { return v.Editor == parity })
	v := runCell(t, tab, c.ID, "run")
	if v.State != "done" {
		failShot(t, tab, "repeated run ended %s (%s)", v.State, v.Output)
	}
	h := eval[histView](t, tab, histExpr(c.ID))
	sum := 0
	for i, n := range h.Counts {
		sum += n
		if want := float64(n) / float64(c.Repeat); h.Shares[i] < want-0.03 || h.Shares[i] > want+0.03 {
			t.Errorf("bar %d (%q, %d of %d runs) is %.2f of its track, want %.2f", i, h.Labels[i], n, c.Repeat, h.Shares[i], want)
		}
		if !strings.HasPrefix(h.Labels[i], "parity ") {
			t.Errorf("bar %d is labelled %q, want parity 0 or 1", i, h.Labels[i])
		}
	}
	if sum != c.Repeat || len(h.Counts) < 1 || len(h.Counts) > 2 {
		failShot(t, tab, "histogram %+v: counts sum to %d, want %d in one or two bars", h, sum, c.Repeat)
	}
	if want := fmt.Sprintf("Outputs of %d runs", c.Repeat); h.Heading != want || !strings.Contains(h.Facts, fmt.Sprintf("races in 0 of %d runs", c.Repeat)) ||
		!strings.Contains(h.Facts, fmt.Sprintf("exited ×%d", c.Repeat)) {
		t.Errorf("histogram heading %q, facts %q", h.Heading, h.Facts)
	}
	t.Logf("cell %s: %+v", c.ID, h)
	shot(t, tab, c.ID, "views-histogram.png")
}
