package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/racelab/racelab/sandbox"
)

// handleWS serves one websocket: the client sends a request as a JSON
// text message (or {"stop":true} to stop the run going on), the server
// answers with one JSON event per message. Runs on one socket go one at a
// time; closing the socket stops the run.
func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	// Accept checks that the page asking is served by this host.
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered the client
	}
	s.conns.Add(1)
	defer s.conns.Done()
	s.sockets.Add(1)
	defer s.sockets.Add(-1)
	// A bigger message closes the socket with 1009 (message too big).
	c.SetReadLimit(s.cfg.MaxMessageBytes)
	ws := &wsConn{s: s, c: c, client: clientKey(r, s.cfg.TrustProxy)}
	ws.serve(r.Context())
}

// wsConn is one websocket connection.
type wsConn struct {
	s      *Server
	c      *websocket.Conn
	client string

	mu     sync.Mutex // serializes writes
	broken bool       // a write failed: the client is gone or not reading
}

// wsRun is the run going on a connection.
type wsRun struct {
	cancel context.CancelFunc
	ending chan struct{} // closed just before the run's last event is sent
	done   chan struct{} // closed when the run is over and cleaned up
}

// last reports whether e is the last event of a run of req: the client
// may send its next request as soon as it has it.
func last(e sandbox.Event, req *sandbox.Request) bool {
	switch e.Kind {
	case sandbox.KindError, sandbox.KindSummary:
		return true
	case sandbox.KindExit:
		return req.Repeat <= 1
	}
	return false
}

// serve reads messages until the client leaves or the server shuts down.
func (ws *wsConn) serve(ctx context.Context) {
	// The reader has a context of its own: coder/websocket closes the
	// connection when a Read's context ends, and on shutdown the run's
	// last events must still go out before the close.
	readCtx, stopReading := context.WithCancel(context.WithoutCancel(ctx))
	defer stopReading()
	msgs := make(chan []byte)
	var reader sync.WaitGroup
	reader.Add(1)
	go func() {
		defer reader.Done()
		defer close(msgs)
		for {
			_, b, err := ws.c.Read(readCtx)
			if err != nil {
				return // closed by the client or by serve, or too big (1009 sent)
			}
			select {
			case msgs <- b:
			case <-readCtx.Done():
				return
			}
		}
	}()
	var run *wsRun
	var done <-chan struct{}
loop:
	for {
		select {
		case b, ok := <-msgs:
			if !ok {
				break loop
			}
			run, done = ws.handle(ctx, b, run, done)
		case <-done:
			run, done = nil, nil
		case <-ctx.Done():
			break loop
		}
	}
	if run != nil {
		run.cancel()
		<-run.done
	}
	if ctx.Err() != nil && !ws.isBroken() {
		ws.c.Close(websocket.StatusGoingAway, "server shutting down")
	} else {
		ws.c.Close(websocket.StatusNormalClosure, "")
	}
	stopReading()
	reader.Wait()
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
	req, err := decodeRequest(b)
	if err == nil {
		err = req.Validate(ws.s.cfg.Limits)
	}
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
	var once sync.Once
	emit := func(e sandbox.Event) {
		if last(e, req) {
			once.Do(func() { close(run.ending) })
		}
		if !ws.send(e) {
			run.cancel() // the client does not read: stop its run
		}
	}
	release, err := ws.s.admit(ctx, ws.client, req, emit)
	if err != nil {
		if ctx.Err() == nil {
			emit(ws.s.classify(err).event())
		}
		return
	}
	defer release()
	if err := ws.s.execute(ctx, ws.client, req, emit); err != nil {
		emit(ws.s.classify(err).event())
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
	b, err := json.Marshal(e)
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
