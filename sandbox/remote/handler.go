package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/racelab/racelab/sandbox"
)

// The paths and header of the protocol (see the package documentation).
const (
	RunPath        = "/run"
	RunIDHeader    = "Racelab-Run-Id"
	ndjsonType     = "application/x-ndjson"
	maxRunIDLength = 64
)

// The defaults of HandlerOptions.
const (
	DefaultHandlerMaxBody = 1 << 20
	DefaultHeartbeat      = 5 * time.Second
	DefaultHandlerWrite   = 30 * time.Second
	MinHeartbeat          = 10 * time.Millisecond
)

// HandlerOptions tune Handler; zero fields take the defaults above.
type HandlerOptions struct {
	MaxBodyBytes int64         // the largest request body
	Heartbeat    time.Duration // a blank line after this long without an event
	WriteTimeout time.Duration // a client that reads nothing for this long loses its run
	Log          *slog.Logger  // where a run that failed is logged (default: nowhere)
}

// Handler serves r over HTTP for a Client, with the protocol of this
// package. When r.Run returns an error wrapping sandbox.ErrUnavailable
// before any event, the answer is 503, so that a Client tries another
// runner.
func Handler(r sandbox.Runner, o HandlerOptions) http.Handler {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultHandlerMaxBody
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	o.Heartbeat = max(o.Heartbeat, MinHeartbeat)
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultHandlerWrite
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h := &handler{runner: r, opt: o, runs: map[string]context.CancelFunc{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+RunPath, h.handleRun)
	mux.HandleFunc("DELETE "+RunPath+"/{id}", h.handleStop)
	return mux
}

// handler serves the protocol; runs holds the cancel of every run going
// on that its client named, for DELETE.
type handler struct {
	runner sandbox.Runner
	opt    HandlerOptions
	mu     sync.Mutex
	runs   map[string]context.CancelFunc // by Racelab-Run-Id
}

// handleRun serves POST /run: it runs the request in the body and
// streams its events.
func (h *handler) handleRun(w http.ResponseWriter, r *http.Request) {
	req, err := h.decode(w, r)
	if err != nil {
		if !errors.Is(err, errGone) {
			refuse(w, CodeOf(err), err.Error())
		}
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if id := r.Header.Get(RunIDHeader); id != "" {
		if len(id) > maxRunIDLength || !h.add(id, cancel) {
			refuse(w, CodeOf(sandbox.ErrBadRequest), "the run id is too long or already in use")
			return
		}
		defer h.remove(id)
	}
	st := NewEventWriter(w, h.opt.WriteTimeout, cancel)
	err = st.run(ctx, h.runner, req, h.opt.Heartbeat)
	if err == nil && errors.Is(context.Cause(ctx), sandbox.ErrUnavailable) {
		// Stopped because the runner shuts down, not by its client: say
		// so, or the learner would read it as their own Stop.
		err = context.Cause(ctx)
	}
	if err == nil {
		return
	}
	code := CodeOf(err)
	if code.Err == nil {
		h.opt.Log.Error("run failed", "err", err)
	}
	if !st.Started() {
		refuse(w, code, err.Error())
		return
	}
	st.Emit(sandbox.Event{Kind: sandbox.KindError, Reason: code.Reason, Msg: err.Error()})
}

// errGone is decode's error when the client went away: there is no one
// to answer.
var errGone = errors.New("the client went away")

// decode reads the request of a POST /run, with its defaults filled in;
// the runner validates it.
func (h *handler) decode(w http.ResponseWriter, r *http.Request) (*sandbox.Request, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opt.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, fmt.Errorf("%w: at most %d bytes", sandbox.ErrTooLarge, h.opt.MaxBodyBytes)
	}
	if err != nil {
		return nil, errGone
	}
	var req sandbox.Request
	if err := json.Unmarshal(body, &req); err != nil {
		if errors.Is(err, sandbox.ErrBadRequest) {
			return nil, err
		}
		return nil, badJSON{err}
	}
	req.Normalize() // for the runner and whoever counts its runs by mode
	return &req, nil
}

// badJSON is the error of a body that is not a request in JSON. It is a
// bad request whose message is only that.
type badJSON struct{ err error }

// Error says what is wrong, without the words "bad request".
func (e badJSON) Error() string { return "the request is not valid JSON: " + e.err.Error() }

// Is makes the error a bad request to errors.Is.
func (e badJSON) Is(target error) bool { return target == sandbox.ErrBadRequest }

// handleStop serves DELETE /run/{id}: it stops the run of that id.
func (h *handler) handleStop(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	cancel, ok := h.runs[r.PathValue("id")]
	h.mu.Unlock()
	if !ok {
		http.Error(w, "no such run (it may have ended)", http.StatusNotFound)
		return
	}
	cancel()
	w.WriteHeader(http.StatusNoContent)
}

// add records the cancel of the run id; it reports false when the id is
// taken.
func (h *handler) add(id string, cancel context.CancelFunc) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, dup := h.runs[id]; dup {
		return false
	}
	h.runs[id] = cancel
	return true
}

// remove forgets the run id.
func (h *handler) remove(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.runs, id)
}

// refuse answers a request that did not run with code's status and one
// error event saying msg.
func refuse(w http.ResponseWriter, code Code, msg string) {
	w.Header().Set("Content-Type", ndjsonType)
	if code.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "2")
	}
	w.WriteHeader(code.Status)
	b, _ := sandbox.Event{Kind: sandbox.KindError, Reason: code.Reason, Msg: msg}.JSON()
	w.Write(append(b, '\n'))
}
