package proxy_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// keyMetrics returns the samples of the per-key metrics p exports, one
// line each, sorted.
func keyMetrics(t *testing.T, p *proxy.Proxy) []string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(p.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "sluice_client_key_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			got = append(got, fmt.Sprintf("%s{%s} %g", mf.GetName(), strings.Join(labels, ","), m.GetCounter().GetValue()))
		}
	}
	slices.Sort(got)
	return got
}

// TestKeyUsage_Refused: the per-key counters counted only the requests
// that reached a backend, so a key's 403s (a model it may not use), its
// 429s (over its rate limit) and its unknown models were nowhere on
// /metrics; a team reading "429s per key" saw none. Now every request a
// key sends is counted with the status it got. The model label is the
// model only when the gateway serves it (a client's made-up names would
// grow the series without bound), else empty, as for a 429 refused before
// the body is read. A request with no key or an unknown one has no key
// name to count under: it is counted by reason, never by what it sent.
func TestKeyUsage_Refused(t *testing.T) {
	be := MustBackend(t, fakellm.Config{})
	const scoped, open, other = "sk-scoped-0123456789", "sk-open-0123456789", "sk-other-0123456789"
	frozen := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	ks, err := proxy.NewKeySet([]proxy.ClientKey{
		{Name: "scoped", Hash: sluice.HashSecret(scoped), Models: []string{"chat"}, RateLimit: 1, Burst: 1},
		{Name: "open", Hash: sluice.HashSecret(open)},
		{Name: "other", Hash: sluice.HashSecret(other), Models: []string{"embed"}},
	}, nil, func() time.Time { return frozen })
	if err != nil {
		t.Fatal(err)
	}
	p := proxy.New(proxy.Options{Routes: MustRoutes(t, be.URL(), ""), Admit: ks.Admit, ForceAllowed: ks.ForceAllowed})
	srv := httptest.NewServer(ks.Wrap(p))
	t.Cleanup(func() { p.Close(); srv.Close() })
	ctx := context.Background()
	call := func(key, model string, want int) {
		t.Helper()
		c := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
		_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: model,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
		got := 200
		if err != nil {
			got, _ = apiStatus(t, err)
		}
		if got != want {
			t.Fatalf("%s asking for %q: %d (%v), want %d", key, model, got, err, want)
		}
	}
	call(scoped, "gpt-4o", 403) // not its model, nor one served here: no token spent
	call(scoped, "chat", 200)
	call(scoped, "chat", 429) // its one request a second is spent
	call(open, "nosuch", 404)
	call(open, "chat:v9", 404)
	call(other, "chat", 403)
	if resp, body := post(t, srv.URL, "/v1/chat/completions", `{"model":`, "Authorization", "Bearer "+open); resp.StatusCode != 400 {
		t.Fatalf("a broken body: %d %s", resp.StatusCode, body)
	}
	if resp, _ := post(t, srv.URL, "/v1/chat/completions", `{"model":"chat"}`); resp.StatusCode != 401 {
		t.Fatalf("no key: %d", resp.StatusCode)
	}
	for range 2 {
		if resp, _ := post(t, srv.URL, "/v1/chat/completions", `{"model":"chat"}`, "Authorization", "Bearer sk-made-up-model-name"); resp.StatusCode != 401 {
			t.Fatalf("an unknown key: %d", resp.StatusCode)
		}
	}

	want := []string{
		"sluice_client_key_refused_total{reason=budget_exceeded} 0",
		"sluice_client_key_refused_total{reason=expired_key} 0",
		"sluice_client_key_refused_total{reason=expired_token} 0",
		"sluice_client_key_refused_total{reason=feedback_waits} 0",
		"sluice_client_key_refused_total{reason=no_key} 1",
		"sluice_client_key_refused_total{reason=revoked_key} 0",
		"sluice_client_key_refused_total{reason=rotated_key} 0",
		"sluice_client_key_refused_total{reason=store_unavailable} 0",
		"sluice_client_key_refused_total{reason=unknown_key} 2",
		"sluice_client_key_refused_total{reason=viewer_token} 0",
		"sluice_client_key_requests_total{code=200,key=scoped,model=chat} 1",
		"sluice_client_key_requests_total{code=400,key=open,model=} 1",
		"sluice_client_key_requests_total{code=403,key=other,model=chat} 1",
		"sluice_client_key_requests_total{code=403,key=scoped,model=} 1",
		"sluice_client_key_requests_total{code=404,key=open,model=chat} 1",
		"sluice_client_key_requests_total{code=404,key=open,model=} 1",
		"sluice_client_key_requests_total{code=429,key=scoped,model=} 1",
	}
	var got []string
	for _, l := range keyMetrics(t, p) {
		if !strings.HasPrefix(l, "sluice_client_key_tokens_total") && !strings.HasPrefix(l, "sluice_client_key_estimated_tokens_total") {
			got = append(got, l)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("per-key counters:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
