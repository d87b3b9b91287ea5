package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// sseKeepAlive is how often GET /api/reload writes a comment while nothing
// changes, so that a client gone without a word is noticed and proxies
// do not close an idle stream.
const sseKeepAlive = 25 * time.Second

// handleReload streams the pages' version as server-sent events: an
// initial comment (with the current version as the event ID), then
// "event: reload" with the new version each time Reload runs. A client
// that reconnects with a Last-Event-ID other than the current version
// missed a change (the server restarted, say) and is told to reload at
// once. The stream ends when the client goes or the server shuts down:
// the request's context derives from Serve's base context, which
// shutdown cancels. It is served only with Config.Live.
func (s *Server) handleReload(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.Live {
		s.handleNotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	st := s.site.Load()
	msg := fmt.Sprintf(": racelab live reload\nretry: 1000\nid: %d\n\n", st.version)
	if last := r.Header.Get("Last-Event-ID"); last != "" && last != strconv.FormatUint(st.version, 10) {
		msg = reloadEvent(st.version)
	}
	rc := http.NewResponseController(w)
	keepAlive := time.NewTicker(sseKeepAlive)
	defer keepAlive.Stop()
	for {
		if err := s.sendEvent(w, rc, msg); err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-st.changed:
			st = s.site.Load()
			msg = reloadEvent(st.version)
		case <-keepAlive.C:
			msg = ": still here\n\n"
		}
	}
}

func reloadEvent(version uint64) string {
	return fmt.Sprintf("event: reload\nid: %d\ndata: %d\n\n", version, version)
}

// sendEvent writes msg and flushes it, giving up on a client that reads
// nothing for WriteTimeout.
func (s *Server) sendEvent(w http.ResponseWriter, rc *http.ResponseController, msg string) error {
	if err := rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := io.WriteString(w, msg); err != nil {
		return err
	}
	return rc.Flush()
}
