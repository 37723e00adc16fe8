package config

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// Backend gives the headers sent with every request to the backends whose
// endpoint URL Match matches (key backends): a model server's API key, kept
// in the gateway's configuration (usually "Bearer ${VLLM_API_KEY}") rather
// than in the registry, which viewers and operators read.
type Backend struct {
	// Match is an endpoint URL prefix: scheme and host (the scheme's port
	// when left out), optionally a path. It matches endpoints with the same
	// scheme and host:port whose path is its path or lies below it;
	// the longest path of those that match wins.
	Match string `yaml:"match"`
	// Headers are set on every request to those endpoints (live, retried,
	// mirrored, by id, health checks, warm-ups), replacing a client's
	// header of the same name and the endpoint URL's user:password@.
	Headers map[string]string `yaml:"headers"`
	// TranscriptionStreamUsage adds stream_include_usage=true to the form
	// of a streamed transcription or translation sent to those endpoints
	// (unless the client's form has the field): vLLM sends a stream's
	// usage only when the form asks for it, and a backend that rejects
	// fields it does not know is not sent it unless so configured.
	TranscriptionStreamUsage bool `yaml:"transcription_stream_usage"`
}

// ownedHeaders are the headers the proxy sets itself or that belong to one
// connection (proxy's skipUpstreamHeader; a server test keeps the two
// equal): a backends entry cannot set them.
var ownedHeaders = []string{"Host", "Content-Length", "X-Request-Id", "Connection", "Proxy-Connection", "Keep-Alive",
	"Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	"Accept-Encoding", "X-Sluice-Version", "X-Sluice-Shadow"}

// OwnedBackendHeaders returns the header names a backends entry cannot set.
func OwnedBackendHeaders() []string { return append([]string(nil), ownedHeaders...) }

// validateBackends checks the backends key. Its messages never quote a
// header's value: it is usually a secret.
func (g *Gateway) validateBackends() error {
	seen := map[string]int{}
	for i, b := range g.Backends {
		at := fmt.Sprintf("backends[%d]", i)
		key, err := backendMatchKey(b.Match)
		if err != nil {
			return fmt.Errorf("%s.match: %w", at, err)
		}
		if j, dup := seen[key]; dup {
			return fmt.Errorf("%s.match: matches the same endpoints as backends[%d]; put their headers in one entry", at, j)
		}
		seen[key] = i
		if len(b.Headers) == 0 && !b.TranscriptionStreamUsage {
			return fmt.Errorf("%s.headers: give at least one header, such as {Authorization: \"Bearer ${VLLM_API_KEY}\"} (or transcription_stream_usage: true)", at)
		}
		names := make([]string, 0, len(b.Headers))
		for k := range b.Headers {
			names = append(names, k)
		}
		sort.Strings(names)
		canon := map[string]string{}
		for _, k := range names {
			v := b.Headers[k]
			if !httpguts.ValidHeaderFieldName(k) {
				return fmt.Errorf("%s.headers: %q is not a valid header name", at, k)
			}
			c := http.CanonicalHeaderKey(k)
			if other, dup := canon[c]; dup {
				return fmt.Errorf("%s.headers: %s and %s are the same header; give it once", at, other, k)
			}
			canon[c] = k
			for _, o := range ownedHeaders {
				if c == o {
					return fmt.Errorf("%s.headers.%s: set by the gateway itself or belonging to one connection; it cannot be configured", at, k)
				}
			}
			if strings.TrimSpace(v) == "" {
				return fmt.Errorf("%s.headers.%s: the value is empty (an environment variable set to nothing, or an empty file?)", at, k)
			}
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("%s.headers.%s: the value holds a line break or another control character", at, k)
			}
		}
	}
	return nil
}

// backendMatchKey checks a backends entry's match and returns what it
// matches, normalised: scheme://host:port/path.
func backendMatchKey(match string) (string, error) {
	u, err := url.Parse(match)
	switch {
	case err != nil:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("it does not parse (%v); write an endpoint URL prefix such as https://vllm.internal:8000", err)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return "", fmt.Errorf("%q is not an http:// or https:// URL with a host; write an endpoint URL prefix such as https://vllm.internal:8000", match)
	case u.User != nil:
		return "", fmt.Errorf("it holds user:password@; match endpoints by scheme, host and path, and give credentials under headers")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", fmt.Errorf("%s holds a query or fragment; match endpoints by scheme, host and path only", u.Scheme+"://"+u.Host+u.EscapedPath())
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return u.Scheme + "://" + strings.ToLower(u.Hostname()) + ":" + port + strings.TrimRight(u.EscapedPath(), "/"), nil
}
