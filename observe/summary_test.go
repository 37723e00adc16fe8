package observe_test

import (
	"math"
	"testing"
	"time"

	"github.com/sluicehq/sluice/observe"
)

func TestRecorder_Summary(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		now := t0.Add(100 * time.Second)
		r := observe.New(observe.Options{Now: func() time.Time { return now }})
		for i := 1; i <= 100; i++ {
			o := obs("m", "v1", []string{"a", "b"}[i%2], i)
			o.Stream = true
			o.Refusal = i%10 == 0
			r.Record(o)
		}
		for i := 1; i <= 10; i++ {
			o := obs("m", "v2", "a", i*10)
			if i <= 2 {
				o.ErrorClass = "upstream_5xx"
				o.Status = 502
			}
			r.Record(o)
		}
		got := r.Summary("m", t0)
		if len(got) != 2 || got[0].Version != "v1" || got[1].Version != "v2" {
			t.Fatalf("Summary = %+v", got)
		}
		v1 := got[0]
		checks := []struct {
			name      string
			got, want float64
		}{
			{"Requests", float64(v1.Requests), 100},
			{"ErrorRate", v1.ErrorRate, 0},
			{"RefusalRate", v1.RefusalRate, 0.1},
			{"LatencyP50", v1.LatencyP50, 50.5},
			{"LatencyP95", v1.LatencyP95, 95.05},
			{"LatencyP99", v1.LatencyP99, 99.01},
			{"TTFTP50", v1.TTFTP50, 50.5},
			{"MeanOutputTokens", v1.MeanOutputTokens, 50.5},
			{"RatePerSecond", v1.RatePerSecond, 1},
		}
		for _, c := range checks {
			if math.Abs(c.got-c.want) > 1e-9 {
				t.Errorf("v1 %s = %v, want %v", c.name, c.got, c.want)
			}
		}
		v2 := got[1]
		if v2.Requests != 10 || v2.Errors != 2 || v2.ErrorRate != 0.2 {
			t.Errorf("v2 = %+v, want 10 requests, 2 errors, rate 0.2", v2)
		}
		// Successes are 30..100 ms: the median of the 8 is 65.
		if v2.LatencyP50 != 65 {
			t.Errorf("v2 LatencyP50 = %v, want 65", v2.LatencyP50)
		}
	})

	// What the user does: watches the dashboard while a candidate hangs on
	// some requests until their clients give up.
	// What must happen: the summary shows the cancel rate, and the error
	// rate counts only requests that finished, as the analysis does: the
	// canceled requests no longer make the version look more reliable.
	t.Run("Canceled", func(t *testing.T) {
		r := observe.New(observe.Options{})
		for i := 1; i <= 10; i++ {
			o := obs("m", "v2", "a", i*10)
			switch {
			case i <= 2:
				o.ErrorClass, o.Status = "upstream_5xx", 502
			case i <= 6:
				o.ErrorClass, o.Status = "canceled", 499
			}
			r.Record(o)
		}
		v2 := r.Summary("m", t0)[0]
		if v2.Canceled != 4 || v2.CancelRate != 0.4 || v2.ErrorRate != 2.0/6 {
			t.Fatalf("summary %+v, want 4 canceled (rate 0.4) and an error rate of 2 of the 6 that finished", v2)
		}
	})

	t.Run("Since", func(t *testing.T) {
		now := t0.Add(100 * time.Second)
		r := observe.New(observe.Options{Now: func() time.Time { return now }})
		for i := 1; i <= 100; i++ {
			r.Record(obs("m", "v1", "a", i))
		}
		got := r.Summary("m", t0.Add(80*time.Second))[0]
		if got.Requests != 21 || got.LatencyP50 != 90 || math.Abs(got.RatePerSecond-21.0/20) > 1e-9 {
			t.Fatalf("Summary since 80s = %+v; want 21 requests, p50 90, 1.05/s", got)
		}
		// Without since the window starts at the earliest kept observation.
		got = r.Summary("m", time.Time{})[0]
		if math.Abs(got.RatePerSecond-100.0/99) > 1e-9 {
			t.Fatalf("RatePerSecond = %v, want %v", got.RatePerSecond, 100.0/99)
		}
	})

	t.Run("Empty", func(t *testing.T) {
		r := observe.New(observe.Options{})
		r.Record(obs("m", "v1", "a", 1))
		got := r.Summary("m", t0.Add(time.Hour))
		if len(got) != 1 || got[0] != (observe.VersionSummary{Version: "v1"}) {
			t.Fatalf("Summary = %+v, want a zero v1", got)
		}
	})
}

// TestRecorder_RefusalsOfFailedRequests: a stream the backend broke off
// (or one whose client left) after a refusal's first words is marked a
// refusal in its observation, and the request log shows it; but it failed,
// so it is counted with the errors (or the canceled), not in the refusal
// rate, whose denominator is the successful requests. Counted in both, 10
// broken refusals and 10 good answers read as a refusal rate of 100%, and
// 20 broken refusals over 10 good answers as 200%, which the analysis
// refused as impossible counts.
func TestRecorder_RefusalsOfFailedRequests(t *testing.T) {
	now := t0.Add(100 * time.Second)
	r := observe.New(observe.Options{Now: func() time.Time { return now }})
	for i := 1; i <= 10; i++ {
		r.Record(obs("m", "v1", "a", i)) // answered, not refusals
	}
	for i := 1; i <= 10; i++ {
		o := obs("m", "v1", "a", i)
		o.Refusal = true
		o.ErrorClass, o.Status = "stream_broken", 200
		if i%2 == 0 {
			o.ErrorClass, o.Status = "canceled", 499
		}
		r.Record(o)
	}
	s := r.Window("m", "v1", "a", t0)
	if s.Refusals != 0 || s.Succeeded != 10 {
		t.Errorf("window counts %d refusals over %d successful requests, want 0 over 10 (the refusals failed)", s.Refusals, s.Succeeded)
	}
	if got := r.Summary("m", t0)[0].RefusalRate; got != 0 {
		t.Errorf("refusal rate %v, want 0", got)
	}
}
