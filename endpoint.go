package sluice

import (
	"fmt"
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
// kept; the sender turns it into Authorization: Basic. An Azure OpenAI
// deployment's endpoint (IsDeployment) takes the API path without its /v1.
func EndpointURL(endpoint, path string) string {
	base, equery, _ := strings.Cut(endpoint, "?")
	base, _, _ = strings.Cut(base, "#")
	base = strings.TrimSuffix(strings.TrimSuffix(base, "/"), "/v1")
	path, pquery, _ := strings.Cut(path, "?")
	if IsDeployment(base) {
		path = DeploymentPath(path)
	}
	if q := MergeQuery(equery, pquery); q != "" {
		return base + path + "?" + q
	}
	return base + path
}

// HealthURL returns the URL a health or readiness check of endpoint asks
// for: EndpointURL(endpoint, path), but for an Azure OpenAI deployment's
// endpoint (IsDeployment), under which Azure answers no path but the API's,
// its resource's model list, GET …/openai/models with the endpoint's query
// (Azure's data-plane Models - List, answered to the resource's api-key):
// it shows the resource up and the key good, not the deployment itself,
// whose failures passive ejection sees. A deployment's health checks all
// failed, so its version was left out of every split.
func HealthURL(endpoint, path string) string {
	endpoint, _, _ = strings.Cut(endpoint, "#")
	base, query, _ := strings.Cut(endpoint, "?")
	if !IsDeployment(base) {
		return EndpointURL(endpoint, path)
	}
	models := base[:strings.LastIndex(base, "/openai/deployments/")] + "/openai/models"
	if query != "" {
		return models + "?" + query
	}
	return models
}

// IsDeployment reports whether an endpoint's base URL or path (without its
// query) names an Azure OpenAI deployment, .../openai/deployments/NAME:
// Azure serves such a deployment's API under it without the /v1 that
// other servers' paths start with (.../openai/deployments/NAME/chat/completions?api-version=…).
func IsDeployment(base string) bool {
	return strings.Contains(base, "/openai/deployments/")
}

// DeploymentPath returns the API path path (/v1/chat/completions) as a
// deployment's endpoint (IsDeployment) takes it: without its /v1.
func DeploymentPath(path string) string {
	if strings.HasPrefix(path, "/v1/") {
		return path[len("/v1"):]
	}
	return path
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

// callPaths end the URL of an API call, which an endpoint written as the
// URL a curl command or a server's log shows ends with: the OpenAI API's
// paths after /v1, and those of two segments without it.
var callPaths = func() []string {
	api := []string{"/chat/completions", "/completions", "/responses", "/embeddings", "/rerank", "/score", "/moderations", "/images/generations", "/images/edits", "/audio/speech", "/models"}
	var out []string
	for _, p := range api {
		out = append(out, "/v1"+p)
		if strings.Count(p, "/") > 1 {
			out = append(out, p)
		}
	}
	return out
}()

// checkEndpointBase returns a CodeInvalid error when endpoint e of version
// id ends with the path of an API call rather than being a base URL: the
// gateway adds the API path to each request, so a version registered so
// sent every request to /v1/chat/completions/v1/chat/completions, and
// versions are immutable. The message shows the URL without its
// credentials and query.
func checkEndpointBase(id, e string) error {
	u, err := url.Parse(e)
	if err != nil {
		return nil // Version.Validate says why
	}
	path := strings.TrimRight(u.Path, "/")
	for _, call := range callPaths {
		if !strings.HasSuffix(path, call) {
			continue
		}
		shown := url.URL{Scheme: u.Scheme, Host: u.Host, Path: path}
		base := url.URL{Scheme: u.Scheme, Host: u.Host, Path: strings.TrimSuffix(path, call)}
		if strings.HasPrefix(call, "/v1/") {
			base.Path += "/v1"
		}
		kept := ""
		if u.User != nil || u.RawQuery != "" {
			kept = ", keeping its credentials and query"
		}
		again := EndpointURL(shown.String(), "/v1"+strings.TrimPrefix(call, "/v1"))
		return &Error{Code: CodeInvalid, Fields: []string{"endpoints"}, Message: fmt.Sprintf("version %s: endpoint %s ends with %s, the path of an API call, but the gateway adds the API path to each request (such a request would go to %s): write the server's base URL, %s%s", id, shown.String(), call, again, base.String(), kept)}
	}
	return nil
}
