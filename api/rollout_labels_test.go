package api_test

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/sluicehq/sluice"
)

// mustLabeledRollout sets chat's labels (stable on the baseline, preview on
// the candidate as a blue-green rollout leaves it, and a free one, beta),
// then puts a live rollout of chat in phase in the store.
func (e *env) mustLabeledRollout(tb testing.TB, phase sluice.Phase) {
	tb.Helper()
	if _, err := e.Oper.SetLabels(context.Background(), "chat", map[string]string{"stable": "v1.1.0", "preview": "v1.2.0", "beta": "v1.0.0"}, "setup"); err != nil {
		tb.Fatalf("labels: %v", err)
	}
	e.mustLiveRollout(tb, phase)
}

// TestSetLabel_RolloutLabelsRefusedDuringRollout: the labels a rollout
// maintains itself (stable, preview) could be moved or removed by hand
// while it ran, although its policy could not: retries and the next
// rollout's baseline followed a stable label the rollout knew nothing of,
// and a preview moved off the candidate stayed so after the rollback. Each
// way to move or remove one (PUT, DELETE, PATCH) is refused with 409 naming
// the rollout and what to do, changes nothing (a PATCH is refused whole),
// and setting one to the version it names already passes.
func TestSetLabel_RolloutLabelsRefusedDuringRollout(t *testing.T) {
	for _, phase := range []sluice.Phase{sluice.PhaseProgressing, sluice.PhasePaused} {
		t.Run(string(phase), func(t *testing.T) {
			ctx := context.Background()
			e := MustEnv(t)
			e.MustSeed(t)
			e.mustLabeledRollout(t, phase)
			before, _ := e.Store.LoadRegistry(ctx)
			for _, c := range []struct{ method, path, body, label string }{
				{"PUT", "/admin/v1/models/chat/labels/stable", `{"version":"v1.0.0","reason":"move stable"}`, "stable"},
				{"DELETE", "/admin/v1/models/chat/labels/stable", `{"reason":"drop stable"}`, "stable"},
				{"PUT", "/admin/v1/models/chat/labels/preview", `{"version":"v1.1.0","reason":"move preview"}`, "preview"},
				{"DELETE", "/admin/v1/models/chat/labels/preview", `{"reason":"drop preview"}`, "preview"},
				{"PATCH", "/admin/v1/models/chat/labels", `{"labels":{"beta":"v1.2.0","stable":"v1.0.0"},"reason":"both"}`, "stable"},
				{"PATCH", "/admin/v1/models/chat/labels", `{"labels":{"preview":""},"reason":"drop preview"}`, "preview"},
			} {
				r := e.do(t, c.method, c.path, operatorSecret, []byte(c.body))
				r.want(t, http.StatusConflict, "rollout chat-1", "label "+c.label, "sluice rollout abort chat", "sluice rollout promote chat", "another name")
			}
			after, _ := e.Store.LoadRegistry(ctx)
			if after.Revision != before.Revision {
				t.Errorf("refused label changes still committed: revision %d → %d", before.Revision, after.Revision)
			}
			if got := after.Models["chat"].Labels; !maps.Equal(got, before.Models["chat"].Labels) {
				t.Errorf("labels after refusals = %v, want %v", got, before.Models["chat"].Labels)
			}

			// The version it names already: nothing moves, nothing refused.
			if _, err := e.Oper.SetLabel(ctx, "chat", "stable", "v1.1.0", "same"); err != nil {
				t.Errorf("stable set to the version it names: %v", err)
			}
			// Other labels stay free.
			if _, err := e.Oper.SetLabels(ctx, "chat", map[string]string{"beta": "v1.2.0", "canary": "v1.2.0"}, "free ones"); err != nil {
				t.Errorf("free labels during a rollout: %v", err)
			}
			if _, err := e.Oper.DeleteLabel(ctx, "chat", "beta", "free one"); err != nil {
				t.Errorf("removing a free label during a rollout: %v", err)
			}

			// Open again once the rollout has ended.
			if _, err := e.Oper.RolloutAction(ctx, "chat", "abort", "stop it"); err != nil {
				t.Fatalf("abort: %v", err)
			}
			if _, err := e.Oper.SetLabel(ctx, "chat", "stable", "v1.0.0", "by hand now"); err != nil {
				t.Errorf("stable after the abort: %v", err)
			}
		})
	}
}

// TestApply_KeepsOnlyRolloutLabels: applying a file during a rollout left
// all its labels out, so a free label in it (beta) was not applied until
// the rollout ended. Now the rollout's own labels keep their values and are
// reported as kept; the file's other labels apply, {} included; a file
// that agrees with the rollout's labels and sets no policy keeps nothing.
func TestApply_KeepsOnlyRolloutLabels(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustSeed(t)
	e.mustLabeledRollout(t, sluice.PhaseProgressing)
	apply := func(labels map[string]string) sluice.ApplyDoc {
		return sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Labels: labels}}}
	}

	res, err := e.Admin.Apply(ctx, apply(map[string]string{"stable": "v1.0.0", "beta": "v1.2.0", "canary": "v1.1.0"}), "gitops", false)
	if err != nil || !slices.Contains(res.Kept, "chat") {
		t.Fatalf("apply moving stable = %+v, %v; want it accepted with chat kept", res, err)
	}
	want := map[string]string{"stable": "v1.1.0", "preview": "v1.2.0", "beta": "v1.2.0", "canary": "v1.1.0"}
	if got := e.Ctl.Registry().Models["chat"].Labels; !maps.Equal(got, want) {
		t.Errorf("labels after apply = %v, want %v (stable and preview the rollout's, the rest the file's)", got, want)
	}

	if _, err := e.Admin.Apply(ctx, apply(map[string]string{}), "gitops", false); err != nil {
		t.Fatalf("apply of no labels: %v", err)
	}
	want = map[string]string{"stable": "v1.1.0", "preview": "v1.2.0"}
	if got := e.Ctl.Registry().Models["chat"].Labels; !maps.Equal(got, want) {
		t.Errorf("labels after applying {} = %v, want %v", got, want)
	}

	res, err = e.Admin.Apply(ctx, apply(map[string]string{"stable": "v1.1.0", "preview": "v1.2.0", "gamma": "v1.0.0"}), "gitops", false)
	if err != nil || len(res.Kept) != 0 || e.Ctl.Registry().Models["chat"].Labels["gamma"] != "v1.0.0" {
		t.Errorf("apply agreeing with the rollout's labels = %+v, %v; want gamma applied and nothing kept", res, err)
	}
}
