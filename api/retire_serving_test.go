package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestRetireLastServingVersion: under policy latest (the default for
// a new model) the newest production version takes all the model's
// traffic. Retiring (or deprecating) the only production version leaves
// the bare model name with nothing to serve; the change was accepted with
// 200. It is refused, as it is for labels, rules and a specific policy
// (TestServer_Lifecycle_KeepsRoutingValid).
func TestRetireLastServingVersion(t *testing.T) {
	for _, to := range []sluice.Stage{sluice.StageRetired, sluice.StageDeprecated} {
		t.Run(string(to), func(t *testing.T) {
			ctx := context.Background()
			e := MustEnv(t)
			e.MustRegister(t, version("v1.0.0", sluice.StageProduction), version("v1.1.0", sluice.StageStaging))
			if got := e.Ctl.Registry().ServingVersions("chat"); len(got) != 1 || got[0] != "v1.0.0" {
				t.Fatalf("serving %v before, want [v1.0.0]", got)
			}
			_, err := e.Oper.SetStage(ctx, "chat:v1.0.0", to, time.Time{}, "take it out")
			if err == nil {
				t.Errorf("moving the only serving version to %s was accepted; chat now serves %v", to, e.Ctl.Registry().ServingVersions("chat"))
				return
			}
			wantErr(t, err, sluice.CodeInvalid, nil, "chat")
		})
	}
}
