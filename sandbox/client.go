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
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// The defaults of ClientOptions.
const (
	DefaultIdleTimeout = 4 * DefaultHeartbeat
	DefaultStopGrace   = 3 * time.Second
	DefaultCooldown    = 2 * time.Second
	maxEventLine       = 64 << 20 // an asm listing is one line
)

// ErrRunnerLost is wrapped by the error of a run whose runner went away
// (stopped, crashed, unreachable) before the run ended. It wraps
// ErrUnavailable: running again may work, on another runner.
var ErrRunnerLost = fmt.Errorf("%w: the runner went away during the run", ErrUnavailable)

// ErrNotReady is wrapped by the error of a run sent to a sandbox that is
// still opening (a first start builds its warm cache). It wraps
// ErrUnavailable.
var ErrNotReady = fmt.Errorf("%w: the sandbox is still starting", ErrUnavailable)

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
	// HTTP is the client used to reach the runners (default: a new one).
	HTTP *http.Client
}

// Client is a Runner that sends each run to one of several runners
// (racelab runner, serving Handler) over HTTP. It picks the runner with
// the fewest runs in flight, in turns among equals, and tries the next
// one when a runner cannot be reached or refuses with 503. A run is never
// sent twice once its stream has begun: if its runner goes away, Run
// returns an error wrapping ErrRunnerLost.
type Client struct {
	opt     ClientOptions
	hc      *http.Client
	runners []*remote
	turn    atomic.Uint64
}

// remote is one runner as the client sees it.
type remote struct {
	base      string       // the URL, without a trailing slash
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
	c := &Client{opt: o, hc: o.HTTP}
	if c.hc == nil {
		c.hc = &http.Client{}
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
		c.runners = append(c.runners, &remote{base: base})
	}
	return c, nil
}

// Run sends req to a runner and passes its events to emit.
func (c *Client) Run(ctx context.Context, req *Request, emit func(Event)) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	var failures []error
	for _, rm := range c.order() {
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
func (c *Client) order() []*remote {
	n := len(c.runners)
	start := int(c.turn.Add(1) % uint64(n))
	rs := make([]*remote, 0, n)
	for i := range n {
		rs = append(rs, c.runners[(start+i)%n])
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
		return false, fmt.Errorf("runner %s: %s: %s", rm.base, resp.Status, refusal(resp.Body).Msg)
	default:
		e := refusal(resp.Body)
		return true, remoteError(e, resp.Status)
	}

	var last Kind
	var final error
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventLine)
	for sc.Scan() {
		watchdog.Reset(c.opt.IdleTimeout)
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
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
		last = e.Kind
		emit(e)
	}
	if final != nil {
		return true, final
	}
	complete := last == KindSummary || (last == KindExit && req.Repeat <= 1)
	switch {
	case complete:
		return true, nil
	case ctx.Err() != nil:
		// Stopped, and the runner did not end the stream within the grace.
		emit(stoppedExit())
		return true, nil
	}
	rm.downUntil.Store(time.Now().Add(c.opt.Cooldown).UnixNano())
	why := sc.Err()
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
// runner returned, so that errors.Is sees the same sentinels.
func remoteError(e Event, status string) error {
	switch e.Reason {
	case ReasonBadRequest:
		return fmt.Errorf("%w: %s", ErrBadRequest, strings.TrimPrefix(e.Msg, ErrBadRequest.Error()+": "))
	case ReasonUnavailable:
		return fmt.Errorf("%w: %s", ErrUnavailable, e.Msg)
	}
	if status != "" {
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

// Runners returns the runners' URLs.
func (c *Client) Runners() []string {
	urls := make([]string, len(c.runners))
	for i, r := range c.runners {
		urls[i] = r.base
	}
	return urls
}

var _ Runner = (*Client)(nil)
