package replicas_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// What the user does: runs two replicas on PostgreSQL with an unload
// webhook and an alert webhook, and aborts a canary through replica 1
// while a client of replica 1 has a long request in flight to the
// candidate; replica 1 is killed (SIGKILL) while its drain waits for that
// request.
// What must happen: the abort recorded its unload and alert as pending in
// its own transaction, so replica 2 (leading once replica 1 is gone)
// completes them once replica 1's beat has expired: the unload webhook is
// called once, the alert arrives saying replica 2 completed replica 1's
// rollback, the rollout's timeline gets its timings and nothing stays
// pending.
func TestReplicaKilledMidDrainUnloadCompleted(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two gateway processes (skipped under -short)")
	}
	dsn := pgtest.Schema(t)
	fake := fakellm.New(fakellm.Config{})
	held := make(chan struct{}, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if bytes.Contains(body, []byte("HOLD-ME")) {
			held <- struct{}{}
			<-r.Context().Done() // until the gateway that sent it dies
			return
		}
		fake.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(backend.Close)
	var mu sync.Mutex
	var unloads []string
	var alerts []map[string]any
	unload := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		unloads = append(unloads, string(b))
		mu.Unlock()
	}))
	t.Cleanup(unload.Close)
	alert := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a map[string]any
		json.NewDecoder(r.Body).Decode(&a)
		mu.Lock()
		alerts = append(alerts, a)
		mu.Unlock()
	}))
	t.Cleanup(alert.Close)

	rs := liveCanaryFleet(t, dsn, backend.URL, `tick: 50ms, drain_timeout: 5m, unload_webhook: "`+unload.URL+`", alerts: [{url: "`+alert.URL+`"}]`, 0)
	ctx := context.Background()
	go func() {
		resp, err := http.Post(rs[0].url+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"chat:v1.1.0","messages":[{"role":"user","content":"HOLD-ME"}]}`))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("the long request did not reach the candidate")
	}
	if _, err := rs[0].client.RolloutAction(ctx, "chat", "abort", "bad canary"); err != nil {
		t.Fatalf("abort through replica 1: %v", err)
	}
	st, err := rs[1].client.Rollout(ctx, "chat")
	for deadline := time.Now().Add(10 * time.Second); (err != nil || st.Rollout.Unwinding == nil) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		st, err = rs[1].client.Rollout(ctx, "chat")
	}
	if err != nil || st.Rollout.Phase != sluice.PhaseAborted || st.Rollout.Unwinding == nil || !st.Rollout.Unwinding.Unload {
		t.Fatalf("after the abort replica 2 sees %+v (%v), want it aborted with its unload pending", st.Rollout, err)
	}
	rs[0].Kill() // mid-drain: its request to the candidate is still in flight
	killed := time.Now()

	for deadline := time.Now().Add(60 * time.Second); ; {
		st, err = rs[1].client.Rollout(ctx, "chat")
		mu.Lock()
		nu, na := len(unloads), len(alerts)
		mu.Unlock()
		if err == nil && st.Rollout.Unwinding == nil && nu >= 1 && na >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("60 s after replica 1 was killed mid-drain: %d unload(s), %d alert(s), pending %+v (%v)", nu, na, st.Rollout.Unwinding, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("replica 2 completed the rollback %s after replica 1 was killed", time.Since(killed).Round(time.Millisecond))
	var timings int
	for _, ev := range st.Rollout.Events {
		if ev.Kind == "rollback_timings" {
			timings++
		}
	}
	if timings != 1 {
		t.Errorf("%d rollback_timings events on the timeline, want 1", timings)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(unloads) != 1 || !strings.Contains(unloads[0], `"chat:v1.1.0"`) {
		t.Errorf("unload webhook calls = %q, want one for chat:v1.1.0", unloads)
	}
	if len(alerts) != 1 || !strings.Contains(alerts[0]["message"].(string), "bad canary") || !strings.Contains(alerts[0]["message"].(string), "stopped before its unload") {
		t.Errorf("alerts = %v, want the abort's, saying replica 2 completed it", alerts)
	}
}
