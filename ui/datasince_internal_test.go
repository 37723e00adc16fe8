package ui

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
)

// TestDataSince: with no rollout the category table covers the last 15
// minutes, or less when no version's data reaches back that far: from the
// first request observed. A version with requests from before the 15
// minutes keeps the full span, and no data keeps it too.
func TestDataSince(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	since := now.Add(-15 * time.Minute)
	record := func(r *observe.Recorder, v string, ago ...time.Duration) {
		for _, d := range ago {
			r.Record(&sluice.Observation{Model: "chat", Version: v, At: now.Add(-d), Status: 200})
		}
	}
	fresh := observe.New(observe.Options{})
	record(fresh, "v1", 5*time.Minute, time.Minute)
	record(fresh, "v2", 3*time.Minute)
	old := observe.New(observe.Options{})
	record(old, "v1", 20*time.Minute, time.Minute)
	record(old, "v2", 3*time.Minute)
	for _, c := range []struct {
		what      string
		w         Windows
		versions  []string
		want      time.Time
		wantFirst bool
	}{
		{"up for 5 minutes", fresh, []string{"v1", "v2"}, now.Add(-5 * time.Minute), true},
		{"v2 since 3 minutes", fresh, []string{"v2"}, now.Add(-3 * time.Minute), true},
		{"v1 served 20 minutes ago", old, []string{"v1", "v2"}, since, false},
		{"no data", observe.New(observe.Options{}), []string{"v1"}, since, false},
	} {
		got, first := dataSince(c.w, "chat", c.versions, since)
		if !got.Equal(c.want) || first != c.wantFirst {
			t.Errorf("%s: dataSince = %v, %v; want %v, %v", c.what, got, first, c.want, c.wantFirst)
		}
	}
}
