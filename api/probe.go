package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
)

// ProbeBudget bounds the time an apply spends probing the endpoints it
// added, all of them together: the answer waits for it.
const ProbeBudget = 4 * time.Second

// probeParallel is how many endpoints an apply probes at once.
const probeParallel = 16

// EndpointWarning is an endpoint an apply added that did not answer its
// probe. The apply stands (a backend may be started after its version is
// registered); requests pinned to the version fail until it answers.
type EndpointWarning struct {
	// Version is the version id (model:tag) the endpoint serves.
	Version string `json:"version"`
	// Endpoint is the endpoint as registered.
	Endpoint string `json:"endpoint"`
	// Tried is the URL requested: the health check's.
	Tried string `json:"tried"`
	// Error is what went wrong: the connection's error or the status.
	Error string `json:"error"`
	// Message says it in a sentence, with what follows.
	Message string `json:"message"`
	// notServed is set when the endpoint answered the health check's path
	// with a 404 or 405: up, but health.path is not one it serves.
	notServed bool
}

// HTTPProbe returns a probe that requests an endpoint's health path as the
// health checker does (sluice.EndpointURL: the endpoint's trailing / and
// /v1 dropped, the path appended before the endpoint's query, which it
// keeps; 2xx is up, redirects not followed), within timeout, with the
// headers prepare sets for the endpoint (the backends' credentials; nil
// for none). It returns the URL it tried, its secrets redacted, and, when
// the endpoint did not answer with a 2xx, why. Appending the path to the
// whole endpoint glued it to an Azure-style endpoint's last query value,
// so the server answered 404 and the apply warned of a path it serves.
func HTTPProbe(path string, timeout time.Duration, prepare func(req *http.Request, endpoint string)) func(ctx context.Context, endpoint string) (string, error) {
	if path == "" {
		path = "/health"
	}
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	client := &http.Client{Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return func(ctx context.Context, endpoint string) (string, error) {
		url := sluice.HealthURL(endpoint, path)
		tried := sluice.RedactEndpoint(url)
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return tried, err
		}
		if prepare != nil {
			prepare(req, endpoint)
		}
		resp, err := client.Do(req)
		if err != nil {
			var ue interface{ Unwrap() error }
			if errors.As(err, &ue) && ue.Unwrap() != nil {
				err = ue.Unwrap() // the url.Error repeats the URL
			}
			if errors.Is(err, context.DeadlineExceeded) {
				return tried, fmt.Errorf("no answer within %s", timeout)
			}
			return tried, err
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return tried, &probeStatusError{code: resp.StatusCode, status: resp.Status}
		}
		return tried, nil
	}
}

// probeStatusError is HTTPProbe's error for an endpoint that answered, but
// not with a 2xx.
type probeStatusError struct {
	code   int
	status string
}

func (e *probeStatusError) Error() string { return "answered " + e.status }

// pathNotServed reports whether err says the server answered the probe's
// path as one it does not serve (404, 405): it is up, and the health
// check's path is the setting to change (Ollama has no /health).
func pathNotServed(err error) bool {
	var se *probeStatusError
	return errors.As(err, &se) && (se.code == http.StatusNotFound || se.code == http.StatusMethodNotAllowed)
}

// endpointsOf returns the endpoints of reg's versions.
func endpointsOf(reg *sluice.Registry) map[string]bool {
	out := map[string]bool{}
	for _, v := range reg.Versions {
		for _, e := range v.Endpoints {
			out[e] = true
		}
	}
	return out
}

// probeAdded probes once each endpoint of doc's versions that is not in
// known (the endpoints before the apply), concurrently and within
// ProbeBudget, and returns a warning for each that did not answer.
func (s *Server) probeAdded(ctx context.Context, known map[string]bool, doc sluice.ApplyDoc) []EndpointWarning {
	if s.probe == nil {
		return nil
	}
	type target struct{ version, endpoint string }
	var targets []target
	for _, m := range doc.Models {
		for _, v := range m.Versions {
			for _, e := range v.Endpoints {
				if !known[e] {
					known[e] = true // once, whichever versions share it
					targets = append(targets, target{m.Name + ":" + v.Version, e})
				}
			}
		}
	}
	if len(targets) == 0 {
		return nil
	}
	// The apply has committed: the client hanging up does not undo it, and
	// the probes are only advice, so they keep to their own budget.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ProbeBudget)
	defer cancel()
	warnings := make([]*EndpointWarning, len(targets))
	sem := make(chan struct{}, probeParallel)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				warnings[i] = &EndpointWarning{Version: t.version, Endpoint: t.endpoint, Error: "not probed within the apply's " + ProbeBudget.String()}
				return
			}
			tried, err := s.probe(ctx, t.endpoint)
			if err != nil {
				warnings[i] = &EndpointWarning{Version: t.version, Endpoint: t.endpoint, Tried: tried, Error: err.Error(), notServed: pathNotServed(err)}
			}
		}()
	}
	wg.Wait()
	var out []EndpointWarning
	for _, w := range warnings {
		if w == nil {
			continue
		}
		tried := "it"
		if w.Tried != "" {
			tried = "GET " + w.Tried
		}
		if base, _, _ := strings.Cut(w.Endpoint, "?"); w.notServed && w.Tried != "" && sluice.IsDeployment(base) {
			// health.path is not asked of a deployment (sluice.HealthURL):
			// naming it would send the user to a setting that does nothing.
			w.Message = string(RedactURLs(fmt.Appendf(nil, "warning: endpoint %s of %s answered %s with %s: an Azure OpenAI deployment's health is asked of its resource's model list, which this server does not serve, "+
				"so the health checker will find it down and keep it out of the split; the apply stands: let GET …/openai/models?api-version=… through to the resource (a proxy in front of it may not route it), "+
				"or write the endpoint as the resource's v1 API, …/openai/v1, with health.path: /v1/models",
				w.Endpoint, w.Version, tried, strings.TrimPrefix(w.Error, "answered "))))
			out = append(out, *w)
			continue
		}
		if w.notServed && w.Tried != "" {
			w.Message = string(RedactURLs(fmt.Appendf(nil, "warning: endpoint %s of %s answered %s with %s: the server is up but does not serve the health check's path, so the health checker will find it down and keep it out of the split; the apply stands: set health.path in the gateway's config to a path its servers answer with a 2xx (every OpenAI-compatible server serves /v1/models; vLLM, TGI and llama.cpp serve /health)",
				w.Endpoint, w.Version, tried, strings.TrimPrefix(w.Error, "answered "))))
			out = append(out, *w)
			continue
		}
		w.Message = string(RedactURLs(fmt.Appendf(nil, "warning: endpoint %s of %s did not answer (%s: %s); the apply stands, and the health checker keeps it out of the split while it fails, but requests pinned to %s fail until it answers: check the backend is started and reachable from the gateway",
			w.Endpoint, w.Version, tried, w.Error, w.Version)))
		out = append(out, *w)
	}
	return out
}
