package proxy

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/net/http/httpguts"
)

// BackendHeaders are headers sent with every request to the backends whose
// endpoint URL Match matches: a backend's API key (vLLM's --api-key, a
// hosted endpoint's bearer token) kept in the gateway's configuration
// rather than in the registry, which operators and viewers read.
type BackendHeaders struct {
	// Match is an endpoint URL prefix: a scheme and host (its port the
	// scheme's when left out), and optionally a path. It matches an
	// endpoint with the same scheme and host:port whose path is Match's or
	// lies below it: https://h/openai matches https://h/openai/v1, not
	// https://h/openaix, and https://h never matches https://h.example.
	// The endpoint's credentials and query play no part. Of several that
	// match, the one with the longest path wins.
	Match string
	// Header is set on each request, replacing whatever a client sent
	// under the same names and, for Authorization, the endpoint URL's
	// user:password@.
	Header http.Header
	// TranscriptionStreamUsage adds stream_include_usage=true to the form
	// of a streamed transcription or translation (vLLM's ask for the
	// stream's usage) unless the form has the field.
	TranscriptionStreamUsage bool
}

// Backends is what the proxy, its health checks and a rollout's warm-up
// add to each request to a backend: Authorization: Basic from the
// user:password@ of the endpoint URL (as curl and Go's http.Client send
// it), then the headers of the BackendHeaders that matches the endpoint.
// Set replaces the headers while requests go on (SIGHUP). A nil *Backends
// adds the URL's credentials only.
type Backends struct {
	cur atomic.Pointer[backendRules]
}

// backendRules is one immutable set of BackendHeaders, parsed, with the
// headers worked out for each endpoint asked about (a Set makes new
// rules, and so a new cache).
type backendRules struct {
	rules []backendRule
	mu    sync.Mutex
	cache atomic.Pointer[map[string]http.Header] // copied on write under mu
}

// maxCachedEndpoints bounds the cache of a set of rules: endpoints come
// from the registry, so it is reached only by a registry that keeps
// changing them, and past it the headers are worked out per request.
const maxCachedEndpoints = 4096

type backendRule struct {
	scheme, hostport, path string
	header                 http.Header
	streamUsage            bool // TranscriptionStreamUsage
}

// NewBackends returns Backends that send rules' headers.
func NewBackends(rules []BackendHeaders) (*Backends, error) {
	b := &Backends{}
	if err := b.Set(rules); err != nil {
		return nil, err
	}
	return b, nil
}

// Set replaces the headers with rules'. On an error (which names the rule
// by its index and never quotes a header's value) the headers in force
// stay.
func (b *Backends) Set(rules []BackendHeaders) error {
	r := &backendRules{}
	seen := map[string]int{}
	for i, bh := range rules {
		scheme, hostport, path, err := matchParts(bh.Match)
		if err != nil {
			return fmt.Errorf("backend headers %d: match: %w", i, err)
		}
		key := scheme + "://" + hostport + path
		if j, dup := seen[key]; dup {
			return fmt.Errorf("backend headers %d: match: the same endpoints as backend headers %d; merge their headers into one", i, j)
		}
		seen[key] = i
		h := make(http.Header, len(bh.Header))
		for k, vs := range bh.Header {
			if err := CheckBackendHeader(k, vs); err != nil {
				return fmt.Errorf("backend headers %d: %w", i, err)
			}
			h[http.CanonicalHeaderKey(k)] = slices.Clone(vs)
		}
		r.rules = append(r.rules, backendRule{scheme: scheme, hostport: hostport, path: path, header: h, streamUsage: bh.TranscriptionStreamUsage})
	}
	b.cur.Store(r)
	return nil
}

// load returns the rules in force; nil for a nil b.
func (b *Backends) load() *backendRules {
	if b == nil {
		return nil
	}
	return b.cur.Load()
}

// Header returns the headers a request to endpoint gets, nil when none.
func (b *Backends) Header(endpoint string) http.Header {
	return b.load().header(endpoint)
}

