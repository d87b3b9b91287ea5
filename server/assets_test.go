package server

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// fetch GETs url with the request headers h and returns the response and
// its body as sent (not decompressed).
func fetch(t *testing.T, url string, h map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// Pages link the static files by content-hashed names, which browsers
// keep for good; the files come compressed (brotli, else gzip) to those
// that take it, and unchanged ones are answered 304.
func TestStaticServing(t *testing.T) {
	ts := newTestServer(t, Config{}, newFake())
	_, page := get(t, ts.URL+"/lessons/one")
	links := regexp.MustCompile(`/static/(app|chroma|theme)\.[0-9a-f]{12}\.(js|css)`).FindAllString(page, -1)
	if len(links) != 4 {
		t.Fatalf("the page links %q, want app.js, app.css, chroma.css and theme.js by hashed names", links)
	}
	for _, link := range links {
		resp, b := fetch(t, ts.URL+link, map[string]string{"Accept-Encoding": "gzip, br"})
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != cacheImmutable || resp.Header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("GET %s: %s, Cache-Control %q, Vary %q; want 200, immutable, Vary", link, resp.Status, resp.Header.Get("Cache-Control"), resp.Header.Get("Vary"))
		}
		if enc := resp.Header.Get("Content-Encoding"); enc != "br" && !(strings.Contains(link, "chroma") && enc == "gzip") {
			t.Errorf("GET %s: Content-Encoding %q, want br (gzip for the generated chroma.css)", link, enc)
		}
		if resp.ContentLength != int64(len(b)) {
			t.Errorf("GET %s: Content-Length %d for %d bytes", link, resp.ContentLength, len(b))
		}
	}
	// gzip for a browser without brotli; the plain bytes for one without either.
	resp, gz := fetch(t, ts.URL+"/static/app.js", map[string]string{"Accept-Encoding": "gzip"})
	_, plain := fetch(t, ts.URL+"/static/app.js", nil)
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip: %v, %q", err, resp.Header.Get("Content-Encoding"))
	}
	if got, _ := io.ReadAll(zr); !bytes.Equal(got, plain) || len(gz) >= len(plain)/2 {
		t.Errorf("gzip of app.js: %d bytes for %d, decompressing to the plain file: %v", len(gz), len(plain), bytes.Equal(got, plain))
	}
	if resp.Header.Get("Cache-Control") != cacheRevalidate {
		t.Errorf("an unhashed name: Cache-Control %q, want %q", resp.Header.Get("Cache-Control"), cacheRevalidate)
	}
	if resp, _ := fetch(t, ts.URL+"/static/app.js", map[string]string{"Accept-Encoding": "br;q=0, gzip;q=0"}); resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("codings refused with q=0 were used: %q", resp.Header.Get("Content-Encoding"))
	}
	if resp, _ := fetch(t, ts.URL+"/static/nope.js", nil); resp.StatusCode != 404 {
		t.Errorf("GET /static/nope.js = %s, want 404", resp.Status)
	}
}

// Pages come gzipped with an ETag, and are answered 304 when unchanged.
func TestPageETag(t *testing.T) {
	ts := newTestServer(t, Config{}, newFake())
	resp, b := fetch(t, ts.URL+"/lessons/one", map[string]string{"Accept-Encoding": "gzip"})
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("a page: ETag %q, Content-Encoding %q, Cache-Control %q", etag, resp.Header.Get("Content-Encoding"), resp.Header.Get("Cache-Control"))
	}
	if len(b) == 0 {
		t.Fatal("empty page")
	}
	resp, b = fetch(t, ts.URL+"/lessons/one", map[string]string{"If-None-Match": etag})
	if resp.StatusCode != http.StatusNotModified || len(b) != 0 {
		t.Errorf("again with its ETag: %s and %d bytes, want 304 and none", resp.Status, len(b))
	}
}
