package fakellm

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
)

// TestOverload_Refuses: with overload_rate 1, every generating and
// embedding request is refused before any byte of its answer as TGI's
// "Model is overloaded" is: a 429 whose Retry-After and Retry-After-Ms
// say overload_retry_after_ms (1000 by default), so a user can try a
// gateway's handling of an overloaded backend with the simulator.
func TestOverload_Refuses(t *testing.T) {
	for _, tc := range []struct {
		name       string
		ms         float64
		wantS, wMs string
	}{
		{"Default", 0, "1", "1000"},
		{"1500ms", 1500, "2", "1500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := MustStart(t, Config{Default: Behavior{OverloadRate: 1, OverloadRetryAfterMS: tc.ms}})
			c := newClient(t)
			for path, body := range map[string]string{
				"/v1/chat/completions": faultChat,
				"/v1/completions":      faultWholeText,
				"/v1/responses":        faultWholeResp,
				"/v1/embeddings":       `{"model":"m","input":"hi"}`,
			} {
				resp := post(t, c, s.URL()+path, body)
				got, _ := readAll(t, resp)
				if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != tc.wantS || resp.Header.Get("Retry-After-Ms") != tc.wMs ||
					!strings.Contains(got, "overloaded") || !strings.Contains(got, `"rate_limit_error"`) {
					t.Errorf("%s: %d Retry-After %q Retry-After-Ms %q %s, want 429 with %s and %s, an overloaded rate_limit_error", path, resp.StatusCode,
						resp.Header.Get("Retry-After"), resp.Header.Get("Retry-After-Ms"), got, tc.wantS, tc.wMs)
				}
			}
		})
	}
}

// TestOverload_Share: overload_rate is the share of requests refused, from
// the error draw after error_rate's own share, and leaves every other draw
// of a seed as it was.
func TestOverload_Share(t *testing.T) {
	b := Behavior{ErrorRate: 0.1, OverloadRate: 0.3, OutputTokens: TokenCount{Mean: 20, Spread: 10}}
	plain := b
	plain.OverloadRate = 0
	r1, r2 := rand.New(rand.NewPCG(1, 2)), rand.New(rand.NewPCG(1, 2))
	const n = 20000
	var errs, refused int
	for range n {
		o, p := b.Sample(r1), plain.Sample(r2)
		switch {
		case o.Status == 500:
			errs++
		case o.Status == 429:
			refused++
			if o.RetryAfter != DefaultOverloadRetryAfter || o.Content != "" || p.Status != 200 {
				t.Fatalf("refusal %+v (without overload_rate: %d), want a 429 asking for 1 s where the plain draw succeeded", o, p.Status)
			}
			continue
		}
		if o.Status != p.Status || o.OutputTokens != p.OutputTokens || o.Latency != p.Latency || o.RetryAfter != 0 {
			t.Fatalf("draw %+v differs from the same seed's without overload_rate %+v", o, p)
		}
	}
	if f := float64(errs) / n; f < 0.09 || f > 0.11 {
		t.Errorf("error share %.3f, want 0.1", f)
	}
	if f := float64(refused) / n; f < 0.28 || f > 0.32 {
		t.Errorf("overload share %.3f, want 0.3", f)
	}
}

// TestParseConfig_Overload: the rates are checked, and together too.
func TestParseConfig_Overload(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"default:\n  overload_rate: 1.5\n", "default.overload_rate: must be between 0 and 1"},
		{"default:\n  error_rate: 0.6\n  overload_rate: 0.6\n", "default.error_rate + default.overload_rate: must be at most 1 together"},
		{"default:\n  overload_retry_after_ms: -1\n", "default.overload_retry_after_ms"},
	} {
		if _, err := ParseConfig([]byte(tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.yaml, err, tc.want)
		}
	}
	cfg, err := ParseConfig([]byte("default:\n  overload_rate: 0.5\n  overload_retry_after_ms: 1500\n"))
	if err != nil || cfg.Default.OverloadRate != 0.5 || cfg.Default.OverloadRetryAfterMS != 1500 {
		t.Fatalf("%+v %v", cfg.Default, err)
	}
}
