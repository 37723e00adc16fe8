package sluice_test

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// What the user does: keeps a model file in git. A version was deprecated
// there with a sunset_at; when the day comes the file's entry becomes
// stage: retired, its sunset_at left as it was, and the gateway applies
// the file at start.
// What must happen: the version is retired (its sunset dropped: it
// announces nothing any more); refusing the entry would stop the gateway
// from starting on a file that was valid the day before.
func TestRegisterVersion_RetiredKeepsOldSunsetInFile(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	sunset := now.Add(24 * time.Hour)
	e := sluice.NewRegistry().Edit("t", "setup", now)
	for _, v := range []sluice.Version{
		{Model: "chat", Version: "v1", Stage: sluice.StageProduction, Endpoints: []string{"http://a"}},
		{Model: "chat", Version: "v0", Stage: sluice.StageDeprecated, SunsetAt: sunset, Endpoints: []string{"http://b"}},
	} {
		if _, err := e.RegisterVersion(v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Finish(); err != nil {
		t.Fatal(err)
	}
	e = e.Registry().Edit("t", "the file, a week later", now.Add(7*24*time.Hour))
	if _, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: "v0", Stage: sluice.StageRetired, SunsetAt: sunset, Endpoints: []string{"http://b"}}); err != nil {
		t.Fatalf("retiring a version whose entry keeps its old sunset_at: %v", err)
	}
	if _, err := e.Finish(); err != nil {
		t.Fatal(err)
	}
	if v := e.Registry().Versions["chat:v0"]; v.Stage != sluice.StageRetired || !v.SunsetAt.IsZero() {
		t.Fatalf("v0 is %s with sunset %v, want retired without one", v.Stage, v.SunsetAt)
	}
}
