package sluice

import (
	"net/url"
	"strings"
)

// EndpointURL returns the URL of path at the backend whose base URL is
// endpoint (one of a version's endpoints). path is an API path such as
// /v1/chat/completions or /health, and may hold a query of its own. It goes
// after the endpoint's path, less a trailing /v1 (an endpoint is written
// with or without it, as OpenAI clients take a base URL), and before the
// endpoint's query: Azure OpenAI's ?api-version=, a signed URL's ?sig=. The
// two queries are merged (MergeQuery). The endpoint's user:password@ is
// kept; the sender turns it into Authorization: Basic.
func EndpointURL(endpoint, path string) string {
	base, equery, _ := strings.Cut(endpoint, "?")
	base, _, _ = strings.Cut(base, "#")
	base = strings.TrimSuffix(strings.TrimSuffix(base, "/"), "/v1")
	path, pquery, _ := strings.Cut(path, "?")
	if q := MergeQuery(equery, pquery); q != "" {
		return base + path + "?" + q
	}
	return base + path
}

// MergeQuery returns the raw query of an endpoint, endpoint, followed by the
// parameters of the raw query of a request to it, request, that the
// endpoint does not set: a client cannot replace the endpoint's api-version
// or signature.
func MergeQuery(endpoint, request string) string {
	endpoint, _, _ = strings.Cut(endpoint, "#")
	if request == "" || endpoint == "" {
		return endpoint + request
	}
	set := map[string]bool{}
	for _, p := range strings.Split(endpoint, "&") {
		set[queryName(p)] = true
	}
	var b strings.Builder
	b.WriteString(endpoint)
	for _, p := range strings.Split(request, "&") {
		if p != "" && !set[queryName(p)] {
			b.WriteByte('&')
			b.WriteString(p)
		}
	}
	return b.String()
}

// queryName returns the unescaped name of the query parameter p ("name=value").
func queryName(p string) string {
	name, _, _ := strings.Cut(p, "=")
	if n, err := url.QueryUnescape(name); err == nil {
		return n
	}
	return name
}
