package observe_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
)

// TestRecorder_Seed: observations read back from the request log after a
// restart fill the windows (all traffic, the category's, the split's
// arm, the heuristic's quality scores) as if recorded, and leave the
// Prometheus metrics, which the former process exported, alone.
func TestRecorder_Seed(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		r := observe.New(observe.Options{})
		var rows []sluice.Observation
		for i := 1; i <= 10; i++ {
			o := obs("m", "v2", "pay", i)
			if i == 3 {
				o.ErrorClass, o.Status = "upstream_5xx", 500
			}
			if i == 4 {
				o.Route = "pin"
			}
			rows = append(rows, *o)
		}
		heuristic := func(o *sluice.Observation) (float64, bool) { return 0.5, o.ErrorClass == "" }
		r.Seed("m", "v2", t0, rows, false, heuristic)
		r.Record(obs("m", "v2", "pay", 11))

		all := r.Window("m", "v2", "", time.Time{})
		if all.Requests != 11 || all.Errors != 1 || all.ErrorClasses["upstream_5xx"] != 1 {
			t.Fatalf("all traffic: %d requests, %d errors (%v), want 11 and 1 upstream_5xx", all.Requests, all.Errors, all.ErrorClasses)
		}
		if got := all.First; !got.Equal(t0.Add(time.Second)) {
			t.Errorf("First = %v, want the first seeded row's arrival", got)
		}
		cat := r.Window("m", "v2", "pay", t0.Add(5*time.Second))
		if cat.Requests != 7 || len(cat.Latency) != 7 {
			t.Errorf("category since the 5th: %d requests, %d latencies, want 7", cat.Requests, len(cat.Latency))
		}
		split := r.Randomized("m", "v2", "", time.Time{})
		if split.Requests != 10 || split.NotRandomized != 1 {
			t.Errorf("split's arm: %d requests, %d not randomized, want 10 and 1 (the pin)", split.Requests, split.NotRandomized)
		}
		if q := all.QualityBySource[observe.SourceHeuristic]; len(q) != 9 {
			t.Errorf("%d heuristic scores, want the 9 successes seeded", len(q))
		}
		body := scrape(t, r)
		if !strings.Contains(body, `sluice_requests_total{category="pay",model="m",route="split",status_class="2xx",version="v2"} 1`) {
			t.Errorf("sluice_requests_total should count the one request recorded, not the seeded ones:\n%s", grepLines(body, "sluice_requests_total"))
		}
		if strings.Contains(body, `sluice_quality_score_count`) {
			t.Errorf("seeded scores reached sluice_quality_score:\n%s", grepLines(body, "sluice_quality_score_count"))
		}
	})
	t.Run("WindowKeepsNewest", func(t *testing.T) {
		r := observe.New(observe.Options{WindowSize: 4, VersionWindowSize: 4})
		var rows []sluice.Observation
		for i := 1; i <= 6; i++ {
			rows = append(rows, *obs("m", "v2", "pay", i))
		}
		r.Seed("m", "v2", t0, rows, false, nil)
		s := r.Window("m", "v2", "", time.Time{})
		if s.Requests != 4 || !s.First.Equal(t0.Add(3*time.Second)) {
			t.Errorf("%d requests from %v, want the newest 4 from the 3rd", s.Requests, s.First)
		}
	})
	t.Run("AfterRecords", func(t *testing.T) {
		// The gateway serves while it seeds: requests recorded first are
		// newer than every row read back, and a full window keeps them
		// and drops the oldest rows, saying so.
		r := observe.New(observe.Options{WindowSize: 4, VersionWindowSize: 4})
		heuristic := func(*sluice.Observation) (float64, bool) { return 0.5, true }
		for i := 7; i <= 8; i++ {
			r.Record(obs("m", "v2", "pay", i))
			r.RecordQualityFrom(observe.SourceHeuristic, "m", "v2", "pay", t0.Add(time.Duration(i)*time.Second), 0.9)
		}
		var rows []sluice.Observation
		for i := 1; i <= 6; i++ {
			rows = append(rows, *obs("m", "v2", "pay", i))
		}
		r.Seed("m", "v2", t0, rows, false, heuristic)
		for _, cat := range []string{"", "pay"} {
			s := r.Window("m", "v2", cat, time.Time{})
			if s.Requests != 4 || !s.First.Equal(t0.Add(5*time.Second)) || !s.Last.Equal(t0.Add(8*time.Second)) {
				t.Errorf("category %q: %d requests from %v to %v, want the newest 4, the 5th to the 8th (the recorded ones kept)", cat, s.Requests, s.First, s.Last)
			}
			if s := r.Window("m", "v2", cat, t0); !s.Truncated {
				t.Errorf("category %q since the rows' start: not truncated, but the 1st to the 4th were dropped", cat)
			}
			if s := r.Window("m", "v2", cat, t0.Add(5*time.Second)); s.Truncated {
				t.Errorf("category %q since the 5th: truncated, but the window holds all from there", cat)
			}
		}
		q := r.Window("m", "v2", "pay", time.Time{}).QualityBySource[observe.SourceHeuristic]
		if len(q) != 4 || q[len(q)-1] != 0.9 || q[len(q)-2] != 0.9 {
			t.Errorf("heuristic scores %v, want 4 ending with the 2 recorded (0.9)", q)
		}
	})
	t.Run("CutSaysTruncated", func(t *testing.T) {
		// The log held more rows than were read back (cut): the windows,
		// the version's and the category's, say they do not reach back
		// before the oldest read, as an overwritten window does.
		r := observe.New(observe.Options{})
		var rows []sluice.Observation
		for i := 5; i <= 10; i++ {
			rows = append(rows, *obs("m", "v2", "pay", i))
		}
		r.Seed("m", "v2", t0, rows, true, nil)
		for _, cat := range []string{"", "pay"} {
			s := r.Window("m", "v2", cat, t0)
			if !s.Truncated || s.Requests != 6 || !s.First.Equal(t0.Add(5*time.Second)) {
				t.Errorf("category %q since the rows' start: truncated %v, %d requests from %v; want truncated, 6 from the 5th", cat, s.Truncated, s.Requests, s.First)
			}
			if s := r.Window("m", "v2", cat, t0.Add(5*time.Second)); s.Truncated || s.Requests != 6 {
				t.Errorf("category %q since the oldest read: truncated %v, %d requests; want whole, 6", cat, s.Truncated, s.Requests)
			}
		}
	})
}

