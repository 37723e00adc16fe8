package sluice_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestChange_StampedAudit_RegisteredVersionDated: a change is dated at its
// commit, and the version it registers is stored with that time, but the
// version.register audit entry's document kept the time the edit was
// prepared: `sluice audit -o json` showed a created_at that neither the
// entry's own time nor the stored version had.
func TestChange_StampedAudit_RegisteredVersionDated(t *testing.T) {
	prepared := time.Date(2026, 12, 5, 14, 27, 33, 433526807, time.UTC)
	committed := prepared.Add(377 * time.Microsecond).Truncate(time.Microsecond)
	e := sluice.NewRegistry().Edit("ada", "register", prepared)
	if _, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: "v1", Endpoints: []string{"http://127.0.0.1:1"}, Stage: sluice.StageProduction}); err != nil {
		t.Fatal(err)
	}
	ch, err := e.Finish()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range ch.StampedAudit(committed) {
		if !a.At.Equal(committed) {
			t.Errorf("%s dated %s, want %s", a.Action, a.At, committed)
		}
		if a.Action != "version.register" {
			continue
		}
		found = true
		var v sluice.Version
		if err := json.Unmarshal(a.After, &v); err != nil {
			t.Fatal(err)
		}
		if !v.CreatedAt.Equal(committed) {
			t.Errorf("version.register document says created_at %s, want the commit's %s", v.CreatedAt.Format(time.RFC3339Nano), committed.Format(time.RFC3339Nano))
		}
		if v.Version != "v1" || len(v.Endpoints) != 1 || v.Stage != sluice.StageProduction {
			t.Errorf("version.register document lost fields: %+v", v)
		}
	}
	if !found {
		t.Fatal("no version.register entry")
	}
}
