package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

var rolloutTests = []test{
	{"RoundTrip", testRolloutRoundTrip},
	{"LatestPerModel", testRolloutLatest},
	{"OldUnboundedEnds", testRolloutOldUnboundedEnds},
	{"History", testRolloutHistory},
	{"HistoryAllModels", testRolloutHistoryAllModels},
}

// fullRollout returns a rollout of chat with every field set, including
// JSON documents, pointers and times in a zone other than UTC.
func fullRollout(id string, phase sluice.Phase) sluice.Rollout {
	yes := true
	hi, lo := 0.05, 0.0
	zone := time.FixedZone("CET", 3600)
	return sluice.Rollout{
		ID: id,
		Spec: sluice.RolloutSpec{
			Model: "chat", Candidate: "v1.1.0", Baseline: "v1.0.0", Strategy: sluice.StrategyProgressive,
			Stages: []sluice.RolloutStage{
				{Percent: 1, Hold: sluice.Duration(5 * time.Minute), MinSamples: 100},
				{Percent: 12.5, Hold: sluice.Duration(time.Hour), MinSamples: 1000},
			},
			CanaryPercent: 10, ShadowFraction: 0.5, ShadowSamples: 200, ABSamples: 5000,
			RollbackWindow: sluice.Duration(24 * time.Hour),
			Analysis: sluice.AnalysisSpec{
				Interval: sluice.Duration(10 * time.Second), Alpha: 0.05, MinSamples: 100, FailChecks: 2,
				Thresholds: sluice.Thresholds{ErrorRateRel: 0.5, ErrorRateAbs: 0.005, LatencyRel: 0.2},
				Categories: &yes,
				Prometheus: []sluice.PromGate{{Name: "gpu", Query: `avg(gpu_util{model="chat"})`, Max: &hi, Min: &lo}},
			},
			Warmup:      sluice.WarmupSpec{Requests: 5, Prompts: []string{"hello", "ünïcødé ✓"}, LatencyBudget: sluice.Duration(30 * time.Second), MaxFailures: 1},
			AutoPromote: true,
		},
		Actor: "alice", Reason: "ship v1.1.0",
		Phase: phase, StageIndex: 1, Percent: 12.5,
		StartedAt:      at(0).In(zone),
		LiveAt:         at(time.Minute),
		StageStartedAt: at(10 * time.Minute),
		UpdatedAt:      at(11 * time.Minute),
		PausedFrom:     sluice.PhaseProgressing,
		HeldFor:        sluice.Duration(90 * time.Second),
		FailStreak:     1,
		PreviousPolicy: sluice.Policy{Kind: sluice.PolicySplit, Split: []sluice.Weight{{Version: "v1.0.0", Percent: 87.49}, {Version: "v1.1.0", Percent: 12.5}, {Version: "v0.9.0", Percent: 0.01}}, Salt: "salt-2026-11"},
		PreviousLabels: map[string]string{"stable": "v1.0.0"},
		LastVerdict:    json.RawMessage(`{ "outcome": "inconclusive",  "metrics": [ {"metric": "error_rate", "p_value": 0.3} ] }`),
		Events: []sluice.RolloutEvent{
			{At: at(0), Kind: "started", Message: "started by alice", Percent: 0},
			{At: at(time.Minute).In(zone), Kind: "stage", Message: "stage 1: 1%", Percent: 1, Data: json.RawMessage(`{"stage": 0}`)},
		},
		Warmup: &sluice.WarmupTally{Requests: 5, Failed: 1, FirstFailure: "request 1 to http://vllm:8000 answered 500"},
		// A pending rollback's alerts, among them the close of the
		// controller's pause's page that another replica may have to send.
		Unwinding: &sluice.Unwind{Owner: "gw-1-4242-0a1b2c3d", Since: at(11 * time.Minute), Unload: true, Alerts: []sluice.UnwindAlert{{
			Severity: "warning", Event: "aborted", Message: "rollout chat-1 of chat:v1.1.0 aborted by bob: wrong build",
			PauseClose: "the controller's pause of rollout chat-1 of chat:v1.1.0 is over: the rollout ended while paused (aborted by bob: wrong build)",
		}}},
	}
}

func putRollout(t *testing.T, e *sluice.Edit, r sluice.Rollout) {
	t.Helper()
	if err := e.PutRollout(r); err != nil {
		t.Fatalf("PutRollout %s: %v", r.ID, err)
	}
}

