package server

import (
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
)

// The refusals of requests that a browser was made to send by another
// site: wrapped by the errors below, and mapped to their statuses by
// codes (see run.go).
var (
	// errUnknownHost: the Host is a name this server was not told is its
	// own. A page of an attacker's site whose name was rebound to the
	// server's address (DNS rebinding) is refused this way.
	errUnknownHost = errors.New("unknown host")
	// errCrossSite: a page of another site sent the request (cross-site
	// request forgery).
	errCrossSite = errors.New("cross-site request")
	// errNotJSON: a POST /api/run body that is not declared JSON, which a
	// page of another site could send without the browser asking first.
	errNotJSON = errors.New("not JSON")
)

// hostError is the refusal of a Host that is not one of the server's names.
type hostError struct{ host string }

func (e *hostError) Unwrap() error { return errUnknownHost }

// Error names the host and the flag that would serve it.
func (e *hostError) Error() string {
	name := hostName(e.host)
	return fmt.Sprintf("racelab does not answer to the host name %q. If that is its name, start it with --host %s "+
		"(or RACELAB_HOST=%s); without it, it answers only to localhost and to IP addresses.", clip(e.host), clip(name), clip(name))
}

// crossSiteError is the refusal of a request sent by another site's page.
type crossSiteError struct{ from string }

func (e *crossSiteError) Unwrap() error { return errCrossSite }

// Error says what was refused, and why.
func (e *crossSiteError) Error() string {
	return fmt.Sprintf("This request comes from a page of another site (%s). racelab runs code only for its own pages: open the lesson on this server and run it there.", clip(e.from))
}

// notJSONError is the refusal of a body not declared as JSON.
type notJSONError struct{ contentType string }

func (e *notJSONError) Unwrap() error { return errNotJSON }

// Error says what to send.
func (e *notJSONError) Error() string {
	return fmt.Sprintf("POST /api/run takes the request as JSON: send it with Content-Type: application/json (this one has %q).", clip(e.contentType))
}

// clip shortens s, taken from a request, for a message.
func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}

// browser registers h for pattern, behind the check of the Host every
// route a browser uses has: only this server's names are served.
func (s *Server) browser(pattern string, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := s.checkHost(r.Host); err != nil {
			s.refuse(w, r, err)
			return
		}
		h(w, r)
	})
}

// ownPage wraps a run endpoint: it serves only requests that are not
// sent by another site's page.
func (s *Server) ownPage(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := sameOrigin(r); err != nil {
			s.refuse(w, r, err)
			return
		}
		h(w, r)
	}
}

// refuse answers a request refused before it was served: with an error
// event on the API (see writeError), in plain words on a page.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, err error) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		s.writeError(w, err)
		return
	}
	e := s.classify(err)
	http.Error(w, e.msg, e.code.Status)
}

// checkHost returns nil when the server answers to host (a Host header):
// loopback names and IP addresses, which no other site can rebind, and
// the names given in Config.Hosts.
func (s *Server) checkHost(host string) error {
	name := hostName(host)
	if _, err := netip.ParseAddr(name); err == nil || strings.EqualFold(name, "localhost") {
		return nil
	}
	for _, h := range s.cfg.Hosts {
		if strings.EqualFold(name, h) {
			return nil
		}
	}
	return &hostError{host: host}
}

// hostName returns the name of a Host header: without its port, and an
// IPv6 address without its brackets.
func hostName(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
}

// hostPattern is a DNS name, as --host takes it.
var hostPattern = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)

// CheckHostName refuses a name that Config.Hosts cannot hold: one that is
// not a DNS name (a URL, a name with a port, a pattern).
func CheckHostName(name string) error {
	if len(name) > 253 || !hostPattern.MatchString(name) {
		return fmt.Errorf("%q is not a host name: give the name learners type in the address bar, such as racelab.example.org, without a scheme, port or path", clip(name))
	}
	return nil
}

// sameOrigin returns nil unless r was sent by a page of another site: a
// browser says so in Sec-Fetch-Site, or in an Origin that is not this
// server's (a scheme of http or https and the Host the request was sent to).
// A request with neither header comes from no page (curl, a script).
func sameOrigin(r *http.Request) error {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return &crossSiteError{from: "Sec-Fetch-Site: cross-site"}
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.EqualFold(withoutDefaultPort(u.Host, u.Scheme), withoutDefaultPort(r.Host, u.Scheme)) {
		return &crossSiteError{from: "Origin: " + origin}
	}
	return nil
}

// withoutDefaultPort returns host without the port that scheme implies.
func withoutDefaultPort(host, scheme string) string {
	if scheme == "http" {
		return strings.TrimSuffix(host, ":80")
	}
	return strings.TrimSuffix(host, ":443")
}

// jsonBody refuses a body not declared as JSON (Content-Type), the one
// kind a page of another site cannot send without the browser asking
// this server first, which it does not allow.
func jsonBody(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if t, _, err := mime.ParseMediaType(ct); err != nil || t != "application/json" {
		return &notJSONError{contentType: ct}
	}
	return nil
}
