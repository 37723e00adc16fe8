package rollout_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/rollout"
)

// TestWebhooks_AlertsOfAModelArriveInOrder: each alert is sent in the
// background with retries, and a pause's trigger whose first attempt
// failed (a 502 from the pager's edge) was retried a second later, after
// the resume's resolve, sent meanwhile, had arrived: the pager resolved
// nothing and then opened an incident that nothing would close. A hook's
// alerts about one model now arrive in the order they were raised; the
// second waits for the first's retries.
func TestWebhooks_AlertsOfAModelArriveInOrder(t *testing.T) {
	rc := newReceiver(t, http.StatusBadGateway, http.StatusAccepted)
	hook := rollout.Webhook{URL: rc.URL + "/v2/enqueue", Format: "pagerduty", RoutingKey: "R0UT1NGKEY0123456789abcdef012345"}
	send(t, []rollout.Webhook{hook}, paused(), resumed())
	var actions []string
	for _, b := range rc.got() {
		actions = append(actions, b["event_action"].(string))
	}
	// The trigger's failed attempt, its retry, then the resolve.
	want := []string{"trigger", "trigger", "resolve"}
	if len(actions) != len(want) || actions[0] != want[0] || actions[1] != want[1] || actions[2] != want[2] {
		t.Errorf("the pager got %v, want %v: a resolve before its trigger leaves the incident open", actions, want)
	}
}

// TestWebhooks_OtherModelsDoNotWait: the order is per model; another
// model's alert is not held behind a retried one.
func TestWebhooks_OtherModelsDoNotWait(t *testing.T) {
	var mu sync.Mutex
	var order []string
	failed := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			Key string `json:"dedup_key"`
		}
		json.NewDecoder(r.Body).Decode(&ev)
		mu.Lock()
		defer mu.Unlock()
		order = append(order, ev.Key)
		if ev.Key == "sluice-paused/chat" && !failed { // chat's first attempt
			failed = true
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	hook := rollout.Webhook{URL: srv.URL + "/v2/enqueue", Format: "pagerduty", RoutingKey: "R0UT1NGKEY0123456789abcdef012345"}
	other := rolledBack()
	other.Model = "embed"
	w := &rollout.Webhooks{Hooks: []rollout.Webhook{hook}, Source: "gw-1"}
	w.Alert(context.Background(), paused())
	w.Alert(context.Background(), other)
	w.Wait(context.Background())
	mu.Lock()
	defer mu.Unlock()
	// embed's alert arrives before chat's retry, a second after chat's
	// first attempt, whichever of the two first attempts came first.
	if len(order) != 3 || order[2] != "sluice-paused/chat" {
		t.Errorf("the pager got %v, want chat's retry last, not embed's alert held behind it", order)
	}
}
