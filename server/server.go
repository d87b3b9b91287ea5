// Package server is racelab's web tier: the lesson pages, rendered once
// at start-up and served from memory (and rendered again by Reload while
// an author edits them, with GET /api/reload telling open pages to
// reload themselves), and the API that runs code through
// a sandbox.Runner and streams its events over a websocket (/api/ws) or
// as NDJSON (POST /api/run). An admission queue bounds the runs going at
// once, and how many one client may have going and waiting, takes
// clients in turn and tells waiting learners their place in line; a token
// bucket per client bounds how fast one client may run programs (each
// execution of a repeat counts).
package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/racelab/racelab/lessons"
	"github.com/racelab/racelab/sandbox"
	"github.com/racelab/racelab/web"
)

// The defaults of Config.
const (
	DefaultAddr            = "127.0.0.1:8080"
	DefaultQueueSize       = 64
	DefaultClientRuns      = 1
	DefaultClientQueue     = 1
	DefaultRunsPerMinute   = 60
	DefaultBurst           = 100
	DefaultMaxBodyBytes    = 256 << 10
	DefaultMaxMessageBytes = 256 << 10
	DefaultWriteTimeout    = 10 * time.Second
	DefaultShutdownGrace   = 10 * time.Second
	DefaultMaxConns        = 2048
	DefaultClientConns     = 64
	DefaultIdleTimeout     = 30 * time.Second
	DefaultBodyTimeout     = 10 * time.Second
	DefaultInflightBytes   = 16 << 20
)

// Config sets up a Server. Zero fields take the defaults above.
type Config struct {
	Addr            string         // listen address
	MaxRuns         int            // runs going at once (default: cores)
	QueueSize       int            // runs waiting for a slot; more are refused as busy
	ClientRuns      int            // runs one client may have going at once
	ClientQueue     int            // runs one client may have waiting; more are refused at once
	RunsPerMinute   float64        // executions one client may start per minute, on average (repeat N counts N)
	Burst           int            // executions one client may start at once
	MaxBodyBytes    int64          // body of POST /api/run
	MaxMessageBytes int64          // one websocket message
	WriteTimeout    time.Duration  // a client that reads nothing for this long is dropped
	MaxConns        int            // connections open at once, all clients (default DefaultMaxConns, or less to stay below the open-file limit; see conns.go)
	ClientConns     int            // connections one address may have open at once (not applied with TrustProxy)
	IdleTimeout     time.Duration  // a kept-alive connection, or a websocket with no run going, that sends nothing for this long is closed
	BodyTimeout     time.Duration  // a POST /api/run body must arrive whole within this long
	InflightBytes   int64          // bytes of request bodies and websocket messages being received at once, all clients (see inflight.go)
	ShutdownGrace   time.Duration  // how long shutdown waits for connections to end
	TrustProxy      bool           // take the client's address from X-Forwarded-For
	Hosts           []string       // the names the site answers to besides localhost and IP addresses (see CheckHostName)
	Live            bool           // authoring: pages reload themselves when Reload changes them (GET /api/reload)
	Limits          sandbox.Limits // the sandbox's limits, to check requests before queuing them
	Ready           func() error   // why runs cannot start yet (the sandbox is opening), or nil; GET /readyz answers 503 meanwhile
	Log             *slog.Logger
}

