package rollout

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/promgate"
)

// GateErrorChecks is how many analyses in a row may have a Prometheus gate
// that could not be evaluated (Prometheus down, a query it rejects, a
// result of several series) before the rollout pauses: it neither rolls
// back on a broken query nor advances blind.
const GateErrorChecks = 3

// GateEvaluator evaluates one Prometheus gate of a rollout: the promgate
// package's Client. It reports errors in the Result, never panics, and
// bounds its own time.
type GateEvaluator interface {
	Evaluate(ctx context.Context, g sluice.PromGate, v promgate.Vars) promgate.Result
}

// gatePause pauses r because its gates could not be read GateErrorChecks
// analyses in a row.
func gatePause(r sluice.Rollout, now time.Time, errs []string, v *sluice.Verdict) (sluice.Rollout, []Action) {
	r.HeldFor = sluice.Duration(r.Held(now))
	r.PausedFrom = r.Phase
	r.PausedAt = now
	r.Phase = sluice.PhasePaused
	r.WebhookWait = nil // as an operator's pause: asked again after the resume
	msg := fmt.Sprintf("paused by the controller: Prometheus %s could not be evaluated in %d analyses in a row (%s). Traffic stays at %s%% on the candidate. Check that prometheus.url in the gateway config points at a running Prometheus and that the query returns one series (try it in the Prometheus UI), then sluice rollout resume %s --reason \"…\", or abort it",
		plural(len(errs), "gate", "gates"), r.GateErrorStreak, strings.Join(errs, "; "), sluice.FormatPercent(r.Percent), r.Spec.Model)
	event(&r, now, "paused", msg, v)
	return r, []Action{{Kind: ActAlert, Event: "paused", Severity: "warning", Message: fmt.Sprintf("rollout %s %s", r.ID, msg)}}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// gates evaluates r's Prometheus gates at once (each query bounded by the
// evaluator's timeout) and merges them into the verdict v; it returns the
// merged verdict and the errors of the gates that could not be evaluated.
func (c *Controller) gates(ctx context.Context, r *sluice.Rollout, v sluice.Verdict, now time.Time) (sluice.Verdict, []string) {
	gs := r.Spec.Analysis.Prometheus
	if len(gs) == 0 {
		return v, nil
	}
	results := make([]promgate.Result, len(gs))
	if c.opt.Prometheus == nil {
		// A rollout with gates is refused at start when no Prometheus is
		// configured; this one predates a restart without it.
		for i, g := range gs {
			results[i] = promgate.Result{Gate: g, Err: "this gateway has no Prometheus configured: set prometheus.url in its config"}
		}
	} else {
		vars := promgate.VarsOf(r, now)
		var wg sync.WaitGroup
		for i, g := range gs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = c.opt.Prometheus.Evaluate(ctx, g, vars)
			}()
		}
		wg.Wait()
	}
	return promgate.Merge(v, results), promgate.Errors(results)
}
