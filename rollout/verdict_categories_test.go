package rollout_test

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/rollout"
)

// catWindows serves each (version, category) a fixed number of requests
// at a fixed time; category "" is all traffic.
type catWindows struct {
	at   map[string]time.Time // category → when its requests came
	reqs map[string]int       // version + "/" + category → requests
}

func (w *catWindows) Window(model, version, category string, since time.Time) observe.Sample {
	if w.at[category].Before(since) {
		return observe.Sample{}
	}
	n := w.reqs[version+"/"+category]
	lat := make([]float64, 0, n)
	for i := range n {
		lat = append(lat, 100+float64(i%10))
	}
	return observe.Sample{Counts: observe.Counts{Requests: int64(n), Succeeded: int64(n)}, Latency: lat, TTFT: lat, OutputTokens: lat, ResponseChars: lat}
}

// Randomized is Window: all of it is the split's traffic.
func (w *catWindows) Between(model, version, category string, since, _ time.Time) observe.Sample {
	return w.Window(model, version, category, since)
}

func (w *catWindows) Randomized(model, version, category string, since time.Time) observe.Sample {
	return w.Window(model, version, category, since)
}

func (w *catWindows) Categories(model string) []string {
	return []string{"", "payments", "sluice-drill"}
}

// TestController_VerdictLeavesOutUnservedCategories: a category the
// windows still know but that neither arm served since the candidate went
// live (a fire drill's synthetic requests from before the rollout) filled
// the verdict with rows of zeros, eight per category, in rollout status,
// watch and the dashboard. Only categories with traffic are compared.
func TestController_VerdictLeavesOutUnservedCategories(t *testing.T) {
	win := &catWindows{}
	e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"},
		func(o *rollout.Options) { o.Windows = win })
	r := e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary, CanaryPercent: 10})
	live := e.clock.Now()
	win.at = map[string]time.Time{"": live, "payments": live, "sluice-drill": live.Add(-time.Hour)}
	win.reqs = map[string]int{"v1/": 500, "v2/": 200, "v1/payments": 500, "v2/payments": 200, "v1/sluice-drill": 40, "v2/sluice-drill": 2}

	v, _ := e.c.Analyze(&r, live.Add(time.Minute))
	var payments, drill int
	for _, m := range v.Metrics {
		switch m.Category {
		case "payments":
			payments++
		case "sluice-drill":
			drill++
		}
	}
	if payments == 0 {
		t.Errorf("no row for category payments, which both arms served: %+v", v.Metrics)
	}
	if drill != 0 {
		t.Errorf("%d rows for category sluice-drill, which neither arm served since the candidate went live", drill)
	}
}
