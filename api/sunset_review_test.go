package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestRegisterDeprecatedWithPastSunsetRefused: an admin registers a
// new version (POST versions, or a model file's new entry) as
// stage: deprecated with a sunset_at already in the past.
// Now: it is accepted and stored, so clients are told a Sunset date that has
// passed, although `sluice stage ... deprecated --sunset PAST` is refused as
// "in the past" for the very same announcement.
// Should: be refused the same way (CodeInvalid, field sunset_at), nothing
// written.
func TestRegisterDeprecatedWithPastSunsetRefused(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustRegister(t, version("v1.0.0", sluice.StageProduction))
	v := version("v0.9.0", sluice.StageDeprecated)
	v.SunsetAt = t0.Add(-24 * time.Hour)
	_, err := e.Admin.RegisterVersion(ctx, v, "import an old build")
	if err == nil {
		got := e.Ctl.Registry().Versions["chat:v0.9.0"]
		t.Fatalf("registered %s as %s with sunset %s, a day before now (%s): want CodeInvalid on sunset_at, as SetStage refuses a past sunset",
			got.ID(), got.Stage, got.SunsetAt.Format(time.RFC3339), t0.Format(time.RFC3339))
	}
	wantErr(t, err, sluice.CodeInvalid, []string{"sunset_at"}, "in the past")
}
