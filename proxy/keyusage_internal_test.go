package proxy

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice"
)

// The request log and the per-key counters name a client key, never a
// token: an operator's token (force or not) and no key at all are "".
func TestClientKeyName(t *testing.T) {
	const secret = "sk-team-a-0123456789abcdef"
	ks, err := NewKeySet([]ClientKey{{Name: "team-a", Hash: sluice.HashSecret(secret)}}, func(_ context.Context, s string) (bool, error) {
		switch s {
		case "operator-token-force":
			return true, nil
		case "operator-token":
			return false, nil
		}
		return false, ErrUnknownKey
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for bearer, want := range map[string]string{secret: "team-a", "operator-token-force": "", "operator-token": ""} {
		var got *string
		h := ks.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s := clientKeyName(r); got = &s }))
		r := httptest.NewRequest("POST", "/v1/chat/completions", nil)
		r.Header.Set("Authorization", "Bearer "+bearer)
		h.ServeHTTP(httptest.NewRecorder(), r)
		if got == nil || *got != want {
			t.Errorf("Bearer %s: client key %v, want %q", bearer, got, want)
		}
	}
	if got := clientKeyName(httptest.NewRequest("POST", "/v1/chat/completions", nil)); got != "" {
		t.Errorf("without client keys: %q", got)
	}
}

// Proxy.record counts a key's requests once each (not the attempt retried
// on stable), by model and status, and sums tokens over statuses; the
// tokens the gateway estimated (an answer without usage) are in the sums
// and counted apart too, so a dashboard can tell them from the backends'.
func TestKeyUsage_Record(t *testing.T) {
	p := New(Options{})
	defer p.Close()
	for _, o := range []sluice.Observation{
		{ClientKey: "team-a", Model: "chat", Status: 200, InputTokens: 10, OutputTokens: 5},
		{ClientKey: "team-a", Model: "chat", Status: 502, ErrorClass: "upstream_5xx", Retried: true},
		{ClientKey: "team-a", Model: "chat", Status: 200, InputTokens: 7, OutputTokens: 3},
		{ClientKey: "team-a", Model: "chat", Status: 429, InputTokens: 2},
		{ClientKey: "team-b", Model: "embed", Status: 200, InputTokens: 100},
		{ClientKey: "team-a", Model: "chat", Status: 200, ErrorClass: "canceled", InputTokens: 6, OutputTokens: 4, TokensEstimated: true},
		{Model: "chat", Status: 200, InputTokens: 1000, OutputTokens: 1000}, // no key
	} {
		p.record(&o, o.Model+":v1")
	}
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
	want := []string{
		"sluice_client_key_estimated_tokens_total{direction=input,key=team-a,model=chat} 6",
		"sluice_client_key_estimated_tokens_total{direction=input,key=team-b,model=embed} 0",
		"sluice_client_key_estimated_tokens_total{direction=output,key=team-a,model=chat} 4",
		"sluice_client_key_estimated_tokens_total{direction=output,key=team-b,model=embed} 0",
		"sluice_client_key_requests_total{code=200,key=team-a,model=chat} 3",
		"sluice_client_key_requests_total{code=200,key=team-b,model=embed} 1",
		"sluice_client_key_requests_total{code=429,key=team-a,model=chat} 1",
		"sluice_client_key_tokens_total{direction=input,key=team-a,model=chat} 25",
		"sluice_client_key_tokens_total{direction=input,key=team-b,model=embed} 100",
		"sluice_client_key_tokens_total{direction=output,key=team-a,model=chat} 12",
		"sluice_client_key_tokens_total{direction=output,key=team-b,model=embed} 0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("per-key counters:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// BenchmarkKeyUsage_Add is what counting a request for its key costs the
// request path, with requests of 4 keys × 3 models on every core.
func BenchmarkKeyUsage_Add(b *testing.B) {
	var u keyUsage
	obs := make([]sluice.Observation, 12)
	for i := range obs {
		obs[i] = sluice.Observation{ClientKey: fmt.Sprintf("team-%d", i%4), Model: []string{"chat", "embed", "code"}[i%3], Status: 200, InputTokens: 40, OutputTokens: 200}
	}
	b.ReportAllocs()
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	start := ru.Utime.Nano() + ru.Stime.Nano()
	defer func() {
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		b.ReportMetric(float64(ru.Utime.Nano()+ru.Stime.Nano()-start)/float64(b.N), "cpu-ns/op")
	}()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			u.add(&obs[i%len(obs)])
			i++
		}
	})
}