// TestRecorder_SeedRate: a version seeded from a minute before the
// Recorder started has its rate counted over that minute, not over the
// five minutes asked for (which the restarted process's rows do not
// reach back to), nor from the start alone.
func TestRecorder_SeedRate(t *testing.T) {
	start := t0.Add(time.Hour)
	now := start.Add(30 * time.Second)
	r := observe.New(observe.Options{Now: func() time.Time { return now }})
	from := start.Add(-time.Minute)
	var rows []sluice.Observation
	for i := 0; i < 60; i++ {
		o := obs("m", "v2", "", 0)
		o.At = from.Add(time.Duration(i) * time.Second)
		rows = append(rows, *o)
	}
	r.Seed("m", "v2", from, rows, false, nil)
	for i := 0; i < 30; i++ {
		o := obs("m", "v2", "", 0)
		o.At = start.Add(time.Duration(i) * time.Second)
		r.Record(o)
	}
	sum := r.Summary("m", now.Add(-5*time.Minute))
	if len(sum) != 1 || sum[0].Requests != 90 {
		t.Fatalf("summary %+v, want v2 with 90 requests", sum)
	}
	if got := sum[0].RatePerSecond; got < 0.99 || got > 1.01 {
		t.Errorf("rate %.3f/s, want 1/s (90 requests over the 90 s since the seeded rows begin)", got)
	}
}

func grepLines(body, what string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.Contains(l, what) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
