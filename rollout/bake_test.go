package rollout

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/promgate"
)

// TestNext_Bake is the decision table of the bake after a promotion
// (RolloutSpec.Bake): a candidate that held up at a share of the traffic
// can still fail at all of it (its backend at twice the load, a request
// mix the stages never reached). With a bake, the promotion moves all
// traffic as before but the rollout stays active, watching the candidate's
// error and cancel rates and the Prometheus gates (as an A/B test's
// guardrail does); failing them FailChecks analyses in a row undoes the
// promotion at once, and the bake's end makes it promoted.
func TestNext_Bake(t *testing.T) {
	const bake = 10 * time.Minute
	// promoted starts a canary with a bake and promotes it by hand at t0.
	promoted := func(t *testing.T) (sluice.Rollout, []Action) {
		t.Helper()
		r := mustStart(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary, Bake: sluice.BakeFor(bake), Analysis: sluice.AnalysisSpec{FailChecks: 2}})
		r, _ = must(t, r, t0, Event{Kind: EvWarmed})
		return must(t, r, t0, Event{Kind: EvPromote, Actor: "alice", Message: "looks good"})
	}
	after := func(d time.Duration) time.Time { return t0.Add(d) }
	analysis := func(v *sluice.Verdict) Event { return Event{Kind: EvAnalysis, Verdict: v} }

	t.Run("PromotionBakes", func(t *testing.T) {
		r, acts := promoted(t)
		if r.Phase != sluice.PhaseBaking || !r.Phase.Active() || r.Percent != 100 || !r.BakeFrom.Equal(t0) || !r.EndedAt.IsZero() {
			t.Fatalf("after promote: phase %s active %v percent %v bake from %v ended %v; want baking, active, 100, t0, not ended", r.Phase, r.Phase.Active(), r.Percent, r.BakeFrom, r.EndedAt)
		}
		// The routing moves now: the bake watches the candidate on all
		// traffic, with the baseline still loaded to go back to.
		if !hasAction(acts, ActPromote) || hasAction(acts, ActUnload) || hasAction(acts, ActRestore) {
			t.Errorf("actions %v: want the promotion's routing, nothing unloaded", acts)
		}
		if e := r.Events[len(r.Events)-1]; e.Kind != "baking" || !strings.Contains(e.Message, "10m0s") || !strings.Contains(e.Message, "promoted by alice") {
			t.Errorf("event %s %q: want the bake's start, its length and who promoted", e.Kind, e.Message)
		}
	})
	t.Run("NoBakePromotesAtOnce", func(t *testing.T) {
		r := mustStart(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary})
		r, _ = must(t, r, t0, Event{Kind: EvWarmed})
		r, _ = must(t, r, t0, Event{Kind: EvPromote})
		if r.Phase != sluice.PhasePromoted || !r.BakeFrom.IsZero() {
			t.Fatalf("phase %s bake from %v: want promoted at once, no bake", r.Phase, r.BakeFrom)
		}
	})
	t.Run("PassesWhenItsTimeIsUp", func(t *testing.T) {
		r, _ := promoted(t)
		r, acts := must(t, r, after(bake/2), analysis(verdict(sluice.OutcomePass, 500, 900)))
		if r.Phase != sluice.PhaseBaking || len(acts) != 0 {
			t.Fatalf("half way: phase %s actions %v; want baking, nothing to do", r.Phase, acts)
		}
		r, acts = must(t, r, after(bake), analysis(verdict(sluice.OutcomeInconclusive, 500, 1800)))
		if r.Phase != sluice.PhasePromoted || !r.EndedAt.Equal(after(bake)) || !hasAction(acts, ActAlert) || hasAction(acts, ActPromote) {
			t.Fatalf("at the bake's end: phase %s ended %v actions %v; want promoted then, an alert, the routing untouched", r.Phase, r.EndedAt, acts)
		}
		if !strings.Contains(r.Decision, "promoted by alice") || !strings.Contains(r.Decision, "baked for 10m0s") || !strings.Contains(r.Decision, "1800 requests") {
			t.Errorf("decision %q: want the promotion's reason and the bake, with its sample", r.Decision)
		}
	})
	t.Run("OtherMetricsDoNotStopIt", func(t *testing.T) {
		// Latency, lengths and quality against the baseline's before the
		// promotion compare two times, not two arms: not a bake's business.
		r, _ := promoted(t)
		for i, m := range []string{"latency_p99", "output_tokens", "quality", "refusal_rate"} {
			r, _ = must(t, r, after(time.Duration(i+1)*time.Second), analysis(failing(500, 500, m)))
		}
		if r.Phase != sluice.PhaseBaking {
			t.Fatalf("phase %s: want still baking", r.Phase)
		}
	})
	t.Run("ErrorRateRollsBack", func(t *testing.T) {
		r, _ := promoted(t)
		r, _ = must(t, r, after(time.Minute), analysis(failing(500, 300, "error_rate")))
		if r.Phase != sluice.PhaseBaking {
			t.Fatalf("one failing analysis: phase %s, want baking (FailChecks 2)", r.Phase)
		}
		if e := r.Events[len(r.Events)-1]; e.Kind != "verdict" || !strings.Contains(e.Message, "1 of 2 in a row") || !strings.Contains(e.Message, "error rate") {
			t.Errorf("event %s %q: want the bake's failing check on the timeline", e.Kind, e.Message)
		}
		r, acts := must(t, r, after(2*time.Minute), analysis(failing(500, 400, "error_rate/payments")))
		if r.Phase != sluice.PhaseRolledBack || r.Percent != 0 || !r.EndedAt.Equal(after(2*time.Minute)) {
			t.Fatalf("second failing analysis: phase %s percent %v; want rolled back", r.Phase, r.Percent)
		}
		for _, k := range []ActionKind{ActRestore, ActDrain, ActUnload, ActAlert} {
			if !hasAction(acts, k) {
				t.Errorf("actions %v lack %s: a bake's rollback undoes the promotion as an undo does", acts, k)
			}
		}
		if !strings.Contains(r.Decision, "bake") || !strings.Contains(r.Decision, "error rate in category payments") {
			t.Errorf("decision %q: want the bake and the failing rate named", r.Decision)
		}
	})
	t.Run("FailingGateRollsBack", func(t *testing.T) {
		max := 0.95
		gate := sluice.PromGate{Name: "kv_cache", Query: "q", Max: &max}
		v := promgate.Merge(*verdict(sluice.OutcomePass, 500, 500), []promgate.Result{{Gate: gate, Value: 0.99}})
		r, _ := promoted(t)
		r, _ = must(t, r, after(time.Minute), analysis(&v))
		r, _ = must(t, r, after(2*time.Minute), analysis(&v))
		if r.Phase != sluice.PhaseRolledBack || !strings.Contains(r.Decision, `Prometheus gate "kv_cache": 0.99 is above max 0.95`) {
			t.Fatalf("phase %s decision %q: want rolled back on the gate", r.Phase, r.Decision)
		}
	})
	t.Run("FailureAtItsEndStillCounts", func(t *testing.T) {
		// The last analysis is judged before the clock: a candidate
		// failing when the bake runs out is not promoted on it.
		r, _ := promoted(t)
		r, _ = must(t, r, after(bake-time.Second), analysis(failing(500, 300, "error_rate")))
		r, _ = must(t, r, after(bake+time.Second), analysis(failing(500, 300, "error_rate")))
		if r.Phase != sluice.PhaseRolledBack {
			t.Fatalf("phase %s, want rolled back", r.Phase)
		}
	})
	t.Run("OperatorEndsItEarly", func(t *testing.T) {
		r, _ := promoted(t)
		r, acts := must(t, r, after(time.Minute), Event{Kind: EvPromote, Actor: "bob", Message: "the dashboards are clean"})
		if r.Phase != sluice.PhasePromoted || hasAction(acts, ActPromote) || !strings.Contains(r.Decision, "bake ended early by bob") {
			t.Fatalf("phase %s decision %q actions %v: want promoted, the routing untouched, the early end named", r.Phase, r.Decision, acts)
		}
	})
	t.Run("UndoDuringTheBake", func(t *testing.T) {
		r, _ := promoted(t)
		r, acts := must(t, r, after(time.Minute), Event{Kind: EvUndo, Actor: "bob", Message: "payments broke"})
		if r.Phase != sluice.PhaseUndone || !hasAction(acts, ActRestore) || !hasAction(acts, ActUnload) {
			t.Fatalf("phase %s actions %v: want undone, restored, unloaded", r.Phase, acts)
		}
	})
	t.Run("AbortDuringTheBake", func(t *testing.T) {
		r, _ := promoted(t)
		r, acts := must(t, r, after(time.Minute), Event{Kind: EvAbort, Actor: "bob", Message: "stop"})
		if r.Phase != sluice.PhaseAborted || !hasAction(acts, ActRestore) || !hasAction(acts, ActUnload) {
			t.Fatalf("phase %s actions %v: want aborted, restored, unloaded", r.Phase, acts)
		}
	})
	t.Run("OutOfServiceRollsBack", func(t *testing.T) {
		r, _ := promoted(t)
		r, acts := must(t, r, after(time.Minute), Event{Kind: EvOutOfService, Message: "is unhealthy: every endpoint failed its health check"})
		if r.Phase != sluice.PhaseRolledBack || !hasAction(acts, ActRestore) {
			t.Fatalf("phase %s actions %v: want rolled back to the baseline, still loaded", r.Phase, acts)
		}
	})
	// An operator holds a bake's automatic decision as they hold any
	// stage (an incident elsewhere would fail its rates, a load test is
	// due): its analysis acts on nothing and its clock stops until resumed.
	// pausedAt pauses the rollout promoted at t0 at d into its bake.
	pausedAt := func(t *testing.T, d time.Duration) sluice.Rollout {
		t.Helper()
		r, _ := promoted(t)
		r, _ = must(t, r, after(d), analysis(verdict(sluice.OutcomePass, 500, 900)))
		r, acts := must(t, r, after(d), Event{Kind: EvPause, Actor: "carol", Message: "load test"})
		if r.Phase != sluice.PhasePaused || r.PausedFrom != sluice.PhaseBaking || !r.InBake() || r.Percent != 100 || len(acts) != 0 {
			t.Fatalf("pause while baking: phase %s from %s percent %v actions %v; want paused from baking, traffic where it is, nothing to do", r.Phase, r.PausedFrom, r.Percent, acts)
		}
		return r
	}
	t.Run("PauseStopsTheBakesClock", func(t *testing.T) {
		r := pausedAt(t, 4*time.Minute)
		if e := r.Events[len(r.Events)-1]; e.Kind != "paused" || !strings.Contains(e.Message, "by carol") || !strings.Contains(e.Message, "4m0s of 10m0s (6m0s left)") || !strings.Contains(e.Message, "load test") {
			t.Errorf("event %s %q: want who paused, the bake's time served and left, and why", e.Kind, e.Message)
		}
		if got := r.Baked(after(time.Hour)); got != 4*time.Minute {
			t.Errorf("baked an hour later while paused: %s, want 4m0s (the clock stopped)", got)
		}
		r, _ = must(t, r, after(30*time.Minute), Event{Kind: EvResume, Actor: "carol"})
		if r.Phase != sluice.PhaseBaking || r.PausedFrom != "" {
			t.Fatalf("resume: phase %s from %q; want baking again", r.Phase, r.PausedFrom)
		}
		if e := r.Events[len(r.Events)-1]; !strings.Contains(e.Message, "the bake continues from 4m0s of 10m0s") {
			t.Errorf("resume event %q: want where the bake continues from", e.Message)
		}
		// 30m after the promotion, 9m of it baked: not done.
		r, acts := must(t, r, after(35*time.Minute), analysis(verdict(sluice.OutcomePass, 500, 900)))
		if r.Phase != sluice.PhaseBaking || len(acts) != 0 {
			t.Fatalf("9m baked (35m after the promotion): phase %s actions %v; want still baking", r.Phase, acts)
		}
		r, _ = must(t, r, after(36*time.Minute), analysis(verdict(sluice.OutcomePass, 500, 1200)))
		if r.Phase != sluice.PhasePromoted || !strings.Contains(r.Decision, "baked for 10m0s") {
			t.Fatalf("10m baked: phase %s decision %q; want promoted", r.Phase, r.Decision)
		}
	})
	t.Run("TwoPausesBothLeftOut", func(t *testing.T) {
		r := pausedAt(t, 2*time.Minute)
		r, _ = must(t, r, after(10*time.Minute), Event{Kind: EvResume})
		r, _ = must(t, r, after(13*time.Minute), Event{Kind: EvPause}) // 5m baked
		r, _ = must(t, r, after(20*time.Minute), Event{Kind: EvResume})
		if got := r.Baked(after(24 * time.Minute)); got != 9*time.Minute {
			t.Fatalf("baked: %s, want 9m0s (2m + 3m + 4m)", got)
		}
		if got := r.Baked(after(time.Hour)); got != bake {
			t.Fatalf("baked long after: %s, want the bake's length at most", got)
		}
	})
	t.Run("NothingRolledBackWhilePaused", func(t *testing.T) {
		r := pausedAt(t, time.Minute)
		for i := range 5 {
			var acts []Action
			r, acts = must(t, r, after(time.Duration(2+i)*time.Minute), analysis(failing(500, 300, "error_rate")))
			if r.Phase != sluice.PhasePaused || len(acts) != 0 || r.FailStreak != 0 {
				t.Fatalf("failing analysis %d while paused: phase %s streak %d actions %v; want paused, nothing done", i+1, r.Phase, r.FailStreak, acts)
			}
		}
		// (A candidate out of service is rolled back even while paused:
		// TestNext_OutOfServiceInAPausedBake.)
		// Resumed, a failing candidate is rolled back as in any bake.
		r, _ = must(t, r, after(21*time.Hour), Event{Kind: EvResume})
		r, _ = must(t, r, after(21*time.Hour+time.Minute), analysis(failing(500, 300, "error_rate")))
		r, acts := must(t, r, after(21*time.Hour+2*time.Minute), analysis(failing(500, 300, "error_rate")))
		if r.Phase != sluice.PhaseRolledBack || !hasAction(acts, ActRestore) || !hasAction(acts, ActUnload) {
			t.Fatalf("failing after the resume: phase %s actions %v; want rolled back", r.Phase, acts)
		}
	})
	t.Run("PromoteWhilePausedEndsTheBake", func(t *testing.T) {
		r := pausedAt(t, time.Minute)
		r, acts := must(t, r, after(5*time.Minute), Event{Kind: EvPromote, Actor: "bob"})
		if r.Phase != sluice.PhasePromoted || r.PausedFrom != "" || !r.EndedAt.Equal(after(5*time.Minute)) || hasAction(acts, ActPromote) || !strings.Contains(r.Decision, "bake ended early by bob") {
			t.Fatalf("promote while paused: phase %s from %q ended %v decision %q actions %v; want promoted now, the routing untouched", r.Phase, r.PausedFrom, r.EndedAt, r.Decision, acts)
		}
	})
	t.Run("UndoWhilePaused", func(t *testing.T) {
		r := pausedAt(t, time.Minute)
		r, acts := must(t, r, after(5*time.Minute), Event{Kind: EvUndo, Actor: "bob", Message: "payments broke"})
		if r.Phase != sluice.PhaseUndone || r.PausedFrom != "" || !r.EndedAt.Equal(after(5*time.Minute)) || !hasAction(acts, ActRestore) || !hasAction(acts, ActUnload) {
			t.Fatalf("undo while paused: phase %s ended %v actions %v; want undone now, restored, unloaded", r.Phase, r.EndedAt, acts)
		}
	})
	t.Run("AbortWhilePaused", func(t *testing.T) {
		r := pausedAt(t, time.Minute)
		r, acts := must(t, r, after(5*time.Minute), Event{Kind: EvAbort, Actor: "bob", Message: "stop"})
		if r.Phase != sluice.PhaseAborted || !hasAction(acts, ActRestore) || !hasAction(acts, ActUnload) {
			t.Fatalf("abort while paused: phase %s actions %v; want aborted, restored, unloaded", r.Phase, acts)
		}
	})
	t.Run("PausedBakeSurvivesTheStore", func(t *testing.T) {
		// A restart or another leader reads the rollout document: the
		// pause and the time baked are in it.
		r := pausedAt(t, 3*time.Minute)
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back sluice.Rollout
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		if !back.InBake() || back.Baked(after(time.Hour)) != 3*time.Minute {
			t.Fatalf("read back: phase %s from %s baked %s; want paused from baking at 3m0s", back.Phase, back.PausedFrom, back.Baked(after(time.Hour)))
		}
		back, _ = must(t, back, after(time.Hour), Event{Kind: EvResume})
		back, _ = must(t, back, after(time.Hour+7*time.Minute), analysis(verdict(sluice.OutcomePass, 500, 900)))
		if back.Phase != sluice.PhasePromoted {
			t.Fatalf("7m after the resume of a bake paused at 3m: phase %s, want promoted", back.Phase)
		}
	})
	t.Run("PauseTwiceOrResumeUnpausedRefused", func(t *testing.T) {
		r := pausedAt(t, time.Minute)
		if _, _, err := Next(r, Event{Kind: EvPause}, after(2*time.Minute)); sluice.ErrorCode(err) != sluice.CodeConflict || !strings.Contains(err.Error(), "already paused") {
			t.Errorf("second pause: %v; want a conflict saying it is already paused", err)
		}
		r, _ = promoted(t)
		if _, _, err := Next(r, Event{Kind: EvResume}, after(2*time.Minute)); sluice.ErrorCode(err) != sluice.CodeConflict || !strings.Contains(err.Error(), "not paused") {
			t.Errorf("resume while baking: %v; want a conflict saying it is not paused", err)
		}
	})
	t.Run("UndoWindowCountsFromTheBakesEnd", func(t *testing.T) {
		r, _ := promoted(t)
		r, _ = must(t, r, after(bake), analysis(verdict(sluice.OutcomePass, 500, 900)))
		// 24h after the promotion but within 24h of the bake's end.
		r, _ = must(t, r, after(24*time.Hour+time.Minute), Event{Kind: EvUndo})
		if r.Phase != sluice.PhaseUndone {
			t.Fatalf("phase %s, want undone", r.Phase)
		}
	})
	t.Run("NegativeBakeRefused", func(t *testing.T) {
		prev := &sluice.Model{Name: "chat", Policy: sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}}
		_, _, err := Start("chat-1", sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyCanary, Bake: sluice.BakeFor(-time.Minute)}, prev, "alice", "x", t0)
		if sluice.ErrorCode(err) != sluice.CodeInvalid || !strings.Contains(err.Error(), "bake") {
			t.Fatalf("negative bake: %v", err)
		}
	})
}
