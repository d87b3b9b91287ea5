package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The defaults of ClientOptions.
const (
	DefaultIdleTimeout = 4 * DefaultHeartbeat
	DefaultStopGrace   = 3 * time.Second
	DefaultCooldown    = 2 * time.Second
	DefaultRefresh     = 5 * time.Second
	maxEventLine       = 64 << 20 // an asm listing is one line
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
}

// Client is a Runner that sends each run to one of several runners
// (racelab runner, serving Handler) over HTTP. It picks the runner with
// the fewest runs in flight, in turns among equals, and tries the next
// one when a runner cannot be reached or refuses with 503. A run is never
// sent twice once its stream has begun: if its runner goes away, Run
// returns an error wrapping ErrRunnerLost.
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
	targets   []*remote           // the runners now, from the last resolution
	known     map[string]*remote  // by base: a runner keeps its counts across resolutions
	addrs     map[string][]string // by URL: the last good answer of its host name
	resolved  time.Time
	resolving bool // a resolution is under way
}

// remote is one runner as the client sees it.
type remote struct {
	base      string       // the URL, without a trailing slash
	host      string       // the Host header, when base names an address of the URL's host
	inflight  atomic.Int64 // runs sent and not yet ended
	downUntil atomic.Int64 // UnixNano until which it is passed over
}

