package server

import (
	"fmt"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"
)

// The server's connections are bounded, as its runs are: one address may
// hold ClientConns of them at once, and all clients together MaxConns,
// which stays below the process's limit of open files (each run needs
// some of its own). Without the bounds one address holding twenty
// thousand idle keep-alive connections took every file descriptor, and
// the server answered nobody, /healthz included. A connection past either
// bound is answered 503 at once and closed, before it holds anything.
//
// Behind a reverse proxy (TrustProxy) every connection comes from the
// proxy, which then bounds each client's connections itself: only
// MaxConns applies. A class behind one address (a school's NAT) needs a
// larger ClientConns, as it needs a larger ClientRuns.

// connReserve is how many of the process's open files MaxConns leaves to
// everything else: the runs' pipes and files, the lessons, the logs.
const connReserve = 256

// maxConnsFor is the default of Config.MaxConns: DefaultMaxConns, or less
// when the process may not open that many files besides connReserve.
func maxConnsFor() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > uint64(DefaultMaxConns+connReserve) {
		return DefaultMaxConns
	}
	return max(int(lim.Cur)-connReserve, 16)
}

// connLimiter is a listener that keeps the bounds above. Its counts are
// the connections it accepted and that are not closed yet.
type connLimiter struct {
	net.Listener
	max       int // all clients
	perClient int // one address; 0: no bound
	log       *slog.Logger

	mu      sync.Mutex
	open    int
	clients map[string]int
	refused int64 // connections refused since the start
	warned  time.Time
}

func newConnLimiter(ln net.Listener, max, perClient int, log *slog.Logger) *connLimiter {
	return &connLimiter{Listener: ln, max: max, perClient: perClient, log: log, clients: map[string]int{}}
}

// Accept returns the next connection within the bounds, refusing the
// ones past them on the way.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		client := connClient(c)
		if why := l.admit(client); why != "" {
			refuseConn(c, why)
			continue
		}
		return &limitedConn{Conn: c, l: l, client: client}, nil
	}
}

// connClient is the client of a connection: its address's, as clientKey
// names it (an IPv6 address stands for its /64).
func connClient(c net.Conn) string {
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return addrClient(host)
}

// admit counts a connection of client in, or says why it may not come.
func (l *connLimiter) admit(client string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	why := ""
	switch {
	case l.open >= l.max:
		why = fmt.Sprintf("racelab has %d connections open, as many as it takes; try again in a moment.", l.max)
	case l.perClient > 0 && l.clients[client] >= l.perClient:
		why = fmt.Sprintf("Your address has %d connections open to racelab, as many as one address may; close some tabs, or try again in a moment.", l.perClient)
	}
	if why != "" {
		l.refused++
		if now := time.Now(); now.Sub(l.warned) > time.Minute {
			l.warned = now
			l.log.Warn("refusing connections", "client", client, "open", l.open, "of_client", l.clients[client], "refused_so_far", l.refused)
		}
		return why
	}
	l.open++
	l.clients[client]++
	return ""
}

// release counts a connection of client out.
func (l *connLimiter) release(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.clients[client]--; l.clients[client] <= 0 {
		delete(l.clients, client)
	}
}

// stats returns the connections open and those refused so far.
func (l *connLimiter) stats() (open int, refused int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open, l.refused
}

// refuseWait bounds the answer to a refused connection: it goes into the
// socket's empty send buffer, so it never waits unless the kernel has no
// memory for it, and then it is dropped.
const refuseWait = 100 * time.Millisecond

// refuseConn answers a refused connection 503 with why, and closes it.
func refuseConn(c net.Conn, why string) {
	body := why + "\n"
	_ = c.SetWriteDeadline(time.Now().Add(refuseWait))
	fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	_ = c.Close()
}

// limitedConn is a connection the limiter counts until it is closed
// (a hijacked websocket's too: the hijacker closes this same conn).
type limitedConn struct {
	net.Conn
	l      *connLimiter
	client string
	once   sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.client) })
	return err
}
