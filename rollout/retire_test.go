package rollout_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// A version in an active rollout cannot be retired: a candidate retired
// during its warm-up could never go live (the rollout stayed warming for
// ever, warming it again every tick), and one retired while a pipeline
// mirrored to it kept being mirrored, each analysis refused going live.
// Retiring it is refused with a conflict that says to abort first, during
// the warm-up and during the shadow phase; after the abort it works.
func TestRetireVersionInRolloutRefused(t *testing.T) {
	retire := func(e *rvEnv) error {
		_, err := e.ctl.Do(e.ctx, "carol", "by hand", func(ed *sluice.Edit) error {
			return ed.SetStage("chat:v2", sluice.StageRetired, time.Time{})
		})
		return err
	}
	t.Run("Warmup", func(t *testing.T) {
		w := &rvWarmer{gate: make(chan struct{})}
		e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, func(o *rollout.Options) { o.Warmer = w })
		if _, err := e.c.Start(e.ctx, "alice", "ship v2", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary}); err != nil {
			t.Fatal(err)
		}
		err := retire(e)
		close(w.gate)
		e.c.Wait()
		if sluice.ErrorCode(err) != sluice.CodeConflict {
			t.Fatalf("retiring the candidate during its warm-up: %v, want a conflict", err)
		}
		ctx, cancel := context.WithCancel(e.ctx)
		cancel()
		e.c.Step(ctx)
		e.c.Wait()
		if p := e.ctl.Registry().Rollouts["chat"].Phase; p != sluice.PhaseProgressing {
			t.Errorf("after the refused retirement the rollout is %s, want progressing (live)", p)
		}
	})
	t.Run("Shadow", func(t *testing.T) {
		e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, func(o *rollout.Options) { o.Shadow = &rvShadow{} })
		e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyPipeline, ShadowSamples: 100})
		if p := e.ctl.Registry().Rollouts["chat"].Phase; p != sluice.PhaseShadow {
			t.Fatalf("phase %s", p)
		}
		if err := retire(e); sluice.ErrorCode(err) != sluice.CodeConflict {
			t.Fatalf("retiring the candidate while it is mirrored to: %v, want a conflict", err)
		}
		e.act(t, rollout.EvAbort, "not now")
		if err := retire(e); err != nil {
			t.Errorf("retiring the candidate after the abort: %v", err)
		}
	})
}

type rvShadow struct {
	mu sync.Mutex
	f  float64
}

func (s *rvShadow) SetShadow(model, candidateID string, fraction float64) {
	s.mu.Lock()
	s.f = fraction
	s.mu.Unlock()
}

func (s *rvShadow) fraction() float64 { s.mu.Lock(); defer s.mu.Unlock(); return s.f }

// The baseline of a promoted rollout cannot be retired while the rollout
// can still be undone to it (its rollback window); before, undo was then
// refused. Deprecating it is fine, and after the window retiring it is.
func TestRetireBaselineWithinRollbackWindowRefused(t *testing.T) {
	e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, nil)
	e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary})
	e.act(t, rollout.EvPromote, "")
	stage := func(to sluice.Stage) error {
		_, err := e.ctl.Do(e.ctx, "carol", "clean up", func(ed *sluice.Edit) error {
			return ed.SetStage("chat:v1", to, time.Time{})
		})
		return err
	}
	if err := stage(sluice.StageRetired); sluice.ErrorCode(err) != sluice.CodeConflict {
		t.Fatalf("retiring the baseline right after the promotion: %v, want a conflict", err)
	}
	if err := stage(sluice.StageDeprecated); err != nil {
		t.Fatalf("deprecating it: %v", err)
	}
	e.clock.Add(25 * time.Hour)
	if err := stage(sluice.StageRetired); err != nil {
		t.Errorf("retiring it after the 24h window: %v", err)
	}
}
