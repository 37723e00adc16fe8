package api_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// What the user does: moves a version through its lifecycle (staging,
// production, deprecated with and without a sunset, retired) and reads the
// audit trail's before and after of each change, as `sluice audit -o json`
// and the dashboard's audit tab show them.
// What must happen: an entry names a sunset only when the version has one;
// a stage change without a sunset does not say "sunset_at":
// "0001-01-01T00:00:00Z" (Go's zero time, read as a sunset in year 1).
func TestServer_SetStage_AuditSunsetOnlyWhenSet(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustRegister(t, version("v1.0.0", ""), version("v2.0.0", sluice.StageProduction))
	sunset := t0.Add(30 * 24 * time.Hour)
	steps := []struct {
		stage  sluice.Stage
		sunset time.Time
	}{
		{sluice.StageStaging, time.Time{}},
		{sluice.StageProduction, time.Time{}},
		{sluice.StageDeprecated, sunset},
		{sluice.StageProduction, time.Time{}},
		{sluice.StageDeprecated, time.Time{}},
		{sluice.StageRetired, time.Time{}},
	}
	for _, s := range steps {
		if _, err := e.Oper.SetStage(ctx, "chat:v1.0.0", s.stage, s.sunset, "lifecycle"); err != nil {
			t.Fatalf("to %s: %v", s.stage, err)
		}
	}
	entries, err := e.Viewer.Audit(ctx, sluice.AuditQuery{Model: "chat", Action: "version.stage", Ascending: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(steps) {
		t.Fatalf("%d version.stage entries, want %d", len(entries), len(steps))
	}
	for i, a := range entries {
		var before, after map[string]any
		if err := json.Unmarshal(a.Before, &before); err != nil {
			t.Fatalf("entry %d before %s: %v", i, a.Before, err)
		}
		if err := json.Unmarshal(a.After, &after); err != nil {
			t.Fatalf("entry %d after %s: %v", i, a.After, err)
		}
		if after["stage"] != string(steps[i].stage) {
			t.Errorf("entry %d after = %s, want stage %s", i, a.After, steps[i].stage)
		}
		want := ""
		if !steps[i].sunset.IsZero() {
			want = steps[i].sunset.UTC().Format(time.RFC3339)
		}
		if got, _ := after["sunset_at"].(string); got != want {
			t.Errorf("entry %d (to %s) after = %s: sunset_at %q, want %q", i, steps[i].stage, a.After, got, want)
		}
		wantBefore := ""
		if i > 0 && !steps[i-1].sunset.IsZero() {
			wantBefore = steps[i-1].sunset.UTC().Format(time.RFC3339)
		}
		if got, _ := before["sunset_at"].(string); got != wantBefore {
			t.Errorf("entry %d (to %s) before = %s: sunset_at %q, want %q", i, steps[i].stage, a.Before, got, wantBefore)
		}
	}
}
