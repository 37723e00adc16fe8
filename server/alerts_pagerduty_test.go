package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
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

// pagerRecorder is a pager's receiver on loopback: it answers 202 and
// keeps each request's method, path and query, and its body.
type pagerRecorder struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []string
	bodies []map[string]any
}

func newPagerRecorder(t *testing.T) *pagerRecorder {
	t.Helper()
	pr := &pagerRecorder{}
	pr.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		b, _ := io.ReadAll(r.Body)
		if json.Unmarshal(b, &m) != nil {
			t.Errorf("a pager got %s", b)
		}
		pr.mu.Lock()
		pr.reqs = append(pr.reqs, r.Method+" "+r.URL.RequestURI())
		pr.bodies = append(pr.bodies, m)
		pr.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(pr.Close)
	return pr
}

// wait returns the first n requests and bodies once they came.
func (pr *pagerRecorder) wait(t *testing.T, n int) ([]string, []map[string]any) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		pr.mu.Lock()
		if len(pr.reqs) >= n {
			reqs, bodies := append([]string(nil), pr.reqs[:n]...), append([]map[string]any(nil), pr.bodies[:n]...)
			pr.mu.Unlock()
			return reqs, bodies
		}
		pr.mu.Unlock()
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	t.Fatalf("the pager got %d requests, want %d: %v", len(pr.reqs), n, pr.reqs)
	return nil, nil
}

// TestRollout_GatePausePagesAndResumeResolves: the controller pauses a
// rollout whose Prometheus gate it cannot read, which pages PagerDuty and
// Opsgenie under the pause's own key; the operator's resume resolves that
// page and closes that alert, and only those.
func TestRollout_GatePausePagesAndResumeResolves(t *testing.T) {
	pd, og, cl := pausedByGate(t)
	ctx := context.Background()
	_, pdBodies := pd.wait(t, 1)
	ogReqs, ogBodies := og.wait(t, 1)
	payload, _ := pdBodies[0]["payload"].(map[string]any)
	if pdBodies[0]["event_action"] != "trigger" || pdBodies[0]["dedup_key"] != "sluice-paused/chat" || payload["class"] != "paused" || payload["severity"] != "warning" {
		t.Errorf("the pause's page: %v", pdBodies[0])
	}
	if ogReqs[0] != "POST /v2/alerts" || ogBodies[0]["alias"] != "sluice-paused:chat" || ogBodies[0]["priority"] != "P3" {
		t.Errorf("the pause's Opsgenie alert: %v %v", ogReqs, ogBodies)
	}
	if _, err := cl.RolloutAction(ctx, "chat", "resume", "prometheus is on its way back"); err != nil {
		t.Fatal(err)
	}
	_, pdBodies = pd.wait(t, 2)
	ogReqs, ogBodies = og.wait(t, 2)
	if s := fmt.Sprint(pdBodies[1]); pdBodies[1]["event_action"] != "resolve" || pdBodies[1]["dedup_key"] != "sluice-paused/chat" || len(pdBodies[1]) != 3 {
		t.Errorf("the resume's resolve: %s", s)
	}
	if ogReqs[1] != "POST /v2/alerts/sluice-paused:chat/close?identifierType=alias" || !strings.Contains(fmt.Sprint(ogBodies[1]["note"]), "resumed by") {
		t.Errorf("the resume's Opsgenie close: %v %v", ogReqs[1], ogBodies[1])
	}
}

// TestRollout_GatePausePagesAndAbortResolves: the on-call answers the
// controller's pause by aborting the rollout (sluice rollout abort, here
// its admin API call): the pause's page is resolved and its Opsgenie
// alert closed, with a note naming the abort. Before, the pause's
// incident stayed open.
func TestRollout_GatePausePagesAndAbortResolves(t *testing.T) {
	pd, og, cl := pausedByGate(t)
	ctx := context.Background()
	pd.wait(t, 1)
	og.wait(t, 1)
	if _, err := cl.RolloutAction(ctx, "chat", "abort", "not worth the wait"); err != nil {
		t.Fatal(err)
	}
	_, pdBodies := pd.wait(t, 2)
	ogReqs, ogBodies := og.wait(t, 2)
	if s := fmt.Sprint(pdBodies[1]); pdBodies[1]["event_action"] != "resolve" || pdBodies[1]["dedup_key"] != "sluice-paused/chat" || len(pdBodies[1]) != 3 {
		t.Errorf("the abort's resolve: %s", s)
	}
	if note := fmt.Sprint(ogBodies[1]["note"]); ogReqs[1] != "POST /v2/alerts/sluice-paused:chat/close?identifierType=alias" || !strings.Contains(note, "ended while paused (aborted by") || !strings.Contains(note, "not worth the wait") {
		t.Errorf("the abort's Opsgenie close: %v %v", ogReqs[1], ogBodies[1])
	}
}

// pausedByGate starts a gateway whose Prometheus answers nothing, with a
// PagerDuty and an Opsgenie receiver, sends it load, and starts a rollout
// gated on Prometheus, which the controller pauses (the gate unreadable):
// it returns the receivers and the admin client once the rollout is
// paused.
func pausedByGate(t *testing.T) (pd, og *pagerRecorder, cl *api.Client) {
	t.Helper()
	pd, og = newPagerRecorder(t), newPagerRecorder(t)
	stable, cand := MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 2})
	down := "http://" + freeLoopback(t)
	gw, cl := startPromGateway(t, func(c *config.Gateway) {
		c.Prometheus = config.Prometheus{URL: down, Timeout: 500 * time.Millisecond}
		c.Rollouts.Alerts = []config.Webhook{{URL: pd.URL, Format: "pagerduty", RoutingKey: "k"}, {URL: og.URL, Format: "opsgenie", APIKey: "og-key"}}
	}, stable, cand)
	startLoad(t, gw.URL(), 2) // until the test ends (its cleanup)
	spec := gatedSpec(sluice.PromGate{Name: "candidate_error_rate", Query: candidateErrorRate, Max: maxOf(0.1)})
	spec.Stages[0].Hold = 0
	if _, err := cl.StartRollout(context.Background(), spec, "gate on a Prometheus that is down"); err != nil {
		t.Fatal(err)
	}
	r := waitPhase(t, cl, func(p sluice.Phase) bool { return p != sluice.PhaseWarming && p != sluice.PhaseProgressing }, 30*time.Second)
	if r.Phase != sluice.PhasePaused {
		t.Fatalf("phase %s (%s), want paused", r.Phase, r.Decision)
	}
	return pd, og, cl
}
