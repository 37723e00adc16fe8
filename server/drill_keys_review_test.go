package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// TestDrillWorksWithClientKeys: an SRE turns on client API keys
// (README: "off until one is configured") and runs the documented fire
// drill, `sluice rollout drill chat --to v1.1.0` (POST /admin/v1/drills),
// with an operator token.
// Now: the drill's synthetic requests go through the gateway's own data
// plane without any credential, the key check refuses them with a 401, and
// the drill reports failure ("synthetic request 1 failed: status 401"), so
// drills can never pass on a gateway that uses client keys. The control
// (the same gateway without keys) passes.
// Should: the gateway's own synthetic requests are admitted (they are
// Sluice's, not a client's), and the drill passes as it does without keys.
func TestDrillWorksWithClientKeys(t *testing.T) {
	for name, keys := range map[string][]config.ClientKey{
		"WithoutKeys": nil,
		"WithKeys":    {{Name: "app", Secret: "sk-app-3b9f0c2d71e84a56", Models: []string{"chat"}}},
	} {
		t.Run(name, func(t *testing.T) {
			b1 := MustBackend(t, fakellm.Config{})
			b2 := MustBackend(t, fakellm.Config{})
			doc := chatDoc(map[string]string{"v1.0.0": b1.URL(), "v1.1.0": b2.URL()},
				[]sluice.Weight{{Version: "v1.0.0", Percent: 100}}, map[string]string{"stable": "v1.0.0"})
			gw, admin := mustGatewayWith(t, func(c *config.Gateway) { c.ClientKeys = keys }, nil, doc)
			rep, err := api.NewClient(gw.AdminURL(), admin).Drill(context.Background(), "chat", "v1.1.0", 50, "quarterly drill")
			if err != nil {
				t.Fatalf("drill: %v", err)
			}
			if !rep.OK {
				var steps []string
				for _, s := range rep.Steps {
					steps = append(steps, s.Name+": "+s.Detail)
				}
				t.Fatalf("the drill failed: %s", strings.Join(steps, "; "))
			}
		})
	}
}
