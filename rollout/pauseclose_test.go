package rollout_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/promgate"
	"github.com/sluicehq/sluice/rollout"
)

// downPrometheus is a promgate client for a Prometheus that answers
// nothing: a loopback port whose listener is closed, so every gate is
// "connection refused", as a Prometheus that is down.
func downPrometheus(t *testing.T) rollout.GateEvaluator {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	pc, err := promgate.New(promgate.Options{URL: srv.URL, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

// gatedCanary is a canary of chat:v2 with one Prometheus gate.
func gatedCanary() sluice.RolloutSpec {
	max := 0.05
	return sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary,
		Analysis: sluice.AnalysisSpec{Prometheus: []sluice.PromGate{{Name: "cand_errors", Query: `sum(rate(errors{version="{{.Candidate}}"}[1m]))`, Max: &max}}}}
}

// pagers are a PagerDuty and an Opsgenie receiver on loopback, and the
// webhooks that post to them with the events given (nil: the pagers'
// defaults).
type pagers struct {
	pd, og *receiver
	hooks  *rollout.Webhooks
}

func newPagers(t *testing.T, events []string) *pagers {
	t.Helper()
	p := &pagers{pd: newReceiver(t, http.StatusAccepted), og: newReceiver(t, http.StatusAccepted)}
	p.hooks = &rollout.Webhooks{Source: "gw-1", Hooks: []rollout.Webhook{
		{URL: p.pd.URL, Format: "pagerduty", RoutingKey: "k", Events: events},
		{URL: p.og.URL, Format: "opsgenie", APIKey: "og-key", Events: events},
	}}
	return p
}

// sent returns what each pager got, in words: PagerDuty's event_action
// and dedup_key, Opsgenie's request path.
func (p *pagers) sent() (pd, og []string) {
	for _, b := range p.pd.got() {
		pd = append(pd, fmt.Sprintf("%v %v", b["event_action"], b["dedup_key"]))
	}
	for _, r := range p.og.requests() {
		og = append(og, strings.TrimSuffix(r, " GenieKey og-key"))
	}
	return pd, og
}

// pauseByGates starts the gated canary through c, waits for its warm-up,
// and runs the analyses (each an analysis interval later on clock) until
// the controller pauses it, its Prometheus being down; it waits for the
// pause's alerts to be sent through hooks.
func pauseByGates(t *testing.T, ctl *control.Service, c *rollout.Controller, clock *rvClock, hooks *rollout.Webhooks) sluice.Rollout {
	t.Helper()
	ctx := t.Context()
	if _, err := c.Start(ctx, "alice", "ship v2", gatedCanary()); err != nil {
		t.Fatal(err)
	}
	c.Wait()
	for range rollout.GateErrorChecks {
		clock.Add(11 * time.Second)
		c.Step(ctx)
	}
	c.Wait()
	hooks.Wait(ctx)
	r := ctl.Registry().Rollouts["chat"]
	if r == nil || r.Phase != sluice.PhasePaused {
		t.Fatalf("setup: the rollout is not paused by its gates: %+v", r)
	}
	return *r
}

// pauseEnv is one gateway on SQLite whose Prometheus is down, paging
// through p.
func pauseEnv(t *testing.T, p *pagers) (*control.Service, *rollout.Controller, *rvClock) {
	t.Helper()
	clock := &rvClock{now: time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)}
	ctl, c := rvReplica(t, filepath.Join(t.TempDir(), "s.db"), clock, "gw-1", true,
		rollout.Options{InFlight: rvNoneInFlight, Prometheus: downPrometheus(t), Alerts: p.hooks})
	t.Cleanup(c.Wait)
	return ctl, c, clock
}

func abort(t *testing.T, c *rollout.Controller, hooks *rollout.Webhooks, actor string) sluice.Rollout {
	t.Helper()
	r, err := c.Act(t.Context(), actor, "chat", rollout.EvAbort, "not worth the wait")
	if err != nil {
		t.Fatalf("abort: %v", err)
	}
	c.Wait() // the abort's drain, then its alerts
	hooks.Wait(t.Context())
	return r
}

// What the user does: the controller pauses a rollout whose Prometheus
// gates it cannot read, and pages; the on-call looks and aborts the
// rollout (sluice rollout abort) rather than resume it.
// What must happen: the pause's incident is closed (PagerDuty resolves
// sluice-paused/MODEL, Opsgenie closes sluice-paused:MODEL, its note
// saying why), and the model's own page (sluice/MODEL, which only a
// promotion resolves) is left alone. Before, the pause's incident stayed
// open until some later rollout of the model was promoted.
func TestAbortClosesThePausePage(t *testing.T) {
	t.Run("PagedPauseAborted", func(t *testing.T) {
		p := newPagers(t, nil)
		ctl, c, clock := pauseEnv(t, p)
		r := pauseByGates(t, ctl, c, clock, p.hooks)
		pd, og := p.sent()
		if strings.Join(pd, "|") != "trigger sluice-paused/chat" || strings.Join(og, "|") != "POST /v2/alerts" {
			t.Fatalf("setup: the pause's pages: %v %v", pd, og)
		}
		abort(t, c, p.hooks, "bob")
		pd, og = p.sent()
		if want := "trigger sluice-paused/chat|resolve sluice-paused/chat"; strings.Join(pd, "|") != want {
			t.Errorf("PagerDuty got %v, want %s: the abort resolves the pause's page, and nothing else (an abort is not paged by default)", pd, want)
		}
		if want := "POST /v2/alerts|POST /v2/alerts/sluice-paused:chat/close?identifierType=alias"; strings.Join(og, "|") != want {
			t.Errorf("Opsgenie got %v, want %s", og, want)
		}
		if got := p.pd.got(); len(got) == 2 && mustJSON(t, got[1]) != `{"dedup_key":"sluice-paused/chat","event_action":"resolve","routing_key":"k"}` {
			t.Errorf("the resolve: %s", mustJSON(t, got[1]))
		}
		if got := p.og.got(); len(got) == 2 {
			note := fmt.Sprint(got[1]["note"])
			if !strings.Contains(note, "rollout "+r.ID+" of chat:v2") || !strings.Contains(note, "aborted by bob") || !strings.Contains(note, "while paused") || !strings.Contains(note, "not worth the wait") {
				t.Errorf("the close's note %q: it must say which rollout ended, how, by whom and why", note)
			}
		}
	})

	t.Run("PagerTakesPausedNotAborted", func(t *testing.T) {
		// What opened the incident closes it: a pager listing paused gets
		// the close, though aborted is not among its events (and it is
		// not sent the abort itself).
		p := newPagers(t, []string{"paused", "rolled_back"})
		ctl, c, clock := pauseEnv(t, p)
		pauseByGates(t, ctl, c, clock, p.hooks)
		abort(t, c, p.hooks, "bob")
		pd, og := p.sent()
		if want := "trigger sluice-paused/chat|resolve sluice-paused/chat"; strings.Join(pd, "|") != want {
			t.Errorf("PagerDuty got %v, want %s", pd, want)
		}
		if want := "POST /v2/alerts|POST /v2/alerts/sluice-paused:chat/close?identifierType=alias"; strings.Join(og, "|") != want {
			t.Errorf("Opsgenie got %v, want %s", og, want)
		}
	})

	t.Run("PagerTakesAbortedToo", func(t *testing.T) {
		// A pager that pages on aborts gets the abort's page under the
		// model's key, and the pause's close: the abort resolves no
		// sluice/MODEL incident.
		p := newPagers(t, []string{"paused", "aborted"})
		ctl, c, clock := pauseEnv(t, p)
		pauseByGates(t, ctl, c, clock, p.hooks)
		abort(t, c, p.hooks, "bob")
		pd, og := p.sent()
		if want := "trigger sluice-paused/chat|resolve sluice-paused/chat|trigger sluice/chat"; strings.Join(pd, "|") != want {
			t.Errorf("PagerDuty got %v, want %s", pd, want)
		}
		if want := "POST /v2/alerts|POST /v2/alerts/sluice-paused:chat/close?identifierType=alias|POST /v2/alerts"; strings.Join(og, "|") != want {
			t.Errorf("Opsgenie got %v, want %s", og, want)
		}
		if got := p.og.got(); len(got) == 3 && got[2]["alias"] != "sluice:chat" {
			t.Errorf("the abort's Opsgenie alert has alias %v, want sluice:chat", got[2]["alias"])
		}
	})

	t.Run("PagerWithoutPaused", func(t *testing.T) {
		// A pager whose events leave paused out was never paged for the
		// pause: nothing closes it, and the abort is not among its events.
		p := newPagers(t, []string{"rolled_back", "promoted"})
		ctl, c, clock := pauseEnv(t, p)
		pauseByGates(t, ctl, c, clock, p.hooks)
		abort(t, c, p.hooks, "bob")
		if pd, og := p.sent(); len(pd)+len(og) != 0 {
			t.Errorf("sent %v %v, want nothing", pd, og)
		}
	})

	t.Run("OperatorsPause", func(t *testing.T) {
		// An operator's pause sent no alert: its abort closes nothing.
		p := newPagers(t, nil)
		ctl, c, _ := pauseEnv(t, p)
		if _, err := c.Start(t.Context(), "alice", "ship v2", gatedCanary()); err != nil {
			t.Fatal(err)
		}
		c.Wait()
		if _, err := c.Act(t.Context(), "bob", "chat", rollout.EvPause, "looking"); err != nil {
			t.Fatal(err)
		}
		if r := ctl.Registry().Rollouts["chat"]; r.Phase != sluice.PhasePaused {
			t.Fatalf("setup: %s", r.Phase)
		}
		abort(t, c, p.hooks, "bob")
		if pd, og := p.sent(); len(pd)+len(og) != 0 {
			t.Errorf("sent %v %v, want nothing: the pause paged no one", pd, og)
		}
	})

	t.Run("ResumedThenAborted", func(t *testing.T) {
		// The resume closed the pause's incident: the abort after it
		// closes nothing again.
		p := newPagers(t, nil)
		ctl, c, clock := pauseEnv(t, p)
		pauseByGates(t, ctl, c, clock, p.hooks)
		if _, err := c.Act(t.Context(), "bob", "chat", rollout.EvResume, "prometheus is back"); err != nil {
			t.Fatal(err)
		}
		c.Wait()
		p.hooks.Wait(t.Context())
		abort(t, c, p.hooks, "bob")
		pd, og := p.sent()
		if want := "trigger sluice-paused/chat|resolve sluice-paused/chat"; strings.Join(pd, "|") != want {
			t.Errorf("PagerDuty got %v, want %s (one resolve, the resume's)", pd, want)
		}
		if want := "POST /v2/alerts|POST /v2/alerts/sluice-paused:chat/close?identifierType=alias"; strings.Join(og, "|") != want {
			t.Errorf("Opsgenie got %v, want %s", og, want)
		}
		if got := p.og.got(); len(got) == 2 && !strings.Contains(fmt.Sprint(got[1]["note"]), "resumed by bob") {
			t.Errorf("the close is not the resume's: %v", got[1])
		}
	})

	t.Run("ChatHooksUnchanged", func(t *testing.T) {
		// A chat webhook keeps no incident: it gets the pause and the
		// abort as before, and nothing more.
		rc := newReceiver(t)
		hooks := &rollout.Webhooks{Hooks: []rollout.Webhook{{URL: rc.URL, Format: "json"}}}
		ctl, c, clock := pauseEnv(t, &pagers{hooks: hooks})
		pauseByGates(t, ctl, c, clock, hooks)
		abort(t, c, hooks, "bob")
		var events []string
		for _, b := range rc.got() {
			events = append(events, fmt.Sprint(b["event"]))
		}
		if strings.Join(events, ",") != "paused,aborted" {
			t.Errorf("the json webhook got %v, want the pause and the abort", events)
		}
	})
}

// What the user does: the controller of one gateway pauses a rollout and
// pages; that gateway restarts (or another replica serves the operator),
// and the operator aborts the rollout there.
// What must happen: the process that aborts, which never paged, closes the
// pause's incident: what says the pause paged is in the store (the paused
// event's verdict on the rollout's timeline), not in the memory of the
// process that paged.
func TestAbortClosesThePausePage_OtherProcess(t *testing.T) {
	t.Run("AfterARestart", func(t *testing.T) {
		p := newPagers(t, nil)
		path := filepath.Join(t.TempDir(), "s.db")
		clock := &rvClock{now: time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)}
		ctlA, a := rvReplica(t, path, clock, "gw-a", true, rollout.Options{InFlight: rvNoneInFlight, Prometheus: downPrometheus(t), Alerts: p.hooks})
		pauseByGates(t, ctlA, a, clock, p.hooks)
		// gw-a is gone; gw-a' starts on the same file with its own webhooks.
		p2 := newPagers(t, nil)
		_, a2 := rvReplica(t, path, clock, "gw-a2", false, rollout.Options{InFlight: rvNoneInFlight, Prometheus: downPrometheus(t), Alerts: p2.hooks})
		t.Cleanup(a2.Wait)
		abort(t, a2, p2.hooks, "bob")
		pd, og := p2.sent()
		if strings.Join(pd, "|") != "resolve sluice-paused/chat" || strings.Join(og, "|") != "POST /v2/alerts/sluice-paused:chat/close?identifierType=alias" {
			t.Errorf("the restarted gateway sent %v %v, want the pause's close", pd, og)
		}
	})

	t.Run("AbortingReplicaDiesMidDrain", func(t *testing.T) {
		// The abort's alerts wait for its drain, which a never finishes:
		// the pending record (Unwinding) in the store carries the close,
		// and b, completing the abort once a is an orphan, sends it.
		p := newPagers(t, nil)
		path := filepath.Join(t.TempDir(), "s.db")
		clock := &rvClock{now: time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)}
		dying := make(chan struct{})
		ctlA, a := rvReplica(t, path, clock, "a", true, rollout.Options{InFlight: rvInFlightUntil(dying), DrainTimeout: time.Hour, Prometheus: downPrometheus(t), Alerts: p.hooks})
		t.Cleanup(func() { close(dying); a.Wait() })
		p2 := newPagers(t, nil)
		ctlB, b := rvReplica(t, path, clock, "b", false, rollout.Options{InFlight: rvNoneInFlight, Alerts: p2.hooks})
		t.Cleanup(b.Wait)
		pauseByGates(t, ctlA, a, clock, p.hooks)
		if _, err := a.Act(t.Context(), "bob", "chat", rollout.EvAbort, "not worth the wait"); err != nil {
			t.Fatal(err)
		}
		if err := ctlB.Reload(t.Context()); err != nil {
			t.Fatal(err)
		}
		r := ctlB.Registry().Rollouts["chat"]
		if r == nil || r.Unwinding == nil {
			t.Fatalf("the store holds no pending abort: %v", r)
		}
		if u := r.Unwinding; len(u.Alerts) != 1 || !strings.Contains(u.Alerts[0].PauseClose, "aborted by bob") {
			t.Errorf("the pending alerts %+v, want the abort's, carrying the pause's close", u.Alerts)
		}
		clock.Add(11 * time.Second)
		b.Step(t.Context())
		b.Wait()
		p2.hooks.Wait(t.Context())
		pd, og := p2.sent()
		if strings.Join(pd, "|") != "resolve sluice-paused/chat" || strings.Join(og, "|") != "POST /v2/alerts/sluice-paused:chat/close?identifierType=alias" {
			t.Errorf("b, completing a's abort, sent %v %v, want the pause's close", pd, og)
		}
		if pd, _ := p.sent(); len(pd) != 1 {
			t.Errorf("a, which died mid-drain, sent %v after its pause", pd)
		}
	})

	t.Run("PostgreSQLFleet", func(t *testing.T) {
		// Two replicas on one PostgreSQL schema, each with its own
		// webhooks to the same pagers: a leads and pages the pause; the
		// abort goes through b, which has not heard of the pause yet.
		dsn := pgtest.Schema(t)
		p := newPagers(t, nil)
		clock := &rvClock{now: time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)}
		_, ctlA := pgControl(t, dsn, 0)
		setupModels(t, ctlA, "chat")
		a := rollout.New(rollout.Options{Control: ctlA, Windows: &rvWindows{}, Warmer: &rvWarmer{}, InFlight: rvNoneInFlight,
			Prometheus: downPrometheus(t), Alerts: p.hooks, Now: clock.Now, Replica: "a"})
		t.Cleanup(a.Wait)
		_, ctlB := pgControl(t, dsn, 0)
		hooksB := &rollout.Webhooks{Source: "gw-b", Hooks: p.hooks.Hooks}
		b := rollout.New(rollout.Options{Control: ctlB, Windows: &rvWindows{}, Warmer: &rvWarmer{}, InFlight: rvNoneInFlight,
			Alerts: hooksB, Now: clock.Now, Replica: "b"})
		t.Cleanup(b.Wait)
		pauseByGates(t, ctlA, a, clock, p.hooks)
		if r := ctlB.Registry().Rollouts["chat"]; r != nil {
			t.Fatalf("setup: b already knows of the rollout (%s)", r.Phase)
		}
		r := abort(t, b, hooksB, "bob")
		if r.Phase != sluice.PhaseAborted {
			t.Fatalf("phase %s after the abort through b", r.Phase)
		}
		pd, og := p.sent()
		if want := "trigger sluice-paused/chat|resolve sluice-paused/chat"; strings.Join(pd, "|") != want {
			t.Errorf("PagerDuty got %v, want %s", pd, want)
		}
		if want := "POST /v2/alerts|POST /v2/alerts/sluice-paused:chat/close?identifierType=alias"; strings.Join(og, "|") != want {
			t.Errorf("Opsgenie got %v, want %s", og, want)
		}
	})
}