// StreamUsageForm reports whether a streamed transcription's form sent to
// endpoint gets stream_include_usage=true (TranscriptionStreamUsage).
// Asked for streamed audio forms only, so the URL is parsed each time.
func (b *Backends) StreamUsageForm(endpoint string) bool {
	r := b.load()
	if r == nil {
		return false
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	rule := r.match(u)
	return rule != nil && rule.streamUsage
}

// Prepare sets on req, bound for endpoint, the headers Header gives,
// replacing the client's of the same names.
func (b *Backends) Prepare(req *http.Request, endpoint string) {
	for k, vs := range b.Header(endpoint) {
		req.Header[k] = vs
	}
}

func (r *backendRules) header(endpoint string) http.Header {
	if r == nil {
		return makeHeader(nil, endpoint)
	}
	if m := r.cache.Load(); m != nil {
		if h, ok := (*m)[endpoint]; ok {
			return h
		}
	}
	h := makeHeader(r, endpoint)
	r.mu.Lock()
	defer r.mu.Unlock()
	var old map[string]http.Header
	if m := r.cache.Load(); m != nil {
		old = *m
	}
	if len(old) < maxCachedEndpoints {
		next := make(map[string]http.Header, len(old)+1)
		maps.Copy(next, old)
		next[endpoint] = h
		r.cache.Store(&next)
	}
	return h
}

// makeHeader works out Header for endpoint under rules r (nil: none).
func makeHeader(r *backendRules, endpoint string) http.Header {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil
	}
	var h http.Header
	if u.User != nil {
		pw, _ := u.User.Password()
		h = http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pw))}}
	}
	if rule := r.match(u); rule != nil {
		if h == nil {
			h = make(http.Header, len(rule.header))
		}
		for k, vs := range rule.header {
			h[k] = vs
		}
	}
	return h
}

// match returns the rule for the endpoint u: the same scheme and address,
// and the longest path that is u's or above it.
func (r *backendRules) match(u *url.URL) *backendRule {
	if r == nil || len(r.rules) == 0 {
		return nil
	}
	scheme, hostport, path := urlParts(u)
	var best *backendRule
	for i := range r.rules {
		rule := &r.rules[i]
		if rule.scheme != scheme || rule.hostport != hostport {
			continue
		}
		if rule.path != "" && path != rule.path && !strings.HasPrefix(path, rule.path+"/") {
			continue
		}
		if best == nil || len(rule.path) > len(best.path) {
			best = rule
		}
	}
	return best
}

// matchParts parses a BackendHeaders.Match.
func matchParts(match string) (scheme, hostport, path string, err error) {
	u, err := url.Parse(match)
	switch {
	case err != nil:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which the url.Error quotes
		}
		return "", "", "", fmt.Errorf("it does not parse (%v): write an endpoint URL prefix such as https://vllm.internal:8000", err)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return "", "", "", fmt.Errorf("%q is not an http:// or https:// URL with a host: write an endpoint URL prefix such as https://vllm.internal:8000", match)
	case u.User != nil:
		return "", "", "", fmt.Errorf("it holds user:password@: match endpoints by scheme, host and path only, and give credentials in headers")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", "", "", fmt.Errorf("%s holds a query or fragment: match endpoints by scheme, host and path only", u.Scheme+"://"+u.Host+u.EscapedPath())
	}
	scheme, hostport, path = urlParts(u)
	return scheme, hostport, path, nil
}

// urlParts returns u's scheme, its host:port (lower case, the scheme's
// port when it gives none) and its escaped path without a trailing /.
func urlParts(u *url.URL) (scheme, hostport, path string) {
	scheme = strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		port = "80"
		if scheme == "https" {
			port = "443"
		}
	}
	return scheme, net.JoinHostPort(strings.ToLower(u.Hostname()), port), strings.TrimRight(u.EscapedPath(), "/")
}

// CheckBackendHeader checks a header a BackendHeaders sets: a valid name,
// not one the proxy owns (the connection's, the body's length, the
// request id, the shadow mark), and values that are valid and not empty.
// The error names the header and never quotes a value, which is usually a
// secret.
func CheckBackendHeader(name string, values []string) error {
	if !httpguts.ValidHeaderFieldName(name) {
		return fmt.Errorf("header %q is not a valid header name", name)
	}
	c := http.CanonicalHeaderKey(name)
	if skipUpstreamHeader(c) {
		return fmt.Errorf("header %s is set by the proxy itself or belongs to one connection; it cannot be configured", c)
	}
	if len(values) == 0 {
		return fmt.Errorf("header %s has no value", c)
	}
	for _, v := range values {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("header %s: its value is empty (an environment variable set to nothing?)", c)
		}
		if !httpguts.ValidHeaderFieldValue(v) {
			return fmt.Errorf("header %s: its value holds a line break or another control character", c)
		}
	}
	return nil
}
