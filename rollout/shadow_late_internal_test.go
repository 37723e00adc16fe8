package rollout

import (
	"context"
	"sync"
	"testing"

	"github.com/sluicehq/sluice"
)

type fractionShadow struct {
	mu sync.Mutex
	f  float64
}

func (s *fractionShadow) SetShadow(model, candidateID string, fraction float64) {
	s.mu.Lock()
	s.f = fraction
	s.mu.Unlock()
}

func (s *fractionShadow) fraction() float64 { s.mu.Lock(); defer s.mu.Unlock(); return s.f }

// What the user does: starts a shadow rollout of v2 and aborts it at about
// the moment its warm-up moves it to the shadow phase, so the abort commits
// between that move's commit and the move's own side effects (found by the
// review of the shadow sync).
// What must happen: the late "start mirroring" of the move does not turn
// mirroring back on for the aborted rollout. Before, it called the proxy
// directly, behind the sync's back, and no tick ever turned it off: live
// traffic was mirrored to the aborted candidate until a restart.
func TestLateStartShadowAfterAbortStaysOff(t *testing.T) {
	ctx := context.Background()
	ctl := chatControl(t)
	sh := &fractionShadow{}
	c := New(Options{Control: ctl, Windows: noWindows{}, Warmer: okWarmer{}, Shadow: sh, InFlight: func(string) int64 { return 0 }})
	t.Cleanup(c.Wait)
	r, err := c.Start(ctx, "alice", "mirror v2", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyShadow, ShadowFraction: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	c.Wait() // the warm-up, and the move to the shadow phase
	if p := ctl.Registry().Rollouts["chat"].Phase; p != sluice.PhaseShadow || sh.fraction() != 0.5 {
		t.Fatalf("phase %s mirroring %v, want the shadow phase mirroring half", p, sh.fraction())
	}
	if _, err := c.Act(ctx, "bob", "chat", EvAbort, "wrong build"); err != nil {
		t.Fatal(err)
	}
	c.Wait()
	if f := sh.fraction(); f != 0 {
		t.Fatalf("mirroring %v after the abort", f)
	}
	// The move's side effects, late.
	c.afterCommit(ctx, r, []Action{{Kind: ActStartShadow, Fraction: 0.5}}, commit{})
	c.Step(ctx)
	c.Wait()
	if f := sh.fraction(); f != 0 {
		t.Fatalf("the late start of the shadow phase mirrors %v of chat to the aborted candidate", f)
	}
}

type okWarmer struct{}

func (okWarmer) Warm(context.Context, *sluice.Version, sluice.WarmupSpec) error { return nil }
