package api_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestServer_ApplyRolloutWarnings: an apply whose model file starts a
// rollout with a stage written without hold (which moves on as soon as
// the analysis passes, where sluice rollout start --stages holds each
// 5m), or with analysis.guards the planner's rolling leaves out, was
// said so by the CLI alone: a pipeline applying through the API heard
// nothing. The apply's warnings carry them, on a dry run ("rollout of
// chat to v1.2.0: …") and once the rollout started ("rollout ID: …"),
// in the words the CLI prints, and say nothing of a stage with a hold.
func TestServer_ApplyRolloutWarnings(t *testing.T) {
	const note = "stage 1 (20%) has no hold: it moves on as soon as the analysis passes"
	body := func(dry bool) []byte {
		b, _ := json.Marshal(map[string]any{
			"doc": map[string]any{"models": []any{map[string]any{
				"name": "chat", "labels": map[string]string{"stable": "v1.1.0"}, "target": "v1.2.0",
				"rollout": map[string]any{"strategy": "progressive", "stages": []any{
					map[string]any{"percent": 20}, map[string]any{"percent": 50, "hold": "10m"}, map[string]any{"percent": 100},
				}},
			}}},
			"reason": "ship", "dry_run": dry,
		})
		return b
	}
	e := MustEnv(t)
	e.MustSeed(t)
	for _, dry := range []bool{true, false} {
		r := e.do(t, "POST", "/admin/v1/apply", adminSecret, body(dry))
		if r.Status != 200 {
			t.Fatalf("apply (dry run %v): %d %s", dry, r.Status, r.Body)
		}
		var out struct {
			Warnings []string `json:"warnings"`
			Rollouts []struct {
				ID string `json:"id"`
			} `json:"rollouts"`
		}
		if err := json.Unmarshal(r.Body, &out); err != nil {
			t.Fatal(err)
		}
		prefix := "rollout of chat to v1.2.0: "
		if !dry {
			if len(out.Rollouts) != 1 {
				t.Fatalf("apply started %d rollouts, want 1: %s", len(out.Rollouts), r.Body)
			}
			prefix = "rollout " + out.Rollouts[0].ID + ": "
		}
		n := 0
		for _, w := range out.Warnings {
			if strings.HasPrefix(w, prefix+note) {
				n++
			}
			if strings.Contains(w, "stage 2 (50%) has no hold") || strings.Contains(w, "(100%) has no hold") {
				t.Errorf("apply (dry run %v) warns of a stage with a hold, or of the promotion: %q", dry, w)
			}
		}
		if n != 1 {
			t.Errorf("apply (dry run %v): warnings %q; want one %q…", dry, out.Warnings, prefix+note)
		}
	}
}
