package sluice_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestFinish_RetireRoutedVersionSaysWhatToDo: an operator retired
// chat:v1.2.0, which the split still named. The refusal, "the split refers
// to chat:v1.2.0, which is retired and cannot serve: point it at another
// version", read as if a split were being set to a retired version. It now
// says the version cannot be retired while the routing names it, what
// names it, and to take it out of those first.
func TestFinish_RetireRoutedVersionSaysWhatToDo(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	e := sluice.NewRegistry().Edit("t", "setup", now)
	for _, v := range []sluice.Version{
		{Model: "chat", Version: "v1.1.0", Stage: sluice.StageProduction, Endpoints: []string{"http://a"}},
		{Model: "chat", Version: "v1.2.0", Stage: sluice.StageStaging, Endpoints: []string{"http://b"}},
	} {
		if _, err := e.RegisterVersion(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.PutModel(sluice.Model{Name: "chat",
		Policy: sluice.Policy{Kind: sluice.PolicySplit, Split: []sluice.Weight{{Version: "v1.1.0", Percent: 95}, {Version: "v1.2.0", Percent: 5}}},
		Labels: map[string]string{"stable": "v1.1.0", "canary": "v1.2.0"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Finish(); err != nil {
		t.Fatal(err)
	}
	e = e.Registry().Edit("t", "wrong port", now.Add(time.Minute))
	if err := e.SetStage("chat:v1.2.0", sluice.StageRetired, time.Time{}); err != nil {
		t.Fatal(err)
	}
	_, err := e.Finish()
	if sluice.ErrorCode(err) != sluice.CodeInvalid {
		t.Fatalf("retiring a version the split names: %v, want an invalid error", err)
	}
	for _, want := range []string{"chat:v1.2.0 cannot be retired", "the split (v1.1.0=95 v1.2.0=5)", "label canary of chat route to it", "sluice set split chat", "sluice label chat canary=VERSION, or canary- to remove it"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal lacks %q: %v", want, err)
		}
	}
}
