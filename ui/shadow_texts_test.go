package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/ui"
)

// TestDashboard_ShadowTextsForOperators: the shadow review showed every
// signed-in viewer the answers' texts, which the request log and the admin
// API (GET /admin/v1/shadow/{model}/pairs) keep from viewers. A viewer now
// sees the pairs' numbers and that the texts are withheld; an operator sees
// the texts.
func TestDashboard_ShadowTextsForOperators(t *testing.T) {
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{Seed: 2, Default: fakellm.Behavior{RefusalRate: 1}})
	g := MustGateway(t, stable, cand)
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v1.1.0", Strategy: sluice.StrategyShadow, ShadowFraction: 1, ShadowSamples: 100000, Warmup: sluice.WarmupSpec{Skip: true}}
	if _, err := g.Rollouts.Start(context.Background(), "alice-admin", "shadow check", spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "mirroring", 20*time.Second, func() bool { id, _ := g.Proxy.Shadow("chat"); return id == "chat:v1.1.0" })
	for i := range 3 {
		resp, err := http.Post(g.URL()+"/v1/chat/completions", "application/json", strings.NewReader(fmt.Sprintf(`{"model":"chat","messages":[{"role":"user","content":"question %d"}]}`, i)))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	waitFor(t, "the pairs", 20*time.Second, func() bool { return len(g.Proxy.ShadowPairs("chat", 0)) == 3 })
	for _, who := range []struct {
		name, secret string
		texts        bool
	}{{"Viewer", g.viewer, false}, {"Operator", g.operator, true}} {
		t.Run(who.name, func(t *testing.T) {
			_, body := signIn(t, g.AdminURL(), who.secret).do("GET", "/ui/api/shadow?model=chat", "", nil)
			var a ui.ShadowAnswer
			if err := json.Unmarshal(body, &a); err != nil || len(a.Pairs) != 3 || a.TextsWithheld == who.texts {
				t.Fatalf("%v: %s", err, body)
			}
			for _, p := range a.Pairs {
				if (p.Shadow.Text != "" && p.Prompt != "") != who.texts || !p.Shadow.Refusal {
					t.Errorf("pair %+v: want texts %v, and the refusal shown", p, who.texts)
				}
			}
		})
	}
}
