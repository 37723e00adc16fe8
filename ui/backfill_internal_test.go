package ui

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
)

// TestLogPoints_AsTheWindowsSay: a point bucketed from the request log is
// the point the sampler takes from the Recorder's windows holding the same
// observations: errors over the finished requests, cancels, refusals over
// the successes, tool calls over the answers offered tools, latency
// percentiles, stream TTFT and output tokens (an estimate's as none) of the
// successes, per version and, for the arms, per category ("" as none).
func TestLogPoints_AsTheWindowsSay(t *testing.T) {
	end := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	step, smooth, history := time.Second, 10*time.Second, 3*time.Minute
	rng := rand.New(rand.NewPCG(1, 2))
	rec := observe.New(observe.Options{})
	var rows []sluice.Observation
	classes := []string{"", "", "", "", "", "canceled", "upstream_5xx", "timeout"}
	cats := []string{"", "code", "payments"}
	for at := end.Add(-history - time.Minute); at.Before(end); at = at.Add(time.Duration(50+rng.IntN(100)) * time.Millisecond) {
		o := sluice.Observation{
			Model: "chat", Version: []string{"v1", "v2", "v3"}[rng.IntN(3)], At: at, Route: "split",
			Category: cats[rng.IntN(3)], ErrorClass: classes[rng.IntN(len(classes))], Stream: rng.IntN(2) == 0,
			Latency: time.Duration(rng.IntN(900_000_000)), TTFT: time.Duration(rng.IntN(90_000_000)),
			OutputTokens: rng.IntN(300), TokensEstimated: rng.IntN(5) == 0, Refusal: rng.IntN(6) == 0,
			ToolsOffered: rng.IntN(3) == 0, ToolCall: rng.IntN(2) == 0, Retried: rng.IntN(10) == 0,
		}
		if o.Version == "v3" && at.Before(end.Add(-time.Minute)) {
			continue // a version that began a minute ago starts there
		}
		rows = append(rows, o)
		rec.Record(&o)
	}
	arms := []string{"v1", "v2"}
	got := logPoints(rows, nil, arms, end.Add(-history-smooth), end, step, smooth, history)
	want := 0
	for _, v := range []string{"v1", "v2", "v3"} {
		keys := []seriesKey{{version: v}}
		if v != "v3" {
			for _, c := range []string{observe.NoCategory, "code", "payments"} {
				keys = append(keys, seriesKey{version: v, category: c})
			}
		}
		for _, k := range keys {
			pts := got[k]
			n := int(history / step)
			if v == "v3" {
				n = int(time.Minute/step) - 1 // its first point is a step after its first request
			}
			if len(pts) < n || len(pts) > n+1 {
				t.Errorf("%v has %d points, want %d", k, len(pts), n)
				continue
			}
			want++
			for i, p := range pts {
				at := time.UnixMilli(p.T)
				w := pointOf(rec.Between("chat", k.version, k.category, at.Add(-smooth), at), at, smooth)
				if !reflect.DeepEqual(p, w) {
					t.Fatalf("%v point %d at %s from the log:\n%s\nfrom the windows:\n%s", k, i, at.Format(time.TimeOnly), show(p), show(w))
				}
			}
		}
	}
	if len(got) != want {
		t.Errorf("%d series from the log, want %d (v3, not an arm, has no categories): %v", len(got), want, keysOf(got))
	}
}

// TestLogPoints_ReachAndOther: rows cut by the read's limit start the points
// a smooth window after the oldest; categories beyond the Recorder's
// limit are charted as other.
func TestLogPoints_ReachAndOther(t *testing.T) {
	end := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	var rows []sluice.Observation
	for i := range 200 {
		rows = append(rows, sluice.Observation{Model: "chat", Version: "v1", At: end.Add(-time.Duration(200-i) * time.Second), Category: fmt.Sprintf("c%02d", i%40)})
	}
	reach := end.Add(-100 * time.Second)
	got := logPoints(rows, nil, []string{"v1"}, reach, end, time.Second, 10*time.Second, 15*time.Minute)
	all := got[seriesKey{version: "v1"}]
	if len(all) == 0 || all[0].T < reach.Add(10*time.Second).UnixMilli() || all[0].T >= reach.Add(11*time.Second).UnixMilli() {
		t.Errorf("the points start at %v, want the first step whose window starts at or after %s", all[0].T, reach)
	}
	if _, ok := got[seriesKey{version: "v1", category: observe.OtherCategory}]; !ok {
		t.Errorf("40 categories: no %q series; got %v", observe.OtherCategory, keysOf(got))
	}
	n := 0
	for k := range got {
		if k.category != "" && k.category != observe.OtherCategory {
			n++
		}
	}
	if n != observe.DefaultMaxCategories {
		t.Errorf("%d named categories charted, want the Recorder's %d", n, observe.DefaultMaxCategories)
	}
}

func show(p Point) string {
	f := func(x *float64) string {
		if x == nil {
			return "-"
		}
		return fmt.Sprint(*x)
	}
	return fmt.Sprintf("n %d rps %v err %v can %v ref %v p50 %s p99 %s ttft %s tok %s tool %s", p.N, p.RPS, p.Err, p.Can, p.Ref, f(p.P50), f(p.P99), f(p.TTFT), f(p.Tok), f(p.Tool))
}

func keysOf(m map[seriesKey][]Point) []seriesKey {
	var out []seriesKey
	for k := range m {
		out = append(out, k)
	}
	return out
}
