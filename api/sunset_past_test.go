package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestSetStage_SunsetInThePastRefused: a sunset is announced to clients in
// the Sunset header; one already past is refused, saying so, and a future
// one is kept.
func TestSetStage_SunsetInThePastRefused(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustRegister(t, version("v1.0.0", sluice.StageProduction), version("v1.1.0", sluice.StageProduction))
	_, err := e.Oper.SetStage(ctx, "chat:v1.0.0", sluice.StageDeprecated, t0.Add(-24*time.Hour), "old build")
	wantErr(t, err, sluice.CodeInvalid, []string{"sunset_at"}, "in the past")
	if got := e.Ctl.Registry().Versions["chat:v1.0.0"].Stage; got != sluice.StageProduction {
		t.Errorf("the refused change moved the version to %s", got)
	}
	future := t0.Add(30 * 24 * time.Hour)
	if _, err := e.Oper.SetStage(ctx, "chat:v1.0.0", sluice.StageDeprecated, future, "old build"); err != nil {
		t.Fatal(err)
	}
	if got := e.Ctl.Registry().Versions["chat:v1.0.0"].SunsetAt; !got.Equal(future) {
		t.Errorf("sunset %v, want %v", got, future)
	}
}

// TestRegisterVersion_SunsetWithoutDeprecationRefused: an admin registers
// (or re-applies) a version with sunset_at but not as deprecated. A sunset
// is announced only for a deprecated version, so the sunset would be kept
// silently or dropped silently: it is refused, saying to deprecate it with
// it, and nothing is written. Set together with the deprecation it is kept.
func TestRegisterVersion_SunsetWithoutDeprecationRefused(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustRegister(t, version("v1.0.0", sluice.StageProduction))
	future := t0.Add(30 * 24 * time.Hour)

	t.Run("ErrNewVersion", func(t *testing.T) {
		for _, stage := range []sluice.Stage{"", sluice.StageStaging, sluice.StageProduction} {
			v := version("v2.0.0", stage)
			v.SunsetAt = future
			_, err := e.Admin.RegisterVersion(ctx, v, "new build")
			wantErr(t, err, sluice.CodeInvalid, []string{"sunset_at"}, "deprecated", "stage")
			if e.Ctl.Registry().Versions["chat:v2.0.0"] != nil {
				t.Fatalf("stage %q: the refused registration was stored", stage)
			}
		}
	})
	t.Run("ErrExistingVersion", func(t *testing.T) {
		rev := e.Ctl.Registry().Revision
		for _, stage := range []sluice.Stage{"", sluice.StageProduction} {
			v := version("v1.0.0", stage)
			v.SunsetAt = future
			_, err := e.Admin.RegisterVersion(ctx, v, "announce")
			wantErr(t, err, sluice.CodeInvalid, []string{"sunset_at"}, "deprecated", "stage")
		}
		if got := e.Ctl.Registry().Revision; got != rev {
			t.Fatalf("revision %d after refused changes, want %d", got, rev)
		}
	})
	t.Run("OKWithTheDeprecation", func(t *testing.T) {
		e.MustRegister(t, version("v1.1.0", sluice.StageProduction))
		v := version("v1.0.0", sluice.StageDeprecated)
		v.SunsetAt = future
		e.MustRegister(t, v)
		got := e.Ctl.Registry().Versions["chat:v1.0.0"]
		if got.Stage != sluice.StageDeprecated || !got.SunsetAt.Equal(future) {
			t.Fatalf("version %s sunset %v, want deprecated, %v", got.Stage, got.SunsetAt, future)
		}
		// Applied again without the stage, the deprecated version keeps it.
		v.Stage = ""
		e.MustRegister(t, v)
	})
}
