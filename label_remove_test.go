package sluice_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestEdit_SetLabel_RemoveUnknownNamesTheLabels: `sluice label chat
// nosuch-` said only that the label does not exist; it now lists the
// labels the model has, so a typo is seen at once.
func TestEdit_SetLabel_RemoveUnknownNamesTheLabels(t *testing.T) {
	e := sluice.NewRegistry().Edit("test", "fixture", time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC))
	if _, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: "v1", Stage: sluice.StageProduction, Endpoints: []string{"http://127.0.0.1:9"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.SetLabel("chat", "cannary", ""); err == nil || !strings.Contains(sluice.ErrorMessage(err), "nor any other") {
		t.Fatalf("removing a label from a model without labels: %v", err)
	}
	for _, l := range []string{"stable", "canary"} {
		if err := e.SetLabel("chat", l, "v1"); err != nil {
			t.Fatal(err)
		}
	}
	err := e.SetLabel("chat", "cannary", "")
	if sluice.ErrorCode(err) != sluice.CodeNotFound || !strings.Contains(sluice.ErrorMessage(err), "its labels are canary, stable") {
		t.Fatalf("removing an unknown label: %v", err)
	}
}
