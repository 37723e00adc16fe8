package observe_test

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/observe"
)

// TestRecorder_LongRequestsInFiniteBuckets: a reasoning model's answer
// that takes minutes lands in a finite bucket of the request duration
// (timeouts.request defaults to 10m), and a first token after a minute or
// two in one of the time to first token (timeouts.first_byte defaults to
// 120s), so a p99 over them is a number, not the last bound. The buckets
// stopped at 81.92 s and 10 s: a 200 s request was only in +Inf, and
// histogram_quantile capped its quantiles at 81.92 s.
func TestRecorder_LongRequestsInFiniteBuckets(t *testing.T) {
	r := observe.New(observe.Options{})
	o := obs("llama", "v1", "code", 2)
	o.Stream = true
	o.OutputTokens = 11
	o.Latency = 200 * time.Second
	o.TTFT = 100 * time.Second
	r.Record(o)
	body := scrape(t, r)
	for _, w := range []string{
		// The bounds kept from before, then those appended.
		`gen_ai_server_request_duration_seconds_bucket{category="code",error_type="",model="llama",status_class="2xx",version="v1",le="81.92"} 0`,
		`gen_ai_server_request_duration_seconds_bucket{category="code",error_type="",model="llama",status_class="2xx",version="v1",le="163.84"} 0`,
		`gen_ai_server_request_duration_seconds_bucket{category="code",error_type="",model="llama",status_class="2xx",version="v1",le="327.68"} 1`,
		`gen_ai_server_request_duration_seconds_bucket{category="code",error_type="",model="llama",status_class="2xx",version="v1",le="655.36"} 1`,
		`gen_ai_server_time_to_first_token_seconds_bucket{category="code",model="llama",version="v1",le="10"} 0`,
		`gen_ai_server_time_to_first_token_seconds_bucket{category="code",model="llama",version="v1",le="60"} 0`,
		`gen_ai_server_time_to_first_token_seconds_bucket{category="code",model="llama",version="v1",le="120"} 1`,
	} {
		if !contains(body, w+"\n") {
			t.Errorf("/metrics lacks %s", w)
		}
	}
}
