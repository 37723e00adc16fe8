package rollout

import (
	"fmt"
	"slices"

	"github.com/sluicehq/sluice"
)

// Unloaded returns the versions whose backend a rollback in reg unloads or
// has unloaded, by full id, each with what happened to it, for the routing
// table (route.Options.Unloaded): the candidate of each model's latest
// rollout when that rollout was rolled back, aborted or undone (the phases
// that call the unload webhook), or is an A/B test completed and concluded
// for the baseline, which unloads its candidate as an abort does. A newer
// rollout of the model replaces
// its latest, and so clears the mark. Call it only when an unload webhook
// is configured: without one the candidate stays loaded and may be pinned.
//
// A version is marked from the rollback's commit, not only once the
// webhook has run: a request pinned to it that started during the drain
// held the drain open until its timeout and was then cut by the unload,
// and one that started after the unload reached a backend that was gone
// and got a bare 502. Requests in flight before the commit keep being
// served; the drain waits for them.
func Unloaded(reg *sluice.Registry) map[string]string {
	var out map[string]string
	for model, r := range reg.Rollouts {
		if r == nil || (r.Phase != sluice.PhaseRolledBack && r.Phase != sluice.PhaseAborted && r.Phase != sluice.PhaseUndone && !unloadedByConclusion(r)) {
			continue
		}
		state := "its backend unloaded"
		if r.Unwinding != nil {
			state = "its backend is being unloaded"
		}
		if out == nil {
			out = map[string]string{}
		}
		what := "rolled back"
		switch r.Phase {
		case sluice.PhaseUndone:
			what = "undone after its promotion"
		case sluice.PhaseCompleted:
			what = "not shipped: its A/B test was concluded for the baseline"
		}
		out[model+":"+r.Spec.Candidate] = fmt.Sprintf("was %s (rollout %s, %s; sluice rollout status %s says why) and %s", what, r.ID, r.Phase, model, state)
	}
	return out
}

// unloadedByConclusion says whether r is a completed A/B test whose
// conclusion for the baseline unloads its candidate: its drain and unload
// are pending (Unwinding) or done (their timings, or the record cleared
// without them, are on its timeline). A test concluded so by a release
// that only recorded the decision left its candidate loaded, and is not
// marked.
func unloadedByConclusion(r *sluice.Rollout) bool {
	if r.Phase != sluice.PhaseCompleted || r.Spec.Strategy != sluice.StrategyABTest || !concluded(*r) {
		return false
	}
	return r.Unwinding != nil || slices.ContainsFunc(r.Events, func(e sluice.RolloutEvent) bool {
		return e.Kind == "rollback_timings" || e.Kind == "rollback_completed"
	})
}
