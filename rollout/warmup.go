package rollout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
)

// DefaultWarmupPrompts are sent when a warm-up spec gives none.
var DefaultWarmupPrompts = []string{
	"Say hello in one short sentence.",
	"What is 12 times 7?",
	"Summarise in five words: the quick brown fox jumps over the lazy dog.",
}

// HTTPWarmer checks each endpoint's health path, then sends the warm-up
// requests to the candidate's backends directly (not through the gateway,
// so no user traffic is involved) and checks their p95 latency against the
// budget.
type HTTPWarmer struct {
	// Client sends the requests; nil means a client that follows no
	// redirects.
	Client *http.Client
	// HealthPath is the readiness path; default /health.
	HealthPath string
	// Prepare, if set, is given each request with the endpoint it is
	// for, to add what the backend wants besides the URL's credentials
	// (the gateway's configured backend headers: proxy.Backends.Prepare).
	Prepare func(req *http.Request, endpoint string)
}

// Warm implements Warmer.
func (w *HTTPWarmer) Warm(ctx context.Context, v *sluice.Version, spec sluice.WarmupSpec) error {
	client := w.Client
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	hp := w.HealthPath
	if hp == "" {
		hp = "/health"
	}
	prepare := func(req *http.Request, ep string) {
		if w.Prepare != nil {
			w.Prepare(req, ep)
		}
	}
	for _, ep := range v.Endpoints {
		base := baseURL(ep)
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		req, _ := http.NewRequestWithContext(rctx, http.MethodGet, sluice.EndpointURL(ep, hp), nil)
		prepare(req, ep)
		resp, err := client.Do(req)
		cancel()
		if err != nil {
			return fmt.Errorf("readiness check of %s failed: %v: start the backend or fix the version's endpoint", sluice.RedactEndpoint(base+hp), redactURLError(err))
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("readiness check of %s answered %d: the backend is not ready", sluice.RedactEndpoint(base+hp), resp.StatusCode)
		}
	}
	if spec.Skip || spec.Requests <= 0 {
		return nil
	}
	prompts := spec.Prompts
	if len(prompts) == 0 {
		prompts = DefaultWarmupPrompts
	}
	budget := spec.LatencyBudget.D()
	if budget <= 0 {
		budget = 30 * time.Second
	}
	var lat []time.Duration
	for i := 0; i < spec.Requests; i++ {
		raw := v.Endpoints[i%len(v.Endpoints)]
		ep := baseURL(raw)
		body, _ := json.Marshal(map[string]any{
			"model":      v.Upstream(),
			"messages":   []map[string]string{{"role": "user", "content": prompts[i%len(prompts)]}},
			"max_tokens": 16,
		})
		rctx, cancel := context.WithTimeout(ctx, 2*budget)
		req, _ := http.NewRequestWithContext(rctx, http.MethodPost, sluice.EndpointURL(raw, "/v1/chat/completions"), bytes.NewReader(body))
		prepare(req, raw)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Sluice-Warmup", "1")
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			cancel()
			return fmt.Errorf("warm-up request %d of %d to %s failed: %v", i+1, spec.Requests, sluice.RedactEndpoint(ep), redactURLError(err))
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		cancel()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("warm-up request %d of %d to %s answered %d", i+1, spec.Requests, sluice.RedactEndpoint(ep), resp.StatusCode)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	p95 := lat[(len(lat)*95+99)/100-1]
	if p95 > budget {
		return fmt.Errorf("warm-up p95 latency %s is above the %s budget: the candidate is too slow to take traffic", p95.Round(time.Millisecond), budget)
	}
	return nil
}

// redactURLError is err with the URL an *url.Error quotes redacted
// (sluice.RedactEndpoint): net/http masks a password there, but not the
// user, nor a secret in the query.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		c := *ue
		c.URL = sluice.RedactEndpoint(c.URL)
		return &c
	}
	return err
}

// baseURL is ep as the warm-up's errors name it: without its query, whose
// parameters may be secrets (?sig=).
func baseURL(ep string) string {
	ep, _, _ = strings.Cut(ep, "?")
	ep = strings.TrimSuffix(ep, "/")
	return strings.TrimSuffix(ep, "/v1")
}
