package server

import "sync"

// sockets are the open websockets. Their handlers outlive
// http.Server.Shutdown, which does not wait for a hijacked connection,
// so Serve waits for them itself, and once the shutdown grace is spent
// it closes them hard.
type sockets struct {
	handlers sync.WaitGroup // websocket handlers, counted from before they accept
	mu       sync.Mutex
	open     map[*wsConn]bool
}

func newSockets() *sockets { return &sockets{open: map[*wsConn]bool{}} }

// enter counts a websocket handler in, before it accepts: Shutdown waits
// for a connection until it is hijacked, so no handler can enter once
// Shutdown has returned. The handler calls leave when it is done.
func (ss *sockets) enter() { ss.handlers.Add(1) }

// leave counts a handler out.
func (ss *sockets) leave() { ss.handlers.Done() }

// add records an open websocket; remove forgets it.
func (ss *sockets) add(c *wsConn) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.open[c] = true
}

func (ss *sockets) remove(c *wsConn) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.open, c)
}

// count returns how many websockets are open.
func (ss *sockets) count() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.open)
}

// closeNow closes every open websocket at once, without the closing
// handshake (see wsConn.closeNow): their handlers end as soon as their
// runs have (a run's context is canceled already).
func (ss *sockets) closeNow() {
	ss.mu.Lock()
	open := make([]*wsConn, 0, len(ss.open))
	for c := range ss.open {
		open = append(open, c)
	}
	ss.mu.Unlock()
	for _, c := range open {
		c.closeNow()
	}
}

// wait returns when every handler has left.
func (ss *sockets) wait() { ss.handlers.Wait() }
