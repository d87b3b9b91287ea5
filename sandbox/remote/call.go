package remote

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
	"strings"
	"sync/atomic"
	"time"

	"github.com/racelab/racelab/sandbox"
)

// maxEventLine bounds one line of a runner's stream: an asm listing is
// one line.
const maxEventLine = 64 << 20

// try sends the run to t. sent is false when t did not take it (it could
// not be reached, or refused with 503), so that another runner may.
//
// The HTTP request outlives ctx by the stop grace, so that a stopped run
// still sends its last events; a watchdog cuts it when the runner is
// silent, not even a heartbeat, for the idle timeout.
func (c *Client) try(ctx context.Context, t *target, req *sandbox.Request, body []byte, emit func(sandbox.Event)) (sent bool, err error) {
	t.inflight.Add(1)
	defer t.inflight.Add(-1)
	id := newRunID()
	hctx, cut := context.WithCancel(context.WithoutCancel(ctx))
	var idle, late atomic.Bool
	watchdog := time.AfterFunc(c.opt.IdleTimeout, func() { idle.Store(true); cut() })
	defer watchdog.Stop()
	overdue := time.AfterFunc(c.opt.deadline(), func() { late.Store(true); cut() })
	defer overdue.Stop()
	defer c.stopOnDone(ctx, hctx, cut, t, id)()

	resp, err := c.post(hctx, t, id, body)
	if err != nil {
		if ctx.Err() != nil {
			stopped(req, emit)
			return true, nil
		}
		if late.Load() {
			return true, fmt.Errorf("%w: runner %s: no answer by the run's deadline (%v)", sandbox.ErrRunnerLost, t.base, c.opt.deadline())
		}
		if idle.Load() {
			err = fmt.Errorf("no answer in %v", c.opt.IdleTimeout)
		}
		return false, fmt.Errorf("runner %s: %w", t.base, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return false, fmt.Errorf("runner %s: %s: %w", t.base, resp.Status, errorOf(refusal(resp.Body), resp.Status))
	default:
		return true, errorOf(refusal(resp.Body), resp.Status)
	}

	end := read(resp.Body, t, req, watchdog, c.opt.IdleTimeout, emit)
	if late.Load() {
		c.stop(context.WithoutCancel(ctx), t, id) // best effort, within the stop grace
		return true, fmt.Errorf("%w: runner %s: the run went on past its deadline (%v)", sandbox.ErrRunnerLost, t.base, c.opt.deadline())
	}
	switch {
	case end.err != nil:
		return true, end.err
	case end.readErr == nil && !idle.Load() && end.exited:
		// The stream ended cleanly after an exit: the runner's handler
		// returned, the run is over.
		return true, nil
	case ctx.Err() != nil:
		// Stopped, and the runner did not end the stream within the grace.
		if !end.ended {
			stopped(req, emit)
		}
		return true, nil
	}
	t.passOver(c.opt.Cooldown)
	why := end.readErr
	switch {
	case idle.Load():
		why = fmt.Errorf("nothing heard for %v", c.opt.IdleTimeout)
	case why == nil:
		why = errors.New("the stream ended before the run did")
	}
	return true, fmt.Errorf("%w: runner %s: %w", sandbox.ErrRunnerLost, t.base, why)
}

// post sends the run's request to t.
func (c *Client) post(ctx context.Context, t *target, id string, body []byte) (*http.Response, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, t.base+RunPath, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set(RunIDHeader, id)
	hreq.Host = t.host
	return c.hc.Do(hreq)
}

// stopOnDone asks t to stop the run id once ctx is done, and gives it the
// stop grace to end the stream before cut ends the request. The function
// it returns ends the watch (and a stop request still going) and waits
// for it: the caller calls it before it returns.
func (c *Client) stopOnDone(ctx, hctx context.Context, cut context.CancelFunc, t *target, id string) (release func()) {
	var grace *time.Timer
	stopping := make(chan struct{})
	stopWatching := context.AfterFunc(ctx, func() {
		defer close(stopping)
		grace = time.AfterFunc(c.opt.StopGrace, cut)
		c.stop(hctx, t, id)
	})
	return func() {
		cut() // also ends a stop request still going
		if !stopWatching() {
			<-stopping
			grace.Stop()
		}
	}
}

// stop asks t to stop the run id; when it cannot, the grace cuts the
// stream instead.
func (c *Client) stop(ctx context.Context, t *target, id string) {
	ctx, cancel := context.WithTimeout(ctx, c.opt.StopGrace)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, t.base+RunPath+"/"+id, nil)
	if err != nil {
		return
	}
	req.Host = t.host
	if resp, err := c.hc.Do(req); err == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
		resp.Body.Close()
	}
}

// streamEnd is what a runner's stream said by the time it ended.
type streamEnd struct {
	err     error // the run's error, as the runner sent it (an error event)
	readErr error // why reading the stream stopped, nil at its clean end
	exited  bool  // an exit event went out
	ended   bool  // the event that ends the run went out (sandbox.Event.Ends)
}

// read passes the events of a runner's stream to emit until it ends,
// resetting the watchdog at each line, heartbeats included. The watchdog
// times the runner, not emit: a slow reader on this side (a learner's
// slow connection) is not a lost runner.
func read(body io.Reader, t *target, req *sandbox.Request, watchdog *time.Timer, idle time.Duration, emit func(sandbox.Event)) streamEnd {
	var end streamEnd
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventLine)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			watchdog.Reset(idle)
			continue // a heartbeat
		}
		var e sandbox.Event
		if err := json.Unmarshal(line, &e); err != nil {
			end.err = fmt.Errorf("runner %s sent a line that is not an event: %v", t.base, err)
			break
		}
		if e.Kind == sandbox.KindError {
			end.err = errorOf(e, "")
			continue
		}
		end.exited = end.exited || e.Kind == sandbox.KindExit
		end.ended = end.ended || e.Ends(req)
		watchdog.Stop()
		emit(e)
		watchdog.Reset(idle)
	}
	end.readErr = sc.Err()
	return end
}

// refusal reads the one error event of a refused request.
func refusal(r io.Reader) sandbox.Event {
	var e sandbox.Event
	b, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	if json.Unmarshal(bytes.TrimSpace(b), &e) != nil || e.Kind != sandbox.KindError {
		e = sandbox.Event{Kind: sandbox.KindError, Reason: sandbox.ReasonInternal, Msg: strings.TrimSpace(string(b))}
	}
	return e
}

// stopped ends the stream of a run stopped before its runner could say
// so itself: with a canceled exit and, as a repeated request always ends,
// a summary (of no runs: none finished as far as this side knows).
func stopped(req *sandbox.Request, emit func(sandbox.Event)) {
	exit := sandbox.Event{Kind: sandbox.KindExit, Code: -1, Reason: sandbox.ReasonCanceled, Msg: "The run was stopped before it finished."}
	emit(exit)
	if !exit.Ends(req) {
		emit(sandbox.Event{Kind: sandbox.KindSummary, Summary: &sandbox.Summary{Reasons: map[sandbox.Reason]int{}, Codes: map[string]int{}}})
	}
}

// newRunID returns a run id no one can guess, for Racelab-Run-Id.
func newRunID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
