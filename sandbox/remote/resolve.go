package remote

import (
	"context"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// target is one runner as the client sees it.
type target struct {
	base      string       // the URL, without a trailing slash
	host      string       // the Host header, when base names an address of the URL's host
	inflight  atomic.Int64 // runs sent and not yet ended
	downUntil atomic.Int64 // UnixNano until which it is passed over
}

// passOver makes the client pass t over for d, unless every runner is.
func (t *target) passOver(d time.Duration) {
	t.downUntil.Store(time.Now().Add(d).UnixNano())
}

// runners returns the runners now: each URL, or each address its host
// name resolves to. A due resolution happens outside the lock, whatever
// becomes of ctx; runs meanwhile use the previous list, and a name that
// fails to resolve keeps its last addresses.
func (c *Client) runners(ctx context.Context) []*target {
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
	var ts []*target
	for i, u := range c.urls {
		addrs := found[i]
		if addrs == nil {
			addrs = c.addrs[u.String()] // the last good answer, if any
		} else {
			c.addrs[u.String()] = addrs
		}
		ts = append(ts, c.targetsOf(u, addrs)...)
	}
	known := make(map[string]*target, len(ts))
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
func (c *Client) targetsOf(u *url.URL, addrs []string) []*target {
	if len(addrs) == 0 {
		return []*target{c.target(strings.TrimSuffix(u.String(), "/"), "")}
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	rs := make([]*target, 0, len(addrs))
	for _, a := range addrs {
		v := *u
		v.Host = net.JoinHostPort(a, port)
		rs = append(rs, c.target(strings.TrimSuffix(v.String(), "/"), u.Host))
	}
	return rs
}

// target returns the runner at base, the one already known if any, so
// that its counts carry over. The caller holds c.mu.
func (c *Client) target(base, host string) *target {
	if r, ok := c.known[base]; ok {
		return r
	}
	return &target{base: base, host: host}
}
