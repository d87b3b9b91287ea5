package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/racelab/racelab/sandbox"
)

// handleWS serves one websocket: the client sends a request as a JSON
// text message (or {"stop":true} to stop the run going on), the server
// answers with one JSON event per message. Runs on one socket go one at a
// time; closing the socket stops the run.
func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	s.sockets.enter()
	defer s.sockets.leave()
	// Accept checks that the page asking is served by this host.
	hj := &hijackKeeper{ResponseWriter: w}
	c, err := websocket.Accept(hj, r, nil)
	if err != nil {
		return // Accept has answered the client
	}
	// A bigger message closes the socket with 1009 (message too big).
	c.SetReadLimit(s.cfg.MaxMessageBytes)
	// The reader has a context of its own: coder/websocket closes the
	// connection when a Read's context ends, and on shutdown the run's
	// last events must still go out before the close.
	readCtx, stopReading := context.WithCancel(context.WithoutCancel(r.Context()))
	defer stopReading()
	ws := &wsConn{s: s, c: c, conn: hj.conn, client: clientKey(r, s.cfg.TrustProxy), stopReading: stopReading}
	s.sockets.add(ws)
	defer s.sockets.remove(ws)
	ws.serve(r.Context(), readCtx)
}

// hijackKeeper is the ResponseWriter websocket.Accept gets: it keeps the
// connection Accept hijacks, so that closeNow can close it underneath
// coder/websocket, whose CloseNow does nothing but wait while a Close is
// under way, and that Close waits up to 5 s for a client that may never
// answer.
type hijackKeeper struct {
	http.ResponseWriter
	conn net.Conn
}

func (h *hijackKeeper) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	h.conn = conn
	return conn, brw, err
}

func (h *hijackKeeper) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// wsConn is one websocket connection.
type wsConn struct {
	s           *Server
	c           *websocket.Conn
	conn        net.Conn // the connection under c
	client      string
	stopReading context.CancelFunc // ends the reader's context, which closes the connection

	mu     sync.Mutex // serializes writes
	broken bool       // a write failed: the client is gone or not reading
}

// wsRun is the run going on a connection.
type wsRun struct {
	cancel context.CancelFunc
	ending chan struct{} // closed just before the run's last event is sent
	done   chan struct{} // closed when the run is over and cleaned up
}

// wsMsg is a message of the client, and the function that gives its
// bytes back to the server's budget (see inflight.go) once it is handled.
type wsMsg struct {
	b       []byte
	release func()
}

// serve reads messages, with a reader of its own that ends with readCtx,
// until the client leaves, the server shuts down, or the client sends
// nothing for IdleTimeout while no run of it is going.
func (ws *wsConn) serve(ctx, readCtx context.Context) {
	msgs := make(chan wsMsg)
	var reader sync.WaitGroup
	reader.Go(func() { ws.read(readCtx, msgs) })
	idle := time.NewTimer(ws.s.cfg.IdleTimeout)
	defer idle.Stop()
	idled := false
	var run *wsRun
	var done <-chan struct{}
loop:
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				break loop
			}
			run, done = ws.handle(ctx, m.b, run, done)
			m.release()
			idle.Reset(ws.s.cfg.IdleTimeout)
		case <-done:
			run, done = nil, nil
			idle.Reset(ws.s.cfg.IdleTimeout)
		case <-idle.C:
			if run == nil {
				idled = true
				break loop
			}
		case <-ctx.Done():
			break loop
		}
	}
	if run != nil {
		run.cancel()
		<-run.done
	}
	switch {
	case ctx.Err() != nil && !ws.isBroken():
		ws.c.Close(websocket.StatusGoingAway, "server shutting down")
	case idled:
		ws.c.Close(websocket.StatusPolicyViolation, fmt.Sprintf("nothing was asked for %v", ws.s.cfg.IdleTimeout))
	default:
		ws.c.Close(websocket.StatusNormalClosure, "")
	}
	ws.stopReading()
	reader.Wait()
}