// testRolloutRoundTrip writes a rollout in the same change as the split it
// sets, then updates it.
func testRolloutRoundTrip(t *testing.T, s sluice.Store) {
	seed(t, s)
	want := edit(t, s, "start rollout", at(11*time.Minute), func(e *sluice.Edit) {
		putRollout(t, e, fullRollout("chat-1", sluice.PhaseProgressing))
		e.AddAudit("rollout.start", "chat", "chat-1", nil, map[string]any{"candidate": "v1.1.0"})
	})
	got := mustLoad(t, s)
	equalRegistry(t, got, want)
	r := got.Rollouts["chat"]
	if r == nil || r.ID != "chat-1" || r.Spec.Analysis.Categories == nil || !*r.Spec.Analysis.Categories ||
		len(r.Events) != 2 || !sameJSON(r.Events[1].Data, json.RawMessage(`{"stage":0}`)) || !r.StartedAt.Equal(t0) {
		t.Fatalf("rollout read back = %+v, want chat-1 with its spec, events and times", r)
	}

	want = edit(t, s, "promote", at(time.Hour), func(e *sluice.Edit) {
		r := e.Registry().Rollouts["chat"].Clone()
		r.Phase, r.Percent, r.EndedAt, r.Decision = sluice.PhasePromoted, 100, at(time.Hour), "promoted by alice"
		r.Events = append(r.Events, sluice.RolloutEvent{At: at(time.Hour), Kind: "promoted", Message: "all traffic", Percent: 100})
		putRollout(t, e, r)
		must(t, "SetPolicy", e.SetPolicy("chat", sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.1.0"}))
	})
	equalRegistry(t, mustLoad(t, s), want)
}

// testRolloutLatest checks that the registry holds, per model, the rollout
// written last, and that other models' rollouts are apart.
func testRolloutLatest(t *testing.T, s sluice.Store) {
	seed(t, s)
	first := fullRollout("chat-1", sluice.PhaseRolledBack)
	first.EndedAt = at(20 * time.Minute)
	want := edit(t, s, "first", at(20*time.Minute), func(e *sluice.Edit) { putRollout(t, e, first) })
	equalRegistry(t, mustLoad(t, s), want)

	second := fullRollout("chat-2", sluice.PhaseProgressing)
	second.Spec.Candidate = "v1.0.0"
	emb := fullRollout("embed-1", sluice.PhaseShadow)
	emb.Spec.Model, emb.Spec.Candidate, emb.Spec.Baseline = "embed", "2026-11-20", "2026-01-15"
	want = edit(t, s, "second", at(30*time.Minute), func(e *sluice.Edit) {
		putRollout(t, e, emb)
		putRollout(t, e, second)
	})
	got := mustLoad(t, s)
	equalRegistry(t, got, want)
	if got.Rollouts["chat"].ID != "chat-2" || got.Rollouts["embed"].ID != "embed-1" {
		t.Fatalf("rollouts = chat %s, embed %s; want chat-2 and embed-1", got.Rollouts["chat"].ID, got.Rollouts["embed"].ID)
	}

	// Ending chat-2 and then touching the older chat-1 makes chat-1 the
	// latest again, as the edit says.
	want = edit(t, s, "end and revisit", at(40*time.Minute), func(e *sluice.Edit) {
		r := e.Registry().Rollouts["chat"].Clone()
		r.Phase, r.EndedAt = sluice.PhaseAborted, at(40*time.Minute)
		putRollout(t, e, r)
		first.Decision = "revisited"
		putRollout(t, e, first)
	})
	got = mustLoad(t, s)
	equalRegistry(t, got, want)
	if got.Rollouts["chat"].ID != "chat-1" {
		t.Fatalf("latest chat rollout = %s, want chat-1, written last", got.Rollouts["chat"].ID)
	}
}

// historyIDs reads q's history and returns its ids in order.
func historyIDs(t *testing.T, s sluice.Store, q sluice.RolloutQuery) []string {
	t.Helper()
	list, err := s.RolloutHistory(t.Context(), q)
	if err != nil {
		t.Fatalf("RolloutHistory(%+v): %v", q, err)
	}
	ids := []string{}
	for _, r := range list {
		if q.Model != "" && r.Spec.Model != q.Model {
			t.Errorf("RolloutHistory(%+v) returned %s of model %s", q, r.ID, r.Spec.Model)
		}
		ids = append(ids, r.ID)
	}
	return ids
}

// testRolloutHistory keeps every rollout of a model, ended ones too, and
// reads them newest first, a page at a time, or one by its id.
func testRolloutHistory(t *testing.T, s sluice.Store) {
	seed(t, s)
	if ids := historyIDs(t, s, sluice.RolloutQuery{Model: "chat"}); len(ids) != 0 {
		t.Fatalf("history before any rollout = %v, want none", ids)
	}
	// chat-1 to chat-3 in turn, each ended before the next starts; an
	// embed rollout between them stays out of chat's history.
	for i, phase := range []sluice.Phase{sluice.PhasePromoted, sluice.PhaseAborted, sluice.PhaseProgressing} {
		id := fmt.Sprintf("chat-%d", i+1)
		r := fullRollout(id, sluice.PhaseProgressing)
		r.StartedAt = at(time.Duration(i) * time.Hour)
		edit(t, s, "start "+id, at(time.Duration(i)*time.Hour), func(e *sluice.Edit) { putRollout(t, e, r) })
		if i == 0 {
			emb := fullRollout("embed-1", sluice.PhaseShadow)
			emb.Spec.Model, emb.Spec.Candidate, emb.Spec.Baseline = "embed", "2026-11-20", "2026-01-15"
			edit(t, s, "start embed-1", at(time.Minute), func(e *sluice.Edit) { putRollout(t, e, emb) })
		}
		if phase != sluice.PhaseProgressing {
			r.Phase, r.EndedAt, r.Decision = phase, at(time.Duration(i)*time.Hour+time.Minute), "ended "+string(phase)
			edit(t, s, "end "+id, r.EndedAt, func(e *sluice.Edit) { putRollout(t, e, r) })
		}
	}

	if ids := historyIDs(t, s, sluice.RolloutQuery{Model: "chat"}); !slices.Equal(ids, []string{"chat-3", "chat-2", "chat-1"}) {
		t.Fatalf("chat's history = %v, want chat-3, chat-2, chat-1", ids)
	}
	if ids := historyIDs(t, s, sluice.RolloutQuery{Model: "embed"}); !slices.Equal(ids, []string{"embed-1"}) {
		t.Fatalf("embed's history = %v, want embed-1", ids)
	}
	if ids := historyIDs(t, s, sluice.RolloutQuery{Model: "nope"}); len(ids) != 0 {
		t.Fatalf("an unknown model's history = %v, want none", ids)
	}

	// Pages: two, then the rest from the last one shown.
	if ids := historyIDs(t, s, sluice.RolloutQuery{Model: "chat", Limit: 2}); !slices.Equal(ids, []string{"chat-3", "chat-2"}) {
		t.Fatalf("first page = %v, want chat-3, chat-2", ids)
	}
	if ids := historyIDs(t, s, sluice.RolloutQuery{Model: "chat", Limit: 2, Before: "chat-2"}); !slices.Equal(ids, []string{"chat-1"}) {
		t.Fatalf("page before chat-2 = %v, want chat-1", ids)
	}
	if ids := historyIDs(t, s, sluice.RolloutQuery{Model: "chat", Before: "chat-1"}); len(ids) != 0 {
		t.Fatalf("page before the oldest = %v, want none", ids)
	}
	for _, before := range []string{"chat-9", "embed-1"} {
		_, err := s.RolloutHistory(t.Context(), sluice.RolloutQuery{Model: "chat", Before: before})
		if sluice.ErrorCode(err) != sluice.CodeNotFound || !strings.Contains(sluice.ErrorMessage(err), before) {
			t.Errorf("history of chat before %s: err %v, want not found naming it", before, err)
		}
	}

	// One by its id, whole: the ended one as it ended.
	list, err := s.RolloutHistory(t.Context(), sluice.RolloutQuery{Model: "chat", ID: "chat-2"})
	if err != nil || len(list) != 1 {
		t.Fatalf("chat-2 by id: %d rollouts, err %v; want it alone", len(list), err)
	}
	r := list[0]
	if r.ID != "chat-2" || r.Phase != sluice.PhaseAborted || r.Decision != "ended aborted" || !r.EndedAt.Equal(at(time.Hour+time.Minute)) ||
		len(r.Events) != 2 || r.Actor != "alice" || r.Reason != "ship v1.1.0" || !sameJSON(r.LastVerdict, fullRollout("x", "").LastVerdict) {
		t.Fatalf("chat-2 by id = %+v, want it as written when it ended", r)
	}
	for _, tm := range []time.Time{r.StartedAt, r.EndedAt, r.Events[1].At} {
		checkUTC(t, "chat-2 time", tm)
	}
	for _, q := range []sluice.RolloutQuery{{Model: "chat", ID: "embed-1"}, {Model: "chat", ID: "chat-9"}} {
		if ids := historyIDs(t, s, q); len(ids) != 0 {
			t.Errorf("history %+v = %v, want none", q, ids)
		}
	}
}

// testRolloutHistoryAllModels reads every model's rollouts at once (no
// Model) newest started first, a page at a time: by start, not by the
// order they were last written, as a live rollout is written again at
// each of its analyses while others start after it.
func testRolloutHistoryAllModels(t *testing.T, s sluice.Store) {
	seed(t, s)
	if ids := historyIDs(t, s, sluice.RolloutQuery{}); len(ids) != 0 {
		t.Fatalf("history before any rollout = %v, want none", ids)
	}
	chat := func(id string, start time.Duration) sluice.Rollout {
		r := fullRollout(id, sluice.PhaseProgressing)
		r.StartedAt = at(start)
		return r
	}
	end := func(r sluice.Rollout, when time.Duration) sluice.Rollout {
		r.Phase, r.EndedAt, r.Decision = sluice.PhaseAborted, at(when), "aborted"
		return r
	}
	emb := fullRollout("embed-1", sluice.PhaseShadow)
	emb.Spec.Model, emb.Spec.Candidate, emb.Spec.Baseline = "embed", "2026-11-20", "2026-01-15"
	emb.StartedAt = at(time.Minute)
	steps := []struct {
		when time.Duration
		r    sluice.Rollout
	}{
		{0, chat("chat-1", 0)},
		{time.Minute, emb},
		{30 * time.Minute, end(chat("chat-1", 0), 30*time.Minute)},
		{time.Hour, chat("chat-2", time.Hour)},
		{2 * time.Hour, end(chat("chat-2", time.Hour), 2*time.Hour)},
		{2 * time.Hour, chat("chat-3", 2*time.Hour)},
		{3 * time.Hour, emb}, // an analysis of embed-1 writes it again, last
	}
	for i, st := range steps {
		edit(t, s, fmt.Sprintf("step %d", i), at(st.when), func(e *sluice.Edit) { putRollout(t, e, st.r) })
	}
	if ids := historyIDs(t, s, sluice.RolloutQuery{}); !slices.Equal(ids, []string{"chat-3", "chat-2", "embed-1", "chat-1"}) {
		t.Fatalf("every model's history = %v, want chat-3, chat-2, embed-1, chat-1 (newest started first)", ids)
	}
	if ids := historyIDs(t, s, sluice.RolloutQuery{Limit: 2}); !slices.Equal(ids, []string{"chat-3", "chat-2"}) {
		t.Fatalf("first page = %v, want chat-3, chat-2", ids)
	}
	if ids := historyIDs(t, s, sluice.RolloutQuery{Limit: 2, Before: "chat-2"}); !slices.Equal(ids, []string{"embed-1", "chat-1"}) {
		t.Fatalf("page before chat-2 = %v, want embed-1, chat-1", ids)
	}
	if ids := historyIDs(t, s, sluice.RolloutQuery{Before: "embed-1"}); !slices.Equal(ids, []string{"chat-1"}) {
		t.Fatalf("page before embed-1 = %v, want chat-1", ids)
	}
	if ids := historyIDs(t, s, sluice.RolloutQuery{ID: "embed-1"}); !slices.Equal(ids, []string{"embed-1"}) {
		t.Fatalf("embed-1 by id without its model = %v, want it", ids)
	}
	_, err := s.RolloutHistory(t.Context(), sluice.RolloutQuery{Before: "chat-9"})
	if sluice.ErrorCode(err) != sluice.CodeNotFound || !strings.Contains(sluice.ErrorMessage(err), "chat-9") {
		t.Errorf("history before chat-9: err %v, want not found naming it", err)
	}
	// A model's own history keeps its order (by seq).
	if ids := historyIDs(t, s, sluice.RolloutQuery{Model: "chat"}); !slices.Equal(ids, []string{"chat-3", "chat-2", "chat-1"}) {
		t.Fatalf("chat's history = %v, want chat-3, chat-2, chat-1", ids)
	}
}
