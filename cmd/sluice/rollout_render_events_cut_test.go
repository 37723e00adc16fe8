package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// What the user sees: `sluice rollout status chat` of a rollout that has
// paused, resumed and passed a stage lists its events from "warmed" on:
// the "started" event, which says who started it and why, is gone, and
// nothing says the list was cut.
// What must happen: the status shows the latest events and says how many
// earlier ones it left out and the command that shows every one; the
// whole view (--id) shows them all with no such line.
func TestRenderRollout_EventsCutSaySo(t *testing.T) {
	now := time.Date(2026, 11, 22, 14, 10, 0, 0, time.UTC)
	spec := sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyProgressive}
	r := sluice.Rollout{ID: "chat-20261122-140000.000", Phase: sluice.PhaseProgressing, Percent: 50, Spec: spec}
	r.Events = append(r.Events, sluice.RolloutEvent{At: now.Add(-10 * time.Minute), Kind: "started", Message: "progressive rollout of chat:v2 from v1 started by alice: support fine-tune 3"})
	for i := range 10 {
		r.Events = append(r.Events, sluice.RolloutEvent{At: now.Add(time.Duration(i-9) * time.Minute), Kind: "verdict", Message: fmt.Sprintf("analysis %d", i)})
	}
	st := api.RolloutStatus{Rollout: r}
	out := renderRollout(st, now)
	if !strings.Contains(out, "analysis 9") || strings.Contains(out, "analysis 1\n") {
		t.Fatalf("want the latest 8 events:\n%s", out)
	}
	hint := "(3 earlier events: sluice rollout status chat --id chat-20261122-140000.000 shows every one)"
	if !strings.Contains(out, "Events:\n  "+hint+"\n") {
		t.Errorf("the cut event list does not say so; want %q:\n%s", hint, out)
	}
	whole := renderRolloutWhole(st, now)
	if !strings.Contains(whole, "started by alice") || strings.Contains(whole, "earlier event") {
		t.Errorf("the whole view: want every event and no cut line:\n%s", whole)
	}
	st.Rollout.Events = r.Events[:8]
	if out := renderRollout(st, now); strings.Contains(out, "earlier event") || !strings.Contains(out, "started by alice") {
		t.Errorf("8 events: want all of them and no cut line:\n%s", out)
	}
	st.Rollout.Events = r.Events[:9]
	if out := renderRollout(st, now); !strings.Contains(out, "(1 earlier event: sluice rollout status chat --id chat-20261122-140000.000 shows every one)") {
		t.Errorf("9 events: want one left out, said in the singular:\n%s", out)
	}
}
