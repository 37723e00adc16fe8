package server_test

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/promgate/promtest"
	"github.com/sluicehq/sluice/server"
)

// candidateErrorRate is the gate the tests use: the candidate's share of
// failed requests, from the gateway's own /metrics as Prometheus scraped
// them ("or vector(0)": no error series yet is a rate of 0, not no data).
const candidateErrorRate = `(sum(sluice_request_errors_total{model="{{.Model}}",version="{{.Candidate}}",error_class!="canceled"}) or vector(0))
  / sum(sluice_requests_total{model="{{.Model}}",version="{{.Candidate}}"})`

// startPromGateway starts a gateway whose controller ticks fast, configured
// by mutate, with chat v1.0.0 (stable) and v1.1.0 (staging) on the
// backends.
func startPromGateway(t *testing.T, mutate func(*config.Gateway), stable, cand *fakellm.Server) (*server.Server, *api.Client) {
	t.Helper()
	return startRolloutGatewayWith(t, "", func(cfg *config.Gateway) {
		cfg.Rollouts.Tick = 50 * time.Millisecond
		// The gate, not the circuit breaker, is what these tests are about.
		cfg.OutlierEjection.Disabled = true
		mutate(cfg)
	}, stable, cand)
}

// gatedSpec is a progressive rollout whose statistical thresholds are so
// loose that only the Prometheus gate can fail it.
func gatedSpec(gates ...sluice.PromGate) sluice.RolloutSpec {
	return sluice.RolloutSpec{
		Model: "chat", Candidate: "v1.1.0", Strategy: sluice.StrategyProgressive,
		Stages: []sluice.RolloutStage{
			{Percent: 20, Hold: sluice.Duration(2 * time.Second), MinSamples: 20},
			{Percent: 50, Hold: sluice.Duration(2 * time.Second), MinSamples: 20},
			{Percent: 100},
		},
		Analysis: sluice.AnalysisSpec{
			Interval: sluice.Duration(500 * time.Millisecond), MinSamples: 20, FailChecks: 2, Categories: new(bool),
			Thresholds: sluice.Thresholds{ErrorRateRel: 100, ErrorRateAbs: 0.9, CancelRateRel: 100, CancelRateAbs: 0.9, RefusalRateRel: 100, RefusalRateAbs: 0.9, LatencyRel: 100, TokensRel: 100, QualityAbs: 1},
			Prometheus: gates,
		},
		Warmup: sluice.WarmupSpec{Skip: true},
	}
}

func maxOf(x float64) *float64 { return &x }

// freeLoopback returns a loopback address whose port was free a moment ago.
func freeLoopback(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// gateRow returns the verdict's row of the named gate.
func gateRow(t *testing.T, raw json.RawMessage, name string) sluice.MetricVerdict {
	t.Helper()
	var v sluice.Verdict
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("last verdict: %v", err)
	}
	for _, m := range v.Metrics {
		if m.Metric == "prom:"+name {
			return m
		}
	}
	t.Fatalf("the verdict has no row for gate %s: %s", name, raw)
	return sluice.MetricVerdict{}
}

