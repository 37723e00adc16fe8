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