func (c *Config) fill() {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.MaxRuns <= 0 {
		c.MaxRuns = runtime.NumCPU()
	}
	if c.QueueSize <= 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.ClientRuns <= 0 {
		c.ClientRuns = DefaultClientRuns
	}
	if c.ClientQueue <= 0 {
		c.ClientQueue = DefaultClientQueue
	}
	if c.RunsPerMinute <= 0 {
		c.RunsPerMinute = DefaultRunsPerMinute
	}
	if c.Burst <= 0 {
		c.Burst = DefaultBurst
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = DefaultShutdownGrace
	}
	if c.MaxConns <= 0 {
		c.MaxConns = maxConnsFor()
	}
	if c.ClientConns <= 0 {
		c.ClientConns = DefaultClientConns
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.BodyTimeout <= 0 {
		c.BodyTimeout = DefaultBodyTimeout
	}
	if c.InflightBytes <= 0 {
		c.InflightBytes = DefaultInflightBytes
	}
	if c.Limits == (sandbox.Limits{}) {
		c.Limits = sandbox.DefaultLimits()
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Server serves the site and the API.
type Server struct {
	cfg     Config
	runner  sandbox.Runner
	mux     *http.ServeMux
	tmpl    *template.Template
	site    atomic.Pointer[site] // the pages served now; Reload swaps them
	reload  sync.Mutex           // serializes Reload
	assets  *assets              // the files under /static/, the highlighting styles among them
	queue   *admission
	clients *clients
	sockets *sockets // the open websockets
	metrics *metrics
	recv    *inflight    // the bytes of requests being received
	conns   *connLimiter // the connections of Serve's listener; nil until Serve
}

// New renders every page and returns a server ready to serve them.
func New(cfg Config, lib *lessons.Library, runner sandbox.Runner) (*Server, error) {
	cfg.fill()
	for _, h := range cfg.Hosts {
		if err := CheckHostName(h); err != nil {
			return nil, fmt.Errorf("server: Hosts: %w", err)
		}
	}
	s := &Server{
		cfg:     cfg,
		runner:  runner,
		mux:     http.NewServeMux(),
		queue:   newAdmission(cfg.MaxRuns, cfg.ClientRuns, cfg.QueueSize, cfg.ClientQueue),
		clients: newClients(cfg.RunsPerMinute, cfg.Burst),
		sockets: newSockets(),
		recv:    newInflight(cfg.InflightBytes),
	}
	s.metrics = newMetrics(s)
	a, err := loadAssets(web.Static(), map[string][]byte{"chroma.css": []byte(lessons.ChromaCSS())})
	if err != nil {
		return nil, err
	}
	s.assets = a
	tmpl, err := web.Templates(template.FuncMap{"asset": a.url})
	if err != nil {
		return nil, fmt.Errorf("server: templates: %w", err)
	}
	s.tmpl = tmpl
	st, err := s.render(lib)
	if err != nil {
		return nil, err
	}
	st.version = 1
	s.site.Store(st)
	s.routes()
	return s, nil
}

// routes registers every handler, in one place. The probes answer
// whatever Host they are sent to (a kubelet asks the pod's IP address);
// every route a browser uses answers only to the server's own names (see
// checkHost), and the run endpoints only to its own pages (see ownPage).
func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.handleHealth)
	s.mux.HandleFunc("GET /readyz", s.handleReady)
	s.mux.Handle("GET /metrics", s.metrics.handler())
	s.browser("GET /{$}", s.handlePage)
	s.browser("GET /lessons/{slug}", s.handlePage)
	s.browser("GET /static/{name}", s.assets.handle)
	s.browser("GET /api/ws", s.ownPage(s.handleWS))
	s.browser("GET /api/reload", s.handleReload)
	s.browser("POST /api/run", s.ownPage(s.handleRun))
	s.browser("/", s.handleNotFound)
}

// ServeHTTP serves r with the site's security headers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	s.mux.ServeHTTP(w, r)
}

// contentSecurityPolicy allows only the site's own scripts, styles and
// connections: program output can never become code.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'"

// handlePage serves the index and the lesson pages. While the lessons do
// not load (see Reload), it serves the error page for every one of them,
// with status 500, so that the author sees the problem wherever they look.
func (s *Server) handlePage(w http.ResponseWriter, r *http.Request) {
	st := s.site.Load()
	w.Header().Set("Cache-Control", "no-cache")
	if st.broken != nil {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write(st.broken)
		return
	}
	page, ok := st.pages[r.URL.Path]
	if !ok {
		s.handleNotFound(w, r)
		return
	}
	page.serve(w, r)
}

func (s *Server) handleNotFound(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	var b bytes.Buffer
	if err := s.tmplExec(&b, "404.html", notFoundPage{Title: "Not found", Path: r.URL.Path, Live: s.cfg.Live}); err != nil {
		w.Write(s.site.Load().missing)
		return
	}
	w.Write(b.Bytes())
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	running, waiting := s.queue.stats()
	fmt.Fprintf(w, "ok\nlessons %d\nruns %d\nwaiting %d\nwebsockets %d\n",
		len(s.site.Load().lib.Lessons()), running, waiting, s.sockets.count())
}

// handleReady is /readyz: 200 once runs can start, 503 before.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Ready != nil {
		if err := s.cfg.Ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	s.handleHealth(w, r)
}

// Serve serves on ln until ctx is done, then shuts down gracefully: it
// stops accepting, cancels the runs in flight (their clients get a
// canceled exit event and their containers are removed), and waits for
// every connection to end. Websockets still open after ShutdownGrace are
// closed hard, and Serve returns once their handlers have ended (as soon
// as their runs have).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	base, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRuns()
	perClient := s.cfg.ClientConns
	if s.cfg.TrustProxy {
		perClient = 0 // every connection is the proxy's
	}
	s.conns = newConnLimiter(ln, s.cfg.MaxConns, perClient, s.cfg.Log)
	srv := &http.Server{
		Handler:           s,
		BaseContext:       func(net.Listener) context.Context { return base },
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.cfg.Log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(s.conns) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	s.cfg.Log.Info("shutting down: cancelling runs in flight")
	cancelRuns()
	grace, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	err := srv.Shutdown(grace)
	waited := make(chan struct{})
	go func() { // ends when the last websocket handler has, which Serve waits for
		s.sockets.wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-grace.Done():
		err = errors.Join(err, errors.New("server: websockets still open after the shutdown grace: closed"))
		s.sockets.closeNow()
		<-waited
	}
	if e := <-served; e != nil && !errors.Is(e, http.ErrServerClosed) {
		err = errors.Join(err, e)
	}
	return err
}

func (s *Server) tmplExec(w io.Writer, name string, data any) error {
	if err := s.tmpl.ExecuteTemplate(w, name, data); err != nil {
		return fmt.Errorf("server: render %s: %w", name, err)
	}
	return nil
}
