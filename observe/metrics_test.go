package observe_test

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/observe"
)

// scrape returns the text the Recorder's /metrics handler serves.
func scrape(tb testing.TB, r *observe.Recorder) string {
	tb.Helper()
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		tb.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("scrape: %v", err)
	}
	if resp.StatusCode != 200 {
		tb.Fatalf("scrape: status %d: %s", resp.StatusCode, body)
	}
	return string(body)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestRecorder_Handler(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		r := observe.New(observe.Options{})
		o := obs("llama", "v1", "code", 2)
		o.Stream = true
		o.OutputTokens = 11
		o.Latency = 2 * time.Second
		o.TTFT = time.Second
		r.Record(o)
		o = obs("llama", "v2", "", 1)
		o.Refusal = true
		r.Record(o)
		o = obs("llama", "v2", "", 1)
		o.ErrorClass, o.Status, o.Route = "timeout", 504, "pin"
		r.Record(o)

		log := observe.NewRequestLog(&memStore{}, observe.LogOptions{})
		defer log.Close(t.Context())
		r.Registry().MustRegister(log)

		scrape(t, r) // a second Handler must reuse the first's metrics
		body := scrape(t, r)
		want := []string{
			`gen_ai_server_request_duration_seconds_bucket{category="code",error_type="",model="llama",status_class="2xx",version="v1",le="2.56"} 1`,
			`gen_ai_server_request_duration_seconds_count{category="none",error_type="timeout",model="llama",status_class="5xx",version="v2"} 1`,
			`gen_ai_server_time_to_first_token_seconds_bucket{category="code",model="llama",version="v1",le="1"} 1`,
			`gen_ai_server_time_per_output_token_seconds_sum{category="code",model="llama",version="v1"} 0.1`,
			`gen_ai_client_token_usage_sum{category="code",model="llama",token_type="input",version="v1"} 10`,
			`gen_ai_client_token_usage_sum{category="code",model="llama",token_type="output",version="v1"} 11`,
			`sluice_requests_total{category="code",model="llama",route="split",status_class="2xx",version="v1"} 1`,
			`sluice_requests_total{category="none",model="llama",route="pin",status_class="5xx",version="v2"} 1`,
			`sluice_request_errors_total{category="none",error_class="timeout",model="llama",version="v2"} 1`,
			`sluice_refusals_total{category="none",model="llama",version="v2"} 1`,
			`sluice_response_chars_sum{category="code",model="llama",version="v1"} 8`,
			`sluice_request_log_dropped_total 0`,
			`sluice_request_log_pending 0`,
			`sluice_request_log_written_total 0`,
			`sluice_request_log_append_errors_total 0`,
			`# TYPE gen_ai_server_request_duration_seconds histogram`,
			`# TYPE gen_ai_client_token_usage histogram`,
			`go_goroutines `,
			`process_`,
		}
		for _, w := range want {
			if !contains(body, w) {
				t.Errorf("metrics lack %s", w)
			}
		}
		if t.Failed() {
			t.Log(body)
		}
	})

	t.Run("EstimatedTokens", func(t *testing.T) {
		// Tokens the gateway estimated for an answer without the
		// backend's usage (a cut stream, a backend that reports none)
		// are charged to the key, but are no measure of the version:
		// neither the token histograms nor the time per output token
		// nor the analysis's window read them.
		r := observe.New(observe.Options{})
		o := obs("llama", "v1", "", 2)
		o.Stream, o.OutputTokens, o.InputTokens, o.TokensEstimated = true, 50, 30, true
		o.Latency, o.TTFT = 2*time.Second, time.Second
		r.Record(o)
		o = obs("llama", "v1", "", 2)
		o.ErrorClass, o.Status, o.OutputTokens, o.InputTokens, o.TokensEstimated = "canceled", 200, 7, 30, true
		r.Record(o)
		body := scrape(t, r)
		for _, want := range []string{
			`gen_ai_client_token_usage_count{category="none",model="llama",token_type="input",version="v1"} 0`,
			`gen_ai_client_token_usage_count{category="none",model="llama",token_type="output",version="v1"} 0`,
			`gen_ai_server_time_per_output_token_seconds_count{category="none",model="llama",version="v1"} 0`,
		} {
			if !contains(body, want) {
				t.Errorf("metrics lack %s: they read estimated tokens", want)
			}
		}
		if !contains(body, `sluice_response_chars_count{category="none",model="llama",version="v1"} 1`) {
			t.Errorf("the answer's chars are not counted")
		}
		if s := r.Window("llama", "v1", "", time.Time{}); s.Requests != 2 || len(s.OutputTokens) != 1 || s.OutputTokens[0] != 0 {
			t.Errorf("window: %d requests, output tokens %v; want 2 and [0]", s.Requests, s.OutputTokens)
		}
		if t.Failed() {
			t.Log(body)
		}
	})

	t.Run("LabelSpread", func(t *testing.T) {
		// An unexpected spread of routes folds into "other" for the
		// metrics but keeps the window exact.
		r := observe.New(observe.Options{})
		for i := range 100 {
			o := obs("m", "v1", "a", 1)
			o.Route = fmt.Sprint("r", i)
			o.ErrorClass = fmt.Sprint("e", i)
			r.Record(o)
		}
		body := scrape(t, r)
		if n := strings.Count(body, "sluice_requests_total{"); n > 65 {
			t.Fatalf("%d request series, want at most 65", n)
		}
		if !contains(body, `route="other"`) {
			t.Fatal(`no route="other" series`)
		}
		s := r.Window("m", "v1", "a", time.Time{})
		if len(s.ErrorClasses) != 100 || s.ErrorClasses["e99"] != 1 {
			t.Fatalf("ErrorClasses has %d classes, want 100", len(s.ErrorClasses))
		}
	})
}
