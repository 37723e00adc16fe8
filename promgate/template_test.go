package promgate_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/promgate"
)

func TestRender(t *testing.T) {
	now := time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC)
	r := &sluice.Rollout{ID: "chat-1", StageIndex: 1, Percent: 25, LiveAt: now.Add(-90500 * time.Millisecond),
		Spec: sluice.RolloutSpec{Model: "chat", Baseline: "v1.0.0", Candidate: "v1.1.0", Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(10 * time.Second)}}}
	v := promgate.VarsOf(r, now)
	t.Run("OK", func(t *testing.T) {
		g := sluice.PromGate{Name: "e", Query: `sum(rate(x{model="{{.Model}}",version="{{.Candidate}}"}[{{.Since}}])) / {{.Percent}} + on() {{.Stage}} # {{.Baseline}} {{.CandidateID}} {{.Interval}} {{.Rollout}}`, Max: f(1)}
		got, err := promgate.Render(g, v)
		if err != nil {
			t.Fatal(err)
		}
		want := `sum(rate(x{model="chat",version="v1.1.0"}[91s])) / 25 + on() 2 # v1.0.0 chat:v1.1.0 10s chat-1`
		if got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	})
	t.Run("ErrUnknownVariable", func(t *testing.T) {
		_, err := promgate.Render(sluice.PromGate{Name: "e", Query: `x{v="{{.Version}}"}`}, v)
		if err == nil || !strings.Contains(err.Error(), `gate "e"`) || !strings.Contains(err.Error(), ".Candidate") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("SinceAtLeastOneSecond", func(t *testing.T) {
		r2 := *r
		r2.LiveAt = now
		if got := promgate.VarsOf(&r2, now).Since; got != "1s" {
			t.Errorf("Since = %s", got)
		}
	})
}

func TestValidate(t *testing.T) {
	ok := sluice.PromGate{Name: "errors", Query: `x{v="{{.Candidate}}"}`, Max: f(0.1)}
	for _, tc := range []struct {
		name  string
		gates []sluice.PromGate
		err   string
	}{
		{"OK", []sluice.PromGate{ok, {Name: "tps", Query: "vector(1)", Min: f(1), Max: f(2)}}, ""},
		{"ErrNoName", []sluice.PromGate{{Query: "x", Max: f(1)}}, "analysis.prometheus[0].name"},
		{"ErrTwice", []sluice.PromGate{ok, ok}, "declared twice"},
		{"ErrNoQuery", []sluice.PromGate{{Name: "a", Max: f(1)}}, "has no query"},
		{"ErrBadTemplate", []sluice.PromGate{{Name: "a", Query: "x{{.Candidate", Max: f(1)}}, `analysis.prometheus[0].query: prometheus gate "a"`},
		{"ErrUnknownVariable", []sluice.PromGate{{Name: "a", Query: "{{.Nope}}", Max: f(1)}}, "Nope"},
		{"ErrNoBounds", []sluice.PromGate{{Name: "a", Query: "x"}}, "neither min nor max"},
		{"ErrMinAboveMax", []sluice.PromGate{{Name: "a", Query: "x", Min: f(2), Max: f(1)}}, "min 2 above max 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := promgate.Validate(tc.gates)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("err = %v, want %q", err, tc.err)
			}
			if err != nil && sluice.ErrorCode(err) != sluice.CodeInvalid {
				t.Errorf("code %s", sluice.ErrorCode(err))
			}
		})
	}
}
