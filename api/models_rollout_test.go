package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestListModels_SaysRollout: the models list names each model's rollout,
// so a client (the dashboard) asks for a rollout only where there is one
// instead of meeting a 404.
func TestListModels_SaysRollout(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustSeed(t)
	list, err := e.Viewer.Models(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range list.Models {
		if m.Rollout != "" {
			t.Errorf("model %s names rollout %q before any started", m.Name, m.Rollout)
		}
	}
	// "" is sent, not left out: a list without the field is an older
	// gateway's, whose models may have rollouts.
	raw := string(e.do(t, "GET", "/admin/v1/models", viewerSecret, nil).Body)
	if n, want := strings.Count(strings.ReplaceAll(raw, " ", ""), `"rollout":""`), len(list.Models); n != want {
		t.Errorf("%d of %d models carry the rollout field: %s", n, want, raw)
	}
	e.mustLiveRollout(t, sluice.PhaseProgressing)
	list, err = e.Viewer.Models(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range list.Models {
		if want := map[bool]string{true: "chat-1"}[m.Name == "chat"]; m.Rollout != want {
			t.Errorf("model %s names rollout %q, want %q", m.Name, m.Rollout, want)
		}
	}
}
