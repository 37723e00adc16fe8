package proxy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// The prefix-cache figure a backend reports in its usage
// (prompt_tokens_details.cached_tokens) reaches the observation, streamed
// or not, whether or not the client asked for the usage chunk; a backend
// that reports nothing leaves CacheReported false, so a miss (0) is told
// apart from silence.
func TestProxy_CachedTokens(t *testing.T) {
	stable := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{ReportCache: true, CacheHitRate: 1}})
	cand := MustBackend(t, fakellm.Config{})
	rec := newSpyRecorder()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, stable.URL(), cand.URL()), Recorder: rec})
	prompt := `"messages":[{"role":"user","content":"a prompt long enough to have several tokens in it"}]`
	for _, tc := range []struct {
		name, model, body string
		reported          bool
	}{
		{"Chat", "chat:v1", `{"model":"chat:v1",` + prompt + `}`, true},
		{"Stream", "chat:v1", `{"model":"chat:v1","stream":true,` + prompt + `}`, true},
		{"StreamUsageAsked", "chat:v1", `{"model":"chat:v1","stream":true,"stream_options":{"include_usage":true},` + prompt + `}`, true},
		{"NotReported", "chat:v2", `{"model":"chat:v2",` + prompt + `}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(rec.all())
			resp, body := post(t, url, "/v1/chat/completions", tc.body)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var o sluice.Observation
			waitFor(t, "the observation", func() bool {
				all := rec.all()
				if len(all) > n {
					o = all[n]
					return true
				}
				return false
			})
			if o.CacheReported != tc.reported {
				t.Fatalf("CacheReported = %v, want %v (%+v)", o.CacheReported, tc.reported, o)
			}
			if tc.reported && (o.CachedTokens == 0 || int(o.CachedTokens) != o.InputTokens) {
				t.Errorf("cached %d of %d prompt tokens, want all of them", o.CachedTokens, o.InputTokens)
			}
			if !tc.reported && o.CachedTokens != 0 {
				t.Errorf("cached %d tokens from a backend that reports none", o.CachedTokens)
			}
		})
	}
	s := rec.Window("chat", "v1", "", time.Time{})
	if s.CacheReported != 3 || s.CacheHits != 3 {
		t.Errorf("window counts %d hits of %d reported, want 3 of 3", s.CacheHits, s.CacheReported)
	}
	mfs, err := rec.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "sluice_") || !strings.Contains(mf.GetName(), "cache") {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			key := mf.GetName() + "/" + labels["version"]
			if r := labels["result"]; r != "" {
				key += "/" + r
			}
			got[key] += m.GetCounter().GetValue()
		}
	}
	if got["sluice_prompt_cache_requests_total/v1/hit"] != 3 || got["sluice_prompt_cache_requests_total/v1/miss"] != 0 ||
		got["sluice_cached_prompt_tokens_total/v1"] != float64(3*rec.all()[0].CachedTokens) {
		t.Errorf("cache metrics %v", got)
	}
	if _, ok := got["sluice_prompt_cache_requests_total/v2/miss"]; ok {
		t.Errorf("cache metrics for a version whose backend reports no cache: %v", got)
	}
}
