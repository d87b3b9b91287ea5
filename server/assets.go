package server

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// A body is a response ready to serve from memory: its bytes, their
// compressed forms, and an entity tag, so that a browser gets the
// smallest form it takes and asks again with If-None-Match for nothing.
type body struct {
	ctype   string
	raw     []byte
	gz, br  []byte // nil when there is none
	etag    string
	control string // Cache-Control
}

// newBody returns raw ready to serve as ctype; gz is made when not given.
func newBody(ctype, control string, raw, gz, br []byte) (*body, error) {
	if gz == nil {
		var b bytes.Buffer
		w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		if _, err := w.Write(raw); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		gz = b.Bytes()
	}
	sum := sha256.Sum256(raw)
	return &body{ctype: ctype, raw: raw, gz: gz, br: br, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, control: control}, nil
}

// serve writes b, in the encoding r accepts (brotli, then gzip), or
// answers 304 when r already has it.
func (b *body) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", b.ctype)
	h.Set("Cache-Control", b.control)
	h.Set("ETag", b.etag)
	h.Add("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, b.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	data := b.raw
	switch accept := r.Header.Get("Accept-Encoding"); {
	case b.br != nil && accepts(accept, "br"):
		data = b.br
		h.Set("Content-Encoding", "br")
	case b.gz != nil && accepts(accept, "gzip"):
		data = b.gz
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.Write(data)
}

// accepts reports whether an Accept-Encoding header takes coding (and
// does not refuse it with q=0).
func accepts(header, coding string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), coding) {
			q := strings.ReplaceAll(params, " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// The Cache-Control of what is served: a content-hashed name never
// changes, anything else is asked again (and answered 304 when unchanged).
const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
)

// assets are the files served under /static/: each by its name, and by
// a name holding a hash of its content ("app.3f2a9c1b07e4.js"), which
// the pages link to and a browser keeps for good. The compressed forms
// web/build.mjs wrote beside a file (NAME.br, NAME.gz) are served to the
// browsers that take them.
type assets struct {
	byPath map[string]*body
	hashed map[string]string // name → its content-hashed name
}

// loadAssets reads the files of static, and the generated ones of extra
// (by name), into memory.
func loadAssets(static fs.FS, extra map[string][]byte) (*assets, error) {
	a := &assets{byPath: map[string]*body{}, hashed: map[string]string{}}
	names, err := fs.Glob(static, "*")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if ext := path.Ext(name); ext == ".br" || ext == ".gz" {
			continue
		}
		raw, err := fs.ReadFile(static, name)
		if err != nil {
			return nil, err
		}
		br, _ := fs.ReadFile(static, name+".br")
		gz, _ := fs.ReadFile(static, name+".gz")
		if err := a.add(name, raw, gz, br); err != nil {
			return nil, err
		}
	}
	for name, raw := range extra {
		if err := a.add(name, raw, nil, nil); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// add serves raw as name and as its content-hashed name.
func (a *assets) add(name string, raw, gz, br []byte) error {
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	b, err := newBody(ctype, cacheRevalidate, raw, gz, br)
	if err != nil {
		return fmt.Errorf("server: static %s: %w", name, err)
	}
	hashed := *b
	hashed.control = cacheImmutable
	ext := path.Ext(name)
	h := strings.TrimSuffix(name, ext) + "." + strings.Trim(b.etag, `"`)[:12] + ext
	a.byPath[name], a.byPath[h], a.hashed[name] = b, &hashed, h
	return nil
}

// url returns the path pages link name by: its content-hashed one.
func (a *assets) url(name string) (string, error) {
	h, ok := a.hashed[name]
	if !ok {
		return "", fmt.Errorf("no static file %q", name)
	}
	return "/static/" + h, nil
}

// handle serves GET /static/{name}.
func (a *assets) handle(w http.ResponseWriter, r *http.Request) {
	b, ok := a.byPath[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	b.serve(w, r)
}
