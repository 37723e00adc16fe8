package ui_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
	"github.com/sluicehq/sluice/ui"
)

// TestVerdicts_HistoryAfterRestart: the dashboard's list of a rollout's
// verdicts (GET /ui/api/verdicts) was kept in each process's memory, as
// it heard of them. A replica started or restarted during a rollout (a
// deploy, a scale-up, a crash) listed only its last verdict and those
// after, while the replicas beside it listed them all: the same page
// answered differently depending on the replica the load balancer chose.
// The earlier verdicts now come from the audit, where each analysis
// leaves its verdict's summary.
func TestVerdicts_HistoryAfterRestart(t *testing.T) {
	spec := canarySpec()
	spec.Analysis.Interval = sluice.Duration(50 * time.Millisecond)
	historyAfterRestart(t, spec, false)
}

// TestVerdicts_DecisionsAfterRestart: an analysis that moves a rollout (a
// stage, a rollback, a promotion) is audited as rollout.decision, not
// rollout.analysis. The verdicts a restarted replica lists must include
// those of the decisions too: here the analysis that took a progressive
// rollout from its first stage to its second.
func TestVerdicts_DecisionsAfterRestart(t *testing.T) {
	spec := canarySpec()
	spec.Strategy, spec.CanaryPercent = sluice.StrategyProgressive, 0
	spec.Analysis.Interval = sluice.Duration(50 * time.Millisecond)
	spec.Stages = []sluice.RolloutStage{{Percent: 20, Hold: sluice.Duration(time.Millisecond), MinSamples: 30}, {Percent: 50, Hold: sluice.Duration(time.Hour), MinSamples: 30}}
	historyAfterRestart(t, spec, true)
}

// historyAfterRestart runs a rollout of spec on a gateway until it has five
// verdicts (and, with decision, until an analysis has moved it to its
// second stage), pauses it, restarts the gateway on the same store, and
// compares the dashboard's verdict lists before and after.
func historyAfterRestart(t *testing.T, spec sluice.RolloutSpec, decision bool) {
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{Seed: 2})
	store := filepath.Join(t.TempDir(), "sluice.db")
	start := func() *server.Server {
		cfg := config.Default()
		cfg.Listen = "127.0.0.1:0"
		cfg.Store = store
		cfg.Rollouts.Tick = 20 * time.Millisecond
		s, err := server.New(context.Background(), server.Options{Config: cfg})
		if err != nil {
			t.Fatalf("new gateway: %v", err)
		}
		if err := s.Start(); err != nil {
			t.Fatalf("start gateway: %v", err)
		}
		return s
	}
	stop := func(s *server.Server) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}
	ctx := context.Background()
	a := start()
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{
		Name:   "chat",
		Policy: &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.0.0"},
		Labels: map[string]string{"stable": "v1.0.0"},
		Versions: []sluice.Version{
			{Version: "v1.0.0", Endpoints: []string{stable.URL()}, WeightHash: "w1", Stage: sluice.StageProduction},
			{Version: "v1.1.0", Endpoints: []string{cand.URL()}, WeightHash: "w2", Stage: sluice.StageStaging},
		},
	}}}
	if _, err := a.Control.Do(ctx, "test", "setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		t.Fatalf("apply: %v", err)
	}
	secret, err := a.CreateToken(ctx, "victor-viewer", sluice.RoleViewer, "test", "setup")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Rollouts.Start(ctx, "alice", "canary", spec); err != nil {
		t.Fatal(err)
	}
	if decision {
		startLoad(t, a.URL(), 2)
		waitFor(t, "the analysis's step to the second stage", 60*time.Second, func() bool {
			r := a.Control.Registry().Rollouts["chat"]
			return r != nil && r.StageIndex >= 1
		})
		entries, err := a.Store.Audit(ctx, sluice.AuditQuery{Model: "chat", Action: "rollout.decision"})
		if err != nil || len(entries) == 0 {
			t.Fatalf("no rollout.decision in the audit after the stage step: %v %v", entries, err)
		}
	}
	verdicts := func(s *server.Server) []sluice.Verdict {
		b := signIn(t, s.AdminURL(), secret)
		resp, body := b.do("GET", "/ui/api/verdicts?model=chat", "", nil)
		var out ui.VerdictsAnswer
		if resp.StatusCode != 200 || json.Unmarshal(body, &out) != nil {
			t.Fatalf("verdicts: %d %s", resp.StatusCode, body)
		}
		return out.Verdicts
	}
	waitFor(t, "five verdicts", 20*time.Second, func() bool { return len(verdicts(a)) >= 5 })
	if _, err := a.Rollouts.Act(ctx, "alice", "chat", "pause", ""); err != nil {
		t.Fatal(err) // no more verdicts: the lists can be compared
	}
	before := verdicts(a)
	stop(a)

	b := start()
	defer stop(b)
	after := verdicts(b)
	if len(after) != len(before) {
		t.Fatalf("after a restart the dashboard lists %d verdicts of the rollout, before it %d", len(after), len(before))
	}
	for i := range before {
		if !after[i].At.Equal(before[i].At) || after[i].Outcome != before[i].Outcome || after[i].CandidateN != before[i].CandidateN || after[i].Reason != before[i].Reason {
			t.Errorf("verdict %d after the restart %+v, before %+v", i, after[i], before[i])
		}
		if after[i].Metrics == nil {
			t.Errorf("verdict %d has metrics null (the page's table reads them): want [] when not kept", i)
		}
	}
}
