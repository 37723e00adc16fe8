package api_test

import (
	"context"
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
