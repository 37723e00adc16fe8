package api_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestRolloutHistory_ModelRetiredWhole: a postmortem reads the rollouts
// of a model whose every version was retired since. The registry never
// drops a model (no API deletes one, and a stored rollout's model is a
// foreign key to it), so its history and each rollout by id still answer,
// from the store, and rollout list still shows its latest.
func TestRolloutHistory_ModelRetiredWhole(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustSeed(t)
	e.mustRolloutHistory(t, 2)
	ended := e.Ctl.Registry().Rollouts["chat"].Clone()
	ended.Phase, ended.Percent, ended.EndedAt, ended.Decision = sluice.PhaseAborted, 0, ended.StartedAt.Add(time.Minute), "aborted by otto: chat is going"
	if _, err := e.Ctl.Do(ctx, "test", "end chat-2", func(ed *sluice.Edit) error { return ed.PutRollout(ended) }); err != nil {
		t.Fatalf("end chat-2: %v", err)
	}
	if _, err := e.Admin.SetPolicy(ctx, "chat", sluice.Policy{Kind: sluice.PolicyOff}, "chat is being shut down"); err != nil {
		t.Fatalf("policy off: %v", err)
	}
	for _, v := range []string{"v1.0.0", "v1.1.0", "v1.2.0"} {
		if _, err := e.Admin.SetStage(ctx, "chat:"+v, sluice.StageRetired, time.Time{}, "chat is shut down"); err != nil {
			t.Fatalf("retire %s: %v", v, err)
		}
	}
	page, err := e.Viewer.RolloutHistory(ctx, "chat", "", 0)
	if err != nil || !slices.Equal(ids(page.Rollouts), []string{"chat-2", "chat-1"}) {
		t.Fatalf("history of chat retired whole = %v, err %v; want chat-2, chat-1", ids(page.Rollouts), err)
	}
	st, err := e.Viewer.RolloutByID(ctx, "chat", "chat-1")
	if err != nil || st.Rollout.ID != "chat-1" || !strings.HasPrefix(st.Policy, "off") {
		t.Fatalf("chat-1 of chat retired whole = %+v (policy %q), err %v", st.Rollout, st.Policy, err)
	}
	latest, err := e.Viewer.Rollouts(ctx, "")
	if err != nil || !slices.Equal(ids(latest), []string{"chat-2"}) {
		t.Fatalf("rollout list with chat retired whole = %v, err %v; want chat-2", ids(latest), err)
	}
}
