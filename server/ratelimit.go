package server

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// clientIdleTTL is how long a client's limiter is kept after its last run.
const clientIdleTTL = 10 * time.Minute

// rateLimitError says when the client may run again.
type rateLimitError struct{ wait time.Duration }

// Unwrap makes the error a rate limit to errors.Is, for the table of codes.
func (e *rateLimitError) Unwrap() error { return errRateLimited }

// Error says when the client may run again.
func (e *rateLimitError) Error() string {
	return fmt.Sprintf("You have started more runs than this server allows in a while (a run repeated N times counts N times); "+
		"try again in %d s.", int(e.wait.Seconds())+1)
}

// clients keeps one token bucket per client, a token for each execution
// of a program. Idle buckets are swept on use, so no goroutine is needed
// to forget them.
type clients struct {
	mu       sync.Mutex
	perSec   rate.Limit
	burst    int
	buckets  map[string]*bucket
	lastScan time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newClients(perMinute float64, burst int) *clients {
	return &clients{perSec: rate.Limit(perMinute / 60), burst: burst, buckets: map[string]*bucket{}}
}

// allow takes a token for the first execution of a request of client, or
// says how long to wait for one.
func (c *clients) allow(client string, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.bucket(client, now).ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 || !r.OK() {
		r.CancelAt(now)
		if !r.OK() {
			d = time.Minute
		}
		return &rateLimitError{wait: d}
	}
	return nil
}

// charge takes a token for a further execution of a request that allow
// let in (a repeat), into debt if the bucket is empty: the execution is
// not refused, but the client's next request waits until the debt is
// paid. So a repeat larger than the burst still runs, once.
func (c *clients) charge(client string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bucket(client, now).ReserveN(now, 1)
}

// bucket returns client's limiter, made if need be, after forgetting
// the clients idle for clientIdleTTL whose buckets have filled up again
// (one still in debt is kept, or its debt would be forgiven); c.mu is held.
func (c *clients) bucket(client string, now time.Time) *rate.Limiter {
	if now.Sub(c.lastScan) > clientIdleTTL {
		for k, b := range c.buckets {
			if now.Sub(b.seen) > clientIdleTTL && b.lim.TokensAt(now) >= float64(c.burst) {
				delete(c.buckets, k)
			}
		}
		c.lastScan = now
	}
	b, ok := c.buckets[client]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(c.perSec, c.burst)}
		c.buckets[client] = b
	}
	b.seen = now
	return b.lim
}

// clientKey identifies the client of r: its IP address, or, behind a
// trusted reverse proxy, the address the proxy saw (the last entry of
// X-Forwarded-For, which the proxy appended and the client cannot forge).
// A client may send X-Forwarded-For lines of its own, and a proxy may add
// its entry as a line of its own (HAProxy's forwardfor) rather than at
// the end of the client's line: the proxy's entry is the last of the last
// line either way. An IPv6 address stands for its /64, the block one
// host is given (see addrClient).
func clientKey(r *http.Request, trustProxy bool) string {
	if trustProxy {
		if lines := r.Header.Values("X-Forwarded-For"); len(lines) > 0 {
			parts := strings.Split(lines[len(lines)-1], ",")
			return addrClient(strings.TrimSpace(parts[len(parts)-1]))
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return addrClient(r.RemoteAddr)
	}
	return addrClient(host)
}

// addrClient is the client an IP address stands for: an IPv4 address
// itself, an IPv6 address its /64 ("2001:db8:1:2::/64"), since one host
// is commonly given a whole /64 and could otherwise be as many clients as
// it has addresses. What is not an IP address is kept as it is.
func addrClient(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	return netip.PrefixFrom(ip, 64).Masked().String()
}
