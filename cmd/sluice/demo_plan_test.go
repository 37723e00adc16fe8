package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// TestDemoPlan_WaitsForTheRollbackToUnwind: a rollback's drain of the
// candidate's requests in flight outlasts the rollout's end, and no rollout
// starts until it is done. The demo started its next step as soon as no
// rollout was active, and on a busy machine, where the drain took a few
// seconds, v1.2.0's step ended at once: "chat:v1.2.0 did not start:
// version chat:v1.1.0 is still being rolled back". It waits for the
// rollback to unwind now, then starts the step.
func TestDemoPlan_WaitsForTheRollbackToUnwind(t *testing.T) {
	gw, _ := startGateway(t)
	ctx := context.Background()
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Policy: &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.0.0"}}}}
	for i, v := range demoVersions() {
		b := fakellm.New(fakellm.Config{Model: "demo-" + v.tag, Seed: uint64(i + 1), Default: v.behavior})
		if err := b.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
		doc.Models[0].Versions = append(doc.Models[0].Versions, sluice.Version{Version: v.tag, Endpoints: []string{b.URL()}, UpstreamModel: "demo-" + v.tag, Stage: v.stage})
	}
	if _, err := gw.Control.Do(ctx, "test", "setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		t.Fatal(err)
	}
	// v1.1.0's rollout, rolled back, its drain still under way in another
	// gateway process (which this one would take over only later).
	now := time.Now()
	rolledBack := sluice.Rollout{
		ID: "chat-rolled-back", Spec: demoSpec("v1.1.0"), Phase: sluice.PhaseRolledBack,
		StartedAt: now.Add(-10 * time.Second), EndedAt: now, Decision: "rolled back: refusal rate in category payments",
		Unwinding: &sluice.Unwind{Owner: "another-gateway", Since: now},
	}
	put := func(r sluice.Rollout) {
		t.Helper()
		if _, err := gw.Control.Do(ctx, "test", "the rollback of v1.1.0", func(e *sluice.Edit) error { return e.PutRollout(r) }); err != nil {
			t.Fatal(err)
		}
	}
	put(rolledBack)

	plan := &demoPlan{steps: []demoStep{{tag: "v1.2.0", why: "fine-tune v1.2.0: better across the board"}}}
	var log bytes.Buffer
	plan.advance(ctx, gw, &log)
	if len(plan.outcomes) > 0 || plan.steps[0].started {
		t.Fatalf("the step started (or ended) while v1.1.0's rollback was unwinding: %q %s", plan.outcomes, log.String())
	}
	rolledBack.Unwinding = nil
	put(rolledBack)
	plan.advance(ctx, gw, &log)
	if len(plan.outcomes) > 0 || !plan.steps[0].started {
		t.Fatalf("the step did not start once the rollback had unwound: %q %s", plan.outcomes, log.String())
	}
	if r := gw.Control.Registry().ActiveRollout("chat"); r == nil || r.Spec.Candidate != "v1.2.0" {
		t.Errorf("active rollout %+v, want v1.2.0's", r)
	}
	if strings.Contains(log.String(), "start rollout") {
		t.Errorf("the demo logged a failed start: %s", log.String())
	}
}