// read passes the client's messages to msgs until reading fails, a
// message finds the server's budget of bytes being received spent (the
// client is told, and the socket closes), or ctx ends; and then closes
// msgs.
func (ws *wsConn) read(ctx context.Context, msgs chan<- wsMsg) {
	defer close(msgs)
	for {
		_, r, err := ws.c.Reader(ctx)
		if err != nil {
			return // closed by the client or by serve
		}
		b, release, err := ws.s.recv.read(r)
		if errors.Is(err, errInflightFull) {
			ws.send(ws.s.classify(err).event())
			return
		}
		if err != nil {
			return // closed, or too big (1009 sent)
		}
		select {
		case msgs <- wsMsg{b, release}:
		case <-ctx.Done():
			release()
			return
		}
	}
}

// closeNow closes the connection at once, without the closing handshake,
// even one under way: the reader's context ends, and the connection
// underneath the websocket is closed, so every read and write on it
// (a Close's wait for the client's answer among them) fails at once,
// whatever the reader was doing.
func (ws *wsConn) closeNow() {
	ws.stopReading()
	ws.conn.Close()
	ws.c.CloseNow()
}

// handle acts on one message and returns the run going on afterwards.
func (ws *wsConn) handle(ctx context.Context, b []byte, run *wsRun, done <-chan struct{}) (*wsRun, <-chan struct{}) {
	var stop struct {
		Stop bool `json:"stop"`
	}
	if json.Unmarshal(b, &stop) == nil && stop.Stop {
		if run != nil {
			run.cancel()
		}
		return run, done
	}
	if run != nil {
		select {
		case <-run.ending:
			// The client has the last event already; the run is only
			// cleaning up, so the next request waits for that.
			<-run.done
		default:
			ws.send(sandbox.Event{Kind: sandbox.KindError, Reason: sandbox.ReasonSocketBusy,
				Msg: "A run is already going on this connection: stop it first, or open another connection."})
			return run, done
		}
	}
	req, err := ws.s.request(b)
	if err != nil {
		ws.send(ws.s.classify(err).event())
		return nil, nil
	}
	runCtx, cancel := context.WithCancel(ctx)
	run = &wsRun{cancel: cancel, ending: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(run.done)
		defer cancel()
		ws.run(runCtx, run, req)
	}()
	return run, run.done
}

// run admits and executes req, streaming its events.
func (ws *wsConn) run(ctx context.Context, run *wsRun, req *sandbox.Request) {
	f := &flow{s: ws.s, client: ws.client, req: req, send: ws.send, cancel: run.cancel, ending: run.ending, judge: ws.s.judgeFor(req)}
	if err := ws.s.serveRun(ctx, f); err != nil {
		f.emit(ws.s.classify(err).event())
	}
}

func (ws *wsConn) isBroken() bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return ws.broken
}

// send writes one event, giving a client that does not read WriteTimeout
// before it is dropped. It reports whether the event went out.
func (ws *wsConn) send(e sandbox.Event) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.broken {
		return false
	}
	b, err := e.JSON()
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), ws.s.cfg.WriteTimeout)
	defer cancel()
	if err := ws.c.Write(ctx, websocket.MessageText, b); err != nil {
		ws.broken = true
		ws.c.CloseNow()
		return false
	}
	return true
}

// errNotUTF8 is the error for a request that is not UTF-8 text.
var errNotUTF8 = errors.New("the request is not valid UTF-8 text; send source files as UTF-8")

// decodeRequest parses a request; its errors wrap sandbox.ErrBadRequest.
func decodeRequest(b []byte) (*sandbox.Request, error) {
	// encoding/json would replace invalid UTF-8 silently; refuse it.
	if !utf8.Valid(b) {
		return nil, badRequest(errNotUTF8)
	}
	var req sandbox.Request
	if err := json.Unmarshal(b, &req); err != nil {
		if errors.Is(err, sandbox.ErrBadRequest) {
			return nil, err
		}
		return nil, badRequest(errors.New("the request is not valid JSON: " + err.Error()))
	}
	return &req, nil
}

func badRequest(err error) error {
	return fmt.Errorf("%w: %v", sandbox.ErrBadRequest, err)
}
