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
	"unicode/utf8"

	"github.com/tidwall/gjson"

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

// WarmupResult is what a warm-up that passed says of its requests: the
// stored rollout keeps it (Rollout.Warmup) from the warm-up's end to its
// "warmed" event.
type WarmupResult = sluice.WarmupTally

// WarmReporter is a Warmer that also says, when its warm-up passes, how
// many of its requests failed within the spec's MaxFailures: the
// controller puts that on the timeline's "warmed" event. HTTPWarmer is
// one; a Warmer that is not one reports nothing.
type WarmReporter interface {
	Warmer
	WarmReport(ctx context.Context, v *sluice.Version, spec sluice.WarmupSpec) (WarmupResult, error)
}

var _ WarmReporter = (*HTTPWarmer)(nil)

// Warm implements Warmer.
func (w *HTTPWarmer) Warm(ctx context.Context, v *sluice.Version, spec sluice.WarmupSpec) error {
	_, err := w.WarmReport(ctx, v, spec)
	return err
}

// WarmReport implements WarmReporter: up to spec.MaxFailures warm-up
// requests may fail; one more ends the warm-up at once, failed, as does
// any failed readiness check (the backend must be up to be warmed).
func (w *HTTPWarmer) WarmReport(ctx context.Context, v *sluice.Version, spec sluice.WarmupSpec) (WarmupResult, error) {
	var res WarmupResult
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
		req, _ := http.NewRequestWithContext(rctx, http.MethodGet, sluice.HealthURL(ep, hp), nil)
		prepare(req, ep)
		resp, err := client.Do(req)
		cancel()
		if err != nil {
			return res, fmt.Errorf("readiness check of %s failed: %v: start the backend or fix the version's endpoint", sluice.RedactEndpoint(base+hp), redactURLError(err))
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return res, fmt.Errorf("readiness check of %s answered %d: the backend is not ready", sluice.RedactEndpoint(base+hp), resp.StatusCode)
		}
	}
	if spec.Skip || spec.Requests <= 0 {
		return res, nil
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
		var failed string // how this request failed, "" if it did not
		if err != nil {
			failed = fmt.Sprintf("failed: %v", redactURLError(err))
		} else {
			refused := refusedByBackend(resp.StatusCode)
			var said string
			if refused {
				said = backendSaid(resp.Body)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				failed = fmt.Sprintf("answered %d", resp.StatusCode)
			}
			if refused {
				cancel()
				if said != "" {
					failed += " (" + said + ")"
				}
				// The request's own fault: every request meets it alike, so
				// no allowance covers it and no other one is sent.
				return res, fmt.Errorf("warm-up request %d of %d to %s %s: the backend refuses the request itself, which no retry changes, so warmup.max_failures does not cover it: check the version's upstream_model (sent as %q) and the backend's credentials (the config's backends)",
					i+1, spec.Requests, sluice.RedactEndpoint(ep), failed, v.Upstream())
			}
		}
		cancel()
		res.Requests++
		if failed == "" {
			lat = append(lat, time.Since(start))
			continue
		}
		this := fmt.Sprintf("warm-up request %d of %d to %s %s", i+1, spec.Requests, sluice.RedactEndpoint(ep), failed)
		if ctx.Err() != nil {
			// Stopped (an abort, a lost lead) or out of the warm-up's
			// time: no allowance covers that.
			return res, errors.New(this)
		}
		res.Failed++
		if res.FirstFailure == "" {
			res.FirstFailure = fmt.Sprintf("request %d to %s %s", i+1, sluice.RedactEndpoint(ep), failed)
		}
		switch {
		case spec.MaxFailures <= 0:
			return res, fmt.Errorf("%s (warmup.max_failures is 0: raise it to let a backend's transient errors at start pass)", this)
		case res.Failed > spec.MaxFailures:
			return res, fmt.Errorf("%s: %d warm-up requests failed, more than warmup.max_failures %d allows (the first: %s)", this, res.Failed, spec.MaxFailures, res.FirstFailure)
		}
	}
	if len(lat) == 0 {
		// Validate keeps MaxFailures below Requests; a spec that got
		// past it still needs one answer to pass.
		return res, fmt.Errorf("none of the %d warm-up requests succeeded (the first: %s)", res.Requests, res.FirstFailure)
	}
	slices.Sort(lat)
	p95 := lat[(len(lat)*95+99)/100-1]
	if p95 > budget {
		return res, fmt.Errorf("warm-up p95 latency %s is above the %s budget: the candidate is too slow to take traffic", p95.Round(time.Millisecond), budget)
	}
	return res, nil
}

// refusedByBackend reports whether a warm-up request's status says the
// request itself is at fault (a model name the backend does not serve,
// credentials it refuses, a body it rejects): a 4xx other than 408 and 429,
// which a slow or busy backend answers and may not answer again.
func refusedByBackend(status int) bool {
	return status/100 == 4 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests
}

// backendSaid is the message of a backend's error answer (OpenAI's
// error.message, older vLLM's message, TGI's error, FastAPI's detail), on
// one line and at most 200 bytes, or "" when it holds none.
func backendSaid(body io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(body, 16<<10))
	if !gjson.ValidBytes(b) {
		return ""
	}
	var msg string
	for _, path := range []string{"error.message", "message", "error", "detail"} {
		if m := gjson.GetBytes(b, path); m.Type == gjson.String && m.Str != "" {
			msg = m.Str
			break
		}
	}
	msg = strings.Join(strings.Fields(strings.ToValidUTF8(msg, "\uFFFD")), " ")
	if len(msg) > 200 {
		i := 200
		for i > 0 && !utf8.RuneStart(msg[i]) {
			i--
		}
		msg = msg[:i] + "…"
	}
	return msg
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
