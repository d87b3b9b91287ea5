// Package web holds the browser side of racelab: the html/template pages,
// the stylesheet and the bundled JavaScript, all embedded in the binary so
// that a fresh clone serves the site with Go alone.
//
// The JavaScript sources live in src/ and are bundled by esbuild into
// static/app.js (make web); the bundle is committed, and make web-check
// fails when it is stale.
package web

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
)

// files holds the page templates and the files served under /static/.
//
//go:embed templates static
var files embed.FS

// Templates parses every page template, with funcs. Pages are executed
// by file name: "index.html", "lesson.html", "404.html" and "error.html";
// base.html holds the head, header and footer they share, and links the
// static files by {{asset "app.js"}}: funcs must give asset, which
// returns the path a static file is served at.
func Templates(funcs template.FuncMap) (*template.Template, error) {
	t, err := template.New("").Funcs(funcs).ParseFS(files, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: parse templates: %w", err)
	}
	return t, nil
}

// Static returns the files served under /static/: app.js, app.css and
// whatever else static/ holds. The syntax-highlighting stylesheet,
// chroma.css, is not among them: the server generates it.
func Static() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		// fs.Sub fails only on an invalid path, and "static" is valid.
		panic(fmt.Sprintf("web: static files: %v", err))
	}
	return sub
}
