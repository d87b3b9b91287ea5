package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/racelab/racelab/sandbox"
)

// The defaults of ClientOptions.
const (
	DefaultIdleTimeout = 4 * DefaultHeartbeat
	DefaultStopGrace   = 3 * time.Second
	DefaultCooldown    = 2 * time.Second
	DefaultRefresh     = 5 * time.Second
	DefaultSlack       = time.Minute // of a run's deadline, for a wait for a slot on its runner and its containers' starts
)

// ClientOptions tune a Client; zero fields take the defaults above.
type ClientOptions struct {
	// IdleTimeout: a runner that sends nothing, not even a heartbeat, for
	// this long is taken for gone.
	IdleTimeout time.Duration
	// StopGrace: when a run's context ends, the runner is asked to stop
	// it and given this long to end the stream as a stopped run ends.
	StopGrace time.Duration
	// Cooldown: a runner that refused a run (starting, stopping) or could
	// not be reached is passed over for this long, unless every runner is.
	Cooldown time.Duration
	// Refresh: how often the host name of a runner URL is resolved again.
	Refresh time.Duration
	// Resolve gives the addresses of a host name (default: the system's
	// resolver).
	Resolve func(ctx context.Context, host string) ([]string, error)
	// HTTP is the client used to reach the runners (default: one that
	// opens a connection per run, so that a Service spreads them).
	HTTP *http.Client
	// Limits are the runners' limits (default sandbox.DefaultLimits()).
	// With Slack they make each run's deadline: its build, all its runs
	// together and a kill grace, plus Slack. A runner that has not ended
	// a run by then, however busy its heartbeats say it is, is asked to
	// stop it, and the run ends with an error wrapping
	// sandbox.ErrRunnerLost.
	Limits sandbox.Limits
	Slack  time.Duration
}

// deadline is how long one run may take on a runner, all told.
func (o ClientOptions) deadline() time.Duration {
	l := o.Limits
	return l.BuildTimeout + l.RequestTimeout + l.KillGrace + o.Slack
}

// Client is a sandbox.Runner that sends each run to one of several runners
// (racelab runner, serving Handler) over HTTP. It picks the runner with
// the fewest runs in flight, in turns among equals, and tries the next
// one when a runner cannot be reached or refuses with 503. A run is never
// sent twice once its stream has begun: if its runner goes away, Run
// returns an error wrapping sandbox.ErrRunnerLost.
//
// The host name of an http URL is resolved (again every Refresh), and
// each of its addresses is a runner of its own: a Kubernetes headless
// Service names every ready runner pod, so that runs spread by load, a
// Stop reaches the runner that has the run, and a pod that refuses is
// passed over for another.
type Client struct {
	opt       ClientOptions
	hc        *http.Client
	urls      []*url.URL
	turn      atomic.Uint64
	mu        sync.Mutex
	targets   []*target           // the runners now, from the last resolution
	known     map[string]*target  // by base: a runner keeps its counts across resolutions
	addrs     map[string][]string // by URL: the last good answer of its host name
	resolved  time.Time
	resolving bool // a resolution is under way
}

// NewClient returns a client of the runners at urls (http://host:port,
// optionally with a path prefix).
func NewClient(urls []string, o ClientOptions) (*Client, error) {
	if len(urls) == 0 {
		return nil, errors.New("no runner URL given")
	}
	if o.Limits == (sandbox.Limits{}) {
		o.Limits = sandbox.DefaultLimits()
	}
	if o.Slack <= 0 {
		o.Slack = DefaultSlack
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.StopGrace <= 0 {
		o.StopGrace = DefaultStopGrace
	}
	if o.Cooldown <= 0 {
		o.Cooldown = DefaultCooldown
	}
	if o.Refresh <= 0 {
		o.Refresh = DefaultRefresh
	}
	if o.Resolve == nil {
		o.Resolve = net.DefaultResolver.LookupHost
	}
	c := &Client{opt: o, hc: o.HTTP, known: map[string]*target{}, addrs: map[string][]string{}}
	if c.hc == nil {
		// No proxy (runners are reached directly), and a connection per
		// run: a Service then places each run on a ready runner.
		c.hc = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	}
	seen := map[string]bool{}
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("runner URL %q: want http://HOST:PORT (the address racelab runner listens on)", raw)
		}
		base := strings.TrimSuffix(u.String(), "/")
		if seen[base] {
			return nil, fmt.Errorf("runner URL %q is given twice", raw)
		}
		seen[base] = true
		c.urls = append(c.urls, u)
	}
	return c, nil
}

// Run sends req to a runner and passes its events to emit.
func (c *Client) Run(ctx context.Context, req *sandbox.Request, emit func(sandbox.Event)) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("remote: encode the request: %w", err)
	}
	var failures []error
	for _, t := range c.order(c.runners(ctx)) {
		if ctx.Err() != nil {
			break
		}
		sent, err := c.try(ctx, t, req, body, emit)
		if sent {
			return err
		}
		t.passOver(c.opt.Cooldown)
		failures = append(failures, err)
	}
	if ctx.Err() != nil {
		stopped(req, emit)
		return nil
	}
	return fmt.Errorf("%w: %d runner(s) tried: %w", sandbox.ErrUnavailable, len(failures), errors.Join(failures...))
}

// order lists the runners to try: those not passed over first, fewest
// runs in flight first, the rest in turns starting at a rotating index.
func (c *Client) order(runners []*target) []*target {
	n := len(runners)
	start := int(c.turn.Add(1) % uint64(n))
	rs := make([]*target, 0, n)
	for i := range n {
		rs = append(rs, runners[(start+i)%n])
	}
	now := time.Now().UnixNano()
	rank := func(r *target) (bool, int64) { return r.downUntil.Load() > now, r.inflight.Load() }
	slices.SortStableFunc(rs, func(a, b *target) int {
		da, fa := rank(a)
		db, fb := rank(b)
		if da != db {
			if da {
				return 1
			}
			return -1
		}
		return int(fa - fb)
	})
	return rs
}

// Runners returns the runners' URLs, as given.
func (c *Client) Runners() []string {
	urls := make([]string, len(c.urls))
	for i, u := range c.urls {
		urls[i] = strings.TrimSuffix(u.String(), "/")
	}
	return urls
}

var _ sandbox.Runner = (*Client)(nil)
