package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/server"
)

// TestReplicas_PlanRateIsTheFleets runs two replicas on one PostgreSQL
// store, sends a model's traffic to one of them only, and asks the other
// for a plan: its "current requests/s" (and so each stage's estimate of the
// candidate's requests in its hold) is the fleet's. It was the answering
// replica's own traffic: behind a load balancer spreading requests over
// three replicas the plan said a third of the rate, and two replicas asked
// in turn gave two plans (3.8 and 1.7 requests/s, at 20 a second).
func TestReplicas_PlanRateIsTheFleets(t *testing.T) {
	began := time.Now()
	f := newKeyFleet(t, nil, server.Options{})
	up := time.Now()
	ctx := context.Background()
	be := MustBackend(t, fakellm.Config{})
	doc := chatDoc(map[string]string{"v1.1.0": be.URL()}, nil, nil)
	doc.Models[0].Versions[0].Stage = sluice.StageStaging
	if _, err := f.a.Control.Do(ctx, "test", "register the candidate", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replica b to know chat:v1.1.0", 10*time.Second, func() bool {
		_, ok := f.b.Control.Registry().Versions["chat:v1.1.0"]
		return ok
	})
	const sent = 30
	for range sent {
		if code, msg := keyChat(t, f.b, f.token); code != http.StatusOK {
			t.Fatalf("chat through b: %d %q", code, msg)
		}
	}
	// rate returns the plan's rate through gw and the bounds it must lie
	// in. The plan counts the last 5 minutes, or, when the window holds
	// nothing from before the asked replica's start, from that start
	// (e24266c): the replicas started between began and up, and the plan
	// answered between c0 and c1.
	rate := func(gw *server.Server) (got, lo, hi float64) {
		c0 := time.Now()
		p, err := api.NewClient(gw.AdminURL(), f.token).Plan(ctx, "chat", "v1.1.0", "v1.0.0", nil)
		if err != nil {
			t.Fatal(err)
		}
		c1 := time.Now()
		return p.Rate, sent / c1.Sub(began).Seconds(), sent / c0.Sub(up).Seconds()
	}
	if got, lo, hi := rate(f.b); got < lo || got > hi {
		t.Fatalf("the plan through b, which served the requests, says %.4f requests/s, want %.4f to %.4f (%d since the fleet started)", got, lo, hi, sent)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, lo, hi := rate(f.a)
		if got >= lo && got <= hi {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the plan through a says %.4f requests/s 15 s after b served %d requests (%.4f to %.4f/s since the fleet started): it counts only the answering replica's traffic, not the fleet's", got, sent, lo, hi)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The admin API's summary reads the same windows: through a, which
	// served none of them, it counts b's requests (it too read a's
	// Recorder alone, and said v1.0.0 had none).
	raw, err := api.NewClient(f.a.AdminURL(), f.token).Summary(ctx, "chat", "")
	if err != nil {
		t.Fatal(err)
	}
	var sum []observe.VersionSummary
	if err := json.Unmarshal(raw, &sum); err != nil {
		t.Fatalf("summary: %v: %s", err, raw)
	}
	var served int64
	for _, v := range sum {
		if v.Version == "v1.0.0" {
			served = v.Requests
		}
	}
	if served != sent {
		t.Errorf("GET /admin/v1/summary/chat through a counts %d requests of v1.0.0, want the %d b served: %s", served, sent, raw)
	}
}