// TestRollout_PrometheusGate runs rollouts gated on a PromQL query against
// a real Prometheus that scrapes the gateway's own /metrics every second:
// a candidate failing 30% of its requests is rolled back by the gate
// (the statistical analysis is set too loose to catch it), and a healthy
// one walks through the stages with the gate passing.
func TestRollout_PrometheusGate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Prometheus server and runs rollouts for tens of seconds (skipped under -short)")
	}
	gate := sluice.PromGate{Name: "candidate_error_rate", Query: candidateErrorRate, Max: maxOf(0.1)}

	run := func(t *testing.T, candErrors float64, spec sluice.RolloutSpec) (sluice.Rollout, *server.Server) {
		// The gateway listens on a port of its own choosing and Prometheus,
		// started after it on an address picked just before, scrapes it: a
		// port picked for the gateway ahead of Prometheus's start was taken
		// by another test's connection once in CI.
		promAddr := freeLoopback(t)
		stable := MustBackend(t, fakellm.Config{})
		cand := MustBackend(t, fakellm.Config{Seed: 11, Default: fakellm.Behavior{ErrorRate: candErrors}})
		gw, cl := startPromGateway(t, func(c *config.Gateway) {
			c.Prometheus = config.Prometheus{URL: "http://" + promAddr, Timeout: 2 * time.Second}
		}, stable, cand)
		promtest.MustStartAt(t, promAddr, time.Second, gw.Addr())
		l := startLoad(t, gw.URL(), 4)
		if _, err := cl.StartRollout(context.Background(), spec, "gate on Prometheus"); err != nil {
			t.Fatal(err)
		}
		r := waitPhase(t, cl, func(p sluice.Phase) bool { return !p.Active() }, 90*time.Second)
		l.finish()
		return r, gw
	}

	t.Run("FailingGateRollsBack", func(t *testing.T) {
		r, gw := run(t, 0.3, gatedSpec(gate))
		if r.Phase != sluice.PhaseRolledBack {
			t.Fatalf("phase %s (%s), want rolled_back", r.Phase, r.Decision)
		}
		if !strings.HasPrefix(r.Decision, `rolled back: Prometheus gate "candidate_error_rate": `) || !strings.Contains(r.Decision, "above max 0.1") {
			t.Errorf("the decision does not name the gate first: %s", r.Decision)
		}
		row := gateRow(t, r.LastVerdict, "candidate_error_rate")
		if row.Outcome != sluice.OutcomeFail || row.Candidate < 0.15 || row.Candidate > 0.45 || !strings.Contains(row.Detail, `version="v1.1.0"`) {
			t.Errorf("gate row: %+v", row)
		}
		for _, m := range verdictOf(t, r.LastVerdict).Metrics {
			if !strings.HasPrefix(m.Metric, "prom:") && m.Outcome == sluice.OutcomeFail {
				t.Errorf("the statistical analysis failed %s too; the test means the gate to decide", m.Metric)
			}
		}
		if got := gw.Control.Registry().Models["chat"].Policy.String(); got != "specific v1.0.0" {
			t.Errorf("policy after rollback: %s", got)
		}
		t.Logf("decision: %s", r.Decision)
	})

	t.Run("PassingGatePromotes", func(t *testing.T) {
		r, _ := run(t, 0, gatedSpec(gate))
		if r.Phase != sluice.PhasePromoted {
			t.Fatalf("phase %s (%s), want promoted", r.Phase, r.Decision)
		}
		if !strings.Contains(r.Decision, "1 Prometheus gate(s) within bounds") {
			t.Errorf("decision: %s", r.Decision)
		}
		stages := 0
		for _, e := range r.Events {
			if e.Kind == "stage" {
				stages++
			}
		}
		if stages != 2 {
			t.Errorf("%d stage events, want 2", stages)
		}
		t.Logf("decision: %s", r.Decision)
	})

	// An A/B test ran to its planned sample whatever its gates said: a
	// candidate breaking the operator's declared bound kept half the users
	// for the whole sample. A failing gate is now its guardrail.
	t.Run("FailingGateStopsAnABTest", func(t *testing.T) {
		spec := gatedSpec(gate)
		spec.Strategy, spec.Stages, spec.ABSamples = sluice.StrategyABTest, nil, 1_000_000
		r, gw := run(t, 0.3, spec)
		if r.Phase != sluice.PhaseRolledBack {
			t.Fatalf("phase %s (%s), want rolled_back by the gate", r.Phase, r.Decision)
		}
		if !strings.HasPrefix(r.Decision, `rolled back: the A/B test's guardrail failed: Prometheus gate "candidate_error_rate": `) || !strings.Contains(r.Decision, "above max 0.1") {
			t.Errorf("the decision does not name the gate as the guardrail: %s", r.Decision)
		}
		if got := gw.Control.Registry().Models["chat"].Policy.String(); got != "specific v1.0.0" {
			t.Errorf("policy after rollback: %s", got)
		}
		t.Logf("decision: %s", r.Decision)
	})
}

func verdictOf(t *testing.T, raw json.RawMessage) sluice.Verdict {
	t.Helper()
	var v sluice.Verdict
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRollout_PrometheusGateNeedsURL: a rollout with gates on a gateway
// with no prometheus.url is refused at start, saying what to set.
func TestRollout_PrometheusGateNeedsURL(t *testing.T) {
	stable, cand := MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{})
	_, cl := startPromGateway(t, func(*config.Gateway) {}, stable, cand)
	_, err := cl.StartRollout(context.Background(), gatedSpec(sluice.PromGate{Name: "e", Query: "vector(0)", Max: maxOf(1)}), "try")
	if err == nil || !strings.Contains(err.Error(), "set prometheus.url") {
		t.Fatalf("err = %v", err)
	}
}

// TestRollout_PrometheusDownPauses: when the gate cannot be evaluated
// (here Prometheus does not listen), the rollout neither advances nor
// rolls back: it pauses after rollout.GateErrorChecks analyses, saying
// what to fix, with traffic where it was.
func TestRollout_PrometheusDownPauses(t *testing.T) {
	stable, cand := MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 2})
	down := "http://" + freeLoopback(t)
	gw, cl := startPromGateway(t, func(c *config.Gateway) {
		c.Prometheus = config.Prometheus{URL: down, Timeout: 500 * time.Millisecond}
	}, stable, cand)
	l := startLoad(t, gw.URL(), 2)
	spec := gatedSpec(sluice.PromGate{Name: "candidate_error_rate", Query: candidateErrorRate, Max: maxOf(0.1)})
	spec.Stages[0].Hold = 0
	if _, err := cl.StartRollout(context.Background(), spec, "gate on a Prometheus that is down"); err != nil {
		t.Fatal(err)
	}
	r := waitPhase(t, cl, func(p sluice.Phase) bool { return p != sluice.PhaseWarming && p != sluice.PhaseProgressing }, 30*time.Second)
	l.finish()
	if r.Phase != sluice.PhasePaused || r.StageIndex != 0 || r.Percent != 20 {
		t.Fatalf("phase %s stage %d percent %v (%s), want paused at the first stage", r.Phase, r.StageIndex, r.Percent, r.Decision)
	}
	last := r.Events[len(r.Events)-1]
	if last.Kind != "paused" || !strings.Contains(last.Message, "prometheus.url") || !strings.Contains(last.Message, down) {
		t.Errorf("last event %s: %s", last.Kind, last.Message)
	}
	if got := gw.Control.Registry().Models["chat"].Policy.String(); got != "split v1.0.0=80 v1.1.0=20" {
		t.Errorf("traffic moved: %s", got)
	}
	t.Logf("paused: %s", last.Message)
}
