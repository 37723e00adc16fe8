package api_test

// The test here came from a review, with the bug it found; its comment
// says what the code did before the fix.

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// RoutingAt.Since is documented as "when this routing took effect, and
// Entry the audit entry that set it". A later change to the model's
// description alone (sluice apply of a file that adds one) writes a
// model.update entry whose after holds the same routing; routingAt takes
// that entry, so `sluice audit --at` says the split has been in force only
// since the description edit, by its actor and reason.
func TestAuditAt_AuditAtSinceIgnoresDescriptionEdit(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustRegister(t, version("v1.0.0", sluice.StageProduction), version("v1.1.0", sluice.StageStaging))
	split := t0.Add(time.Hour) // 11:00
	e.Clock.Set(split)
	if _, err := e.Oper.SetSplit(ctx, "chat", []sluice.Weight{{Version: "v1.0.0", Percent: 90}, {Version: "v1.1.0", Percent: 10}}, "", "canary"); err != nil {
		t.Fatal(err)
	}
	e.Clock.Set(t0.Add(2 * time.Hour)) // 12:00: a description, nothing else
	if _, err := e.Admin.Apply(ctx, sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Description: "the chat assistant"}}}, "document the model", false); err != nil {
		t.Fatal(err)
	}
	e.Clock.Set(t0.Add(3 * time.Hour)) // asked at 13:00 about 12:30
	res, err := e.Viewer.AuditAt(ctx, "chat", t0.Add(2*time.Hour+30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if res.PolicyText != "split v1.0.0=90 v1.1.0=10" {
		t.Fatalf("policy = %q", res.PolicyText)
	}
	if !res.Since.Equal(split) || res.Entry.Action != "model.policy" || res.Entry.Reason != "canary" {
		t.Errorf("routing in force since %s, set by %s (%q); want since %s, set by model.policy (\"canary\")",
			res.Since.Format(time.RFC3339), res.Entry.Action, res.Entry.Reason, split.Format(time.RFC3339))
	}
}
