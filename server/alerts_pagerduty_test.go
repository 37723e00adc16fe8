package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// TestRollout_RollbackPagesPagerDutyAndPromotionResolves: a real rollout
// the analysis rolls back pages a PagerDuty (Events API v2, here on
// loopback) with a trigger, and the model's next rollout, promoted,
// resolves that page: the same dedup_key (and the model's pause's, which
// it closes too). An Opsgenie (Alert API v2, on loopback) beside it gets
// the same as a create and closes by alias. Nothing else reaches the
// pagers (the rollouts' starts, the warm-ups).
func TestRollout_RollbackPagesPagerDutyAndPromotionResolves(t *testing.T) {
	var mu sync.Mutex
	var events []map[string]any
	pd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev map[string]any
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/v2/enqueue" || json.Unmarshal(b, &ev) != nil {
			t.Errorf("PagerDuty got %s %s", r.URL.Path, b)
		}
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"status":"success","message":"Event processed"}`)
	}))
	defer pd.Close()
	var ogReqs []string
	var ogBodies []map[string]any
	og := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		b, _ := io.ReadAll(r.Body)
		if json.Unmarshal(b, &m) != nil || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("Opsgenie got %s %s", r.Header.Get("Content-Type"), b)
		}
		mu.Lock()
		ogReqs = append(ogReqs, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Authorization"))
		ogBodies = append(ogBodies, m)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"result":"Request will be processed","took":0.302,"requestId":"43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}`)
	}))
	defer og.Close()
	ogGot := func(n int) ([]string, []map[string]any) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			mu.Lock()
			if len(ogReqs) >= n {
				reqs, bodies := append([]string(nil), ogReqs...), append([]map[string]any(nil), ogBodies...)
				mu.Unlock()
				return reqs, bodies
			}
			mu.Unlock()
		}
		t.Fatalf("Opsgenie got %d requests, want %d", len(ogReqs), n)
		return nil, nil
	}
	got := func(n int) []map[string]any {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			mu.Lock()
			if len(events) >= n {
				out := append([]map[string]any(nil), events...)
				mu.Unlock()
				return out
			}
			mu.Unlock()
		}
		t.Fatalf("PagerDuty got %d events, want %d", len(events), n)
		return nil
	}

	stable := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{RefusalRate: 0.02}})
	bad := MustBackend(t, fakellm.Config{Seed: 7, Default: fakellm.Behavior{RefusalRate: 0.5}})
	gw, cl := startRolloutGatewayWith(t, "", func(g *config.Gateway) {
		g.Rollouts.Alerts = []config.Webhook{{URL: pd.URL + "/v2/enqueue", Format: "pagerduty", RoutingKey: "R0UT1NGKEY0123456789abcdef012345"},
			{URL: og.URL, Format: "opsgenie", APIKey: "eb243592-faa2-4ba2-a551-1afdf565c889"}}
	}, stable, bad)
	ctx := context.Background()
	l := startLoad(t, gw.URL(), 8)
	if _, err := cl.StartRollout(ctx, fastSpec("v1.1.0"), "ship the new fine-tune"); err != nil {
		t.Fatal(err)
	}
	r := waitPhase(t, cl, func(p sluice.Phase) bool { return !p.Active() }, 60*time.Second)
	l.finish()
	if r.Phase != sluice.PhaseRolledBack {
		t.Fatalf("phase %s (%s), want rolled_back", r.Phase, r.Decision)
	}
	trigger := got(1)[0]
	payload, _ := trigger["payload"].(map[string]any)
	details, _ := payload["custom_details"].(map[string]any)
	if trigger["event_action"] != "trigger" || trigger["dedup_key"] != "sluice/chat" || trigger["routing_key"] != "R0UT1NGKEY0123456789abcdef012345" ||
		payload["severity"] != "critical" || payload["component"] != "chat" || payload["class"] != "rolled_back" || details["rollout"] != r.ID {
		t.Errorf("the rollback's page: %v", trigger)
	}
	if reqs, bodies := ogGot(1); reqs[0] != "POST /v2/alerts GenieKey eb243592-faa2-4ba2-a551-1afdf565c889" || bodies[0]["alias"] != "sluice:chat" ||
		bodies[0]["priority"] != "P1" || bodies[0]["entity"] != "chat" || bodies[0]["details"].(map[string]any)["rollout"] != r.ID {
		t.Errorf("the rollback's Opsgenie alert: %v %v", reqs, bodies)
	}

	// The fixed candidate's rollout, promoted, resolves the page.
	good := MustBackend(t, fakellm.Config{Seed: 9, Default: fakellm.Behavior{RefusalRate: 0.02}})
	if _, err := gw.Control.Do(ctx, "test", "the fix", func(e *sluice.Edit) error {
		_, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: "v1.2.0", Endpoints: []string{good.URL()}, BaseModel: "llama-3-8b", Family: "llama-3", WeightHash: "w3", Stage: sluice.StageStaging})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	spec := fastSpec("v1.2.0")
	spec.Stages[0].MinSamples = 1_000_000 // the operator promotes, not the analysis
	if _, err := cl.StartRollout(ctx, spec, "the fix"); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, cl, func(p sluice.Phase) bool { return p == sluice.PhaseProgressing }, 30*time.Second)
	if _, err := cl.RolloutAction(ctx, "chat", "promote", "the fix is good"); err != nil {
		t.Fatal(err)
	}
	resolves := got(3)[1:]
	if resolve := resolves[0]; resolve["event_action"] != "resolve" || resolve["dedup_key"] != trigger["dedup_key"] || resolve["routing_key"] != trigger["routing_key"] {
		t.Errorf("the promotion's resolve: %v (the page: %v)", resolve, trigger)
	}
	if resolve := resolves[1]; resolve["event_action"] != "resolve" || resolve["dedup_key"] != "sluice-paused/chat" {
		t.Errorf("the promotion's resolve of the pause's page: %v", resolve)
	}
	if reqs, _ := ogGot(3); reqs[1] != "POST /v2/alerts/sluice:chat/close?identifierType=alias GenieKey eb243592-faa2-4ba2-a551-1afdf565c889" ||
		reqs[2] != "POST /v2/alerts/sluice-paused:chat/close?identifierType=alias GenieKey eb243592-faa2-4ba2-a551-1afdf565c889" {
		t.Errorf("Opsgenie's closes: %v", reqs)
	}
	time.Sleep(200 * time.Millisecond) // nothing more comes
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 3 || len(ogReqs) != 3 {
		t.Errorf("PagerDuty got %d events, Opsgenie %d requests: %v %v", len(events), len(ogReqs), events, ogReqs)
	}
}