// NewClient returns a client of the runners at urls (http://host:port,
// optionally with a path prefix).
func NewClient(urls []string, o ClientOptions) (*Client, error) {
	if len(urls) == 0 {
		return nil, errors.New("no runner URL given")
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
	c := &Client{opt: o, hc: o.HTTP, known: map[string]*remote{}, addrs: map[string][]string{}}
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

// runners returns the runners now: each URL, or each address its host
// name resolves to. A due resolution happens outside the lock, whatever
// becomes of ctx; runs meanwhile use the previous list, and a name that
// fails to resolve keeps its last addresses.
func (c *Client) runners(ctx context.Context) []*remote {
	c.mu.Lock()
	if c.targets != nil && (c.resolving || time.Since(c.resolved) < c.opt.Refresh) {
		defer c.mu.Unlock()
		return c.targets
	}
	c.resolving = true
	c.mu.Unlock()

	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	found := make([][]string, len(c.urls))
	for i, u := range c.urls {
		found[i] = c.lookup(rctx, u)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	var ts []*remote
	for i, u := range c.urls {
		addrs := found[i]
		if addrs == nil {
			addrs = c.addrs[u.String()] // the last good answer, if any
		} else {
			c.addrs[u.String()] = addrs
		}
		ts = append(ts, c.targetsOf(u, addrs)...)
	}
	known := make(map[string]*remote, len(ts))
	for _, r := range ts {
		known[r.base] = r
	}
	c.targets, c.known, c.resolved, c.resolving = ts, known, time.Now(), false
	return ts
}

// lookup returns the addresses of u's host name, or nil when u is not to
// be resolved (https, an address) or the name did not resolve.
func (c *Client) lookup(ctx context.Context, u *url.URL) []string {
	host := u.Hostname()
	if u.Scheme != "http" || net.ParseIP(host) != nil {
		return nil
	}
	addrs, err := c.opt.Resolve(ctx, host)
	if err != nil || len(addrs) == 0 {
		return nil
	}
	slices.Sort(addrs)
	return slices.Compact(addrs)
}

// targetsOf turns u into runners: one per address, or u itself without
// addresses. The caller holds c.mu.
func (c *Client) targetsOf(u *url.URL, addrs []string) []*remote {
	if len(addrs) == 0 {
		return []*remote{c.remote(strings.TrimSuffix(u.String(), "/"), "")}
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	rs := make([]*remote, 0, len(addrs))
	for _, a := range addrs {
		v := *u
		v.Host = net.JoinHostPort(a, port)
		rs = append(rs, c.remote(strings.TrimSuffix(v.String(), "/"), u.Host))
	}
	return rs
}

func (c *Client) remote(base, host string) *remote {
	if r, ok := c.known[base]; ok {
		return r
	}
	return &remote{base: base, host: host}
}

// Run sends req to a runner and passes its events to emit.
func (c *Client) Run(ctx context.Context, req *Request, emit func(Event)) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	var failures []error
	for _, rm := range c.order(c.runners(ctx)) {
		if ctx.Err() != nil {
			break
		}
		sent, err := c.try(ctx, rm, req, body, emit)
		if sent {
			return err
		}
		rm.downUntil.Store(time.Now().Add(c.opt.Cooldown).UnixNano())
		failures = append(failures, err)
	}
	if ctx.Err() != nil {
		emit(stoppedExit())
		return nil
	}
	return fmt.Errorf("%w: %d runner(s) tried: %w", ErrUnavailable, len(failures), errors.Join(failures...))
}

// order lists the runners to try: those not passed over first, fewest
// runs in flight first, the rest in turns starting at a rotating index.
func (c *Client) order(runners []*remote) []*remote {
	n := len(runners)
	start := int(c.turn.Add(1) % uint64(n))
	rs := make([]*remote, 0, n)
	for i := range n {
		rs = append(rs, runners[(start+i)%n])
	}
	now := time.Now().UnixNano()
	rank := func(r *remote) (bool, int64) { return r.downUntil.Load() > now, r.inflight.Load() }
	slices.SortStableFunc(rs, func(a, b *remote) int {
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

// try sends the run to rm. sent is false when rm did not take it (it
// could not be reached, or refused with 503), so that another may.
func (c *Client) try(ctx context.Context, rm *remote, req *Request, body []byte, emit func(Event)) (sent bool, err error) {
	rm.inflight.Add(1)
	defer rm.inflight.Add(-1)
	id := newRunID()
	// The request outlives ctx by the stop grace: a stopped run still
	// sends its last events.
	hctx, cut := context.WithCancel(context.WithoutCancel(ctx))
	var idle atomic.Bool
	watchdog := time.AfterFunc(c.opt.IdleTimeout, func() { idle.Store(true); cut() })
	defer watchdog.Stop()
	var grace *time.Timer
	stopped := make(chan struct{})
	stopWatching := context.AfterFunc(ctx, func() {
		defer close(stopped)
		grace = time.AfterFunc(c.opt.StopGrace, cut)
		c.stop(hctx, rm, id)
	})
	defer func() {
		cut() // also ends a stop request still going
		if !stopWatching() {
			<-stopped
			grace.Stop()
		}
	}()

	hreq, err := http.NewRequestWithContext(hctx, http.MethodPost, rm.base+RunPath, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set(RunIDHeader, id)
	hreq.Host = rm.host
	resp, err := c.hc.Do(hreq)
	if err != nil {
		if ctx.Err() != nil {
			emit(stoppedExit())
			return true, nil
		}
		if idle.Load() {
			err = fmt.Errorf("no answer in %v", c.opt.IdleTimeout)
		}
		return false, fmt.Errorf("runner %s: %w", rm.base, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return false, fmt.Errorf("runner %s: %s: %w", rm.base, resp.Status, remoteError(refusal(resp.Body), resp.Status))
	default:
		e := refusal(resp.Body)
		return true, remoteError(e, resp.Status)
	}

	sawExit := false
	var final error
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventLine)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			watchdog.Reset(c.opt.IdleTimeout)
			continue // a heartbeat
		}
		var e Event
		if err := json.Unmarshal(line, &e); err != nil {
			final = fmt.Errorf("runner %s sent a line that is not an event: %v", rm.base, err)
			break
		}
		if e.Kind == KindError {
			final = remoteError(e, "")
			continue
		}
		sawExit = sawExit || e.Kind == KindExit
		// The watchdog times the runner, not emit: a slow reader on
		// this side is not a lost runner.
		watchdog.Stop()
		emit(e)
		watchdog.Reset(c.opt.IdleTimeout)
	}
	readErr := sc.Err()
	switch {
	case final != nil:
		return true, final
	case readErr == nil && !idle.Load() && sawExit:
		// The stream ended cleanly: the runner's handler returned.
		return true, nil
	case ctx.Err() != nil:
		// Stopped, and the runner did not end the stream within the grace.
		emit(stoppedExit())
		return true, nil
	}
	rm.downUntil.Store(time.Now().Add(c.opt.Cooldown).UnixNano())
	why := readErr
	switch {
	case idle.Load():
		why = fmt.Errorf("nothing heard for %v", c.opt.IdleTimeout)
	case why == nil:
		why = errors.New("the stream ended before the run did")
	}
	return true, fmt.Errorf("%w: runner %s: %w", ErrRunnerLost, rm.base, why)
}

// stop asks rm to stop the run id; when it cannot, the grace cuts the
// stream instead.
func (c *Client) stop(ctx context.Context, rm *remote, id string) {
	ctx, cancel := context.WithTimeout(ctx, c.opt.StopGrace)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, rm.base+RunPath+"/"+id, nil)
	if err != nil {
		return
	}
	req.Host = rm.host
	if resp, err := c.hc.Do(req); err == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
		resp.Body.Close()
	}
}

// refusal reads the one error event of a refused request.
func refusal(r io.Reader) Event {
	var e Event
	b, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	if json.Unmarshal(bytes.TrimSpace(b), &e) != nil || e.Kind != KindError {
		e = Event{Kind: KindError, Reason: ReasonInternal, Msg: strings.TrimSpace(string(b))}
	}
	return e
}

// remoteError turns a runner's error event back into the error its
// runner returned, so that errors.Is sees the same sentinels. status is
// the HTTP status of a refusal, or "" for an error in the stream.
func remoteError(e Event, status string) error {
	switch {
	case e.Reason == ReasonBadRequest:
		return fmt.Errorf("%w: %s", ErrBadRequest, strings.TrimPrefix(e.Msg, ErrBadRequest.Error()+": "))
	case e.Reason == ReasonUnavailable && status == "":
		// The run had begun: the runner stopped (shut down) during it.
		return fmt.Errorf("%w: %s", ErrRunnerLost, e.Msg)
	case e.Reason == ReasonUnavailable && strings.HasPrefix(e.Msg, ErrNotReady.Error()):
		return fmt.Errorf("%w: %s", ErrNotReady, strings.TrimPrefix(e.Msg, ErrNotReady.Error()+": "))
	case e.Reason == ReasonUnavailable:
		return fmt.Errorf("%w: %s", ErrUnavailable, strings.TrimPrefix(e.Msg, ErrUnavailable.Error()+": "))
	case status != "":
		return fmt.Errorf("runner answered %s: %s", status, e.Msg)
	}
	return fmt.Errorf("runner failed: %s", e.Msg)
}

// stoppedExit is the exit event of a run stopped before its runner could
// say so itself.
func stoppedExit() Event {
	return Event{Kind: KindExit, Code: -1, Reason: ReasonCanceled, Msg: "The run was stopped before it finished."}
}

func newRunID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Runners returns the runners' URLs, as given.
func (c *Client) Runners() []string {
	urls := make([]string, len(c.urls))
	for i, u := range c.urls {
		urls[i] = strings.TrimSuffix(u.String(), "/")
	}
	return urls
}

var _ Runner = (*Client)(nil)
