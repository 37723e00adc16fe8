package main

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/observe"
)

// TestDemoVersionRow_NoTrafficNoFigures: a version that served nothing in
// the window (the rolled-back candidate, the old baseline after a
// promotion) shows "-" for its rates, latencies and lengths, not 0.0 ms
// that reads as measured; a version with traffic shows its figures.
func TestDemoVersionRow_NoTrafficNoFigures(t *testing.T) {
	idle := strings.Fields(demoVersionRow(observe.VersionSummary{Version: "v1.1.0"}))
	want := []string{"v1.1.0", "0", "0.0", "-", "-", "-", "-", "-", "-"}
	if strings.Join(idle, " ") != strings.Join(want, " ") {
		t.Errorf("idle version row %q, want %q", idle, want)
	}
	busy := demoVersionRow(observe.VersionSummary{Version: "v1.2.0", Requests: 10, RatePerSecond: 0.3, ErrorRate: 0.1, LatencyP50: 34.6, LatencyP99: 144.5, MeanOutputTokens: 22})
	for _, s := range []string{"v1.2.0", "10.0%", "34.6", "144.5", "22.0"} {
		if !strings.Contains(busy, s) {
			t.Errorf("busy version row %q lacks %q", busy, s)
		}
	}
}
