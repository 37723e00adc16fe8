package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestReapplyWithoutStage: the model file and POST /versions treated an
// absent stage as "development" even for a version that already existed,
// so re-applying the same file after a version moved on (by sluice stage or
// a rollout's promotion) failed or silently moved the version back. An
// omitted stage leaves an existing version's stage alone ("applying the
// same file twice changes nothing").
func TestReapplyWithoutStage(t *testing.T) {
	ctx := context.Background()
	doc := func() sluice.ApplyDoc {
		return sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Versions: []sluice.Version{
			{Version: "v1.0.0", Endpoints: []string{"http://127.0.0.1:9001"}, Family: "llama-3"},
			{Version: "v1.1.0", Endpoints: []string{"http://127.0.0.1:9001"}, Family: "llama-3"},
		}}}}
	}
	t.Run("PromotedVersionRefused", func(t *testing.T) {
		e := MustEnv(t)
		if _, err := e.Admin.Apply(ctx, doc(), "register", false); err != nil {
			t.Fatal(err)
		}
		for _, st := range []sluice.Stage{sluice.StageStaging, sluice.StageProduction} {
			if _, err := e.Oper.SetStage(ctx, "chat:v1.0.0", st, time.Time{}, "promote"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.Admin.Apply(ctx, doc(), "re-apply the same file", false); err != nil {
			t.Errorf("re-applying the unchanged model file after a promotion is refused: %v (code %s)", err, sluice.ErrorCode(err))
		}
	})
	t.Run("StagingVersionSilentlyDemoted", func(t *testing.T) {
		e := MustEnv(t)
		if _, err := e.Admin.Apply(ctx, doc(), "register", false); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Oper.SetStage(ctx, "chat:v1.1.0", sluice.StageStaging, time.Time{}, "to staging"); err != nil {
			t.Fatal(err)
		}
		res, err := e.Admin.Apply(ctx, doc(), "re-apply the same file", false)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Ctl.Registry().Versions["chat:v1.1.0"].Stage; got != sluice.StageStaging || res.Changed {
			t.Errorf("re-applying the unchanged file moved chat:v1.1.0 from staging to %s (changed=%v, audit %d entries)", got, res.Changed, len(res.Audit))
		}
	})
}
