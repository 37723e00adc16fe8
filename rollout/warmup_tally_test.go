package rollout_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/rollout"
	"github.com/sluicehq/sluice/sqlite"
)

// coldServer is a candidate's model server whose first warm-up requests
// answer 500 (a CUDA graph still being captured); after those, and for
// everything else, it is a fakellm.
type coldServer struct {
	*httptest.Server
	fail    atomic.Int32 // warm-up requests still to fail
	warmups atomic.Int32 // warm-up requests received
}

func newColdServer(t *testing.T, fail int32) *coldServer {
	t.Helper()
	s := &coldServer{}
	s.fail.Store(fail)
	fake := fakellm.New(fakellm.Config{}).Handler()
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Sluice-Warmup") != "" {
			s.warmups.Add(1)
			if s.fail.Add(-1) >= 0 {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprint(w, `{"error": {"message": "CUDA graph capture in progress", "type": "server_error"}}`)
				return
			}
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// tallyStore opens a control service on the SQLite file at path; with
// setup, it first registers chat: v1 in production, served, and v2, on
// candidate, in staging.
func tallyStore(t *testing.T, path string, setup bool, candidate string) *control.Service {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctl, err := control.New(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if setup {
		doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Labels: map[string]string{"stable": "v1"},
			Policy: &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"},
			Versions: []sluice.Version{
				{Version: "v1", Endpoints: []string{"http://127.0.0.1:1"}, Stage: sluice.StageProduction},
				{Version: "v2", Endpoints: []string{candidate}, Stage: sluice.StageStaging},
			}}}}
		if _, err := ctl.Do(ctx, "setup", "setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
			t.Fatal(err)
		}
	}
	return ctl
}

// warmedAudit is the reason of the audit entry the warm-up's end wrote.
func warmedAudit(t *testing.T, ctl *control.Service) string {
	t.Helper()
	audit, err := ctl.Store().Audit(context.Background(), sluice.AuditQuery{Action: "rollout.warmed"})
	if err != nil {
		t.Fatal(err)
	}
	var rs []string
	for _, a := range audit {
		rs = append(rs, a.Reason)
	}
	if len(rs) == 0 {
		t.Fatal("no rollout.warmed audit entry")
	}
	// The change's entries (the rollout's, the policy's) all say it.
	for _, r := range rs[1:] {
		if r != rs[0] {
			t.Errorf("the warm-up's audit entries differ: %q", rs)
		}
	}
	return rs[0]
}

func warmedEvent(r *sluice.Rollout) string {
	for _, e := range r.Events {
		if e.Kind == "warmed" {
			return e.Message
		}
	}
	return ""
}

// TestWarmup_AuditSaysTally: the audit entry of a warm-up's end says how
// many of its requests were sent and failed, and the allowance, before
// the stage it put the candidate at; it quoted the stage's event alone
// ("warm-up of chat-…: stage 1: candidate at 10% of traffic").
func TestWarmup_AuditSaysTally(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		fail       int32
		warmup     sluice.WarmupSpec
		want, note string
	}{
		{"OneFailedAllowed", 1, sluice.WarmupSpec{MaxFailures: 1},
			"warm-up passed: 5 requests, 1 failed (at most 1 may); stage 1: candidate at 10% of traffic",
			"candidate ready and warm: 1 of 5 warm-up requests failed, within warmup.max_failures 1 (request 1 to URL answered 500"},
		{"NoneFailed", 0, sluice.WarmupSpec{Requests: 3},
			"warm-up passed: 3 requests, none failed; stage 1: candidate at 10% of traffic",
			"candidate ready and warm"},
		{"Skipped", 0, sluice.WarmupSpec{Skip: true},
			"warm-up skipped, candidate ready; stage 1: candidate at 10% of traffic",
			"candidate ready (warm-up skipped)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cand := newColdServer(t, tc.fail)
			ctl := tallyStore(t, filepath.Join(t.TempDir(), "s.db"), true, cand.URL)
			c := rollout.New(rollout.Options{Control: ctl, Windows: &rvWindows{}, Warmer: &rollout.HTTPWarmer{}})
			r, err := c.Start(ctx, "alice", "ship v2", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary, Warmup: tc.warmup})
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the warm-up's end", func() bool {
				r := ctl.Registry().Rollouts["chat"]
				return r != nil && r.Phase != sluice.PhaseWarming
			})
			c.Wait()
			got := ctl.Registry().Rollouts["chat"]
			if got.Phase != sluice.PhaseProgressing {
				t.Fatalf("phase %s: %s", got.Phase, got.Decision)
			}
			if want := "warm-up of " + r.ID + ": " + tc.want; warmedAudit(t, ctl) != want {
				t.Errorf("audit %q; want %q", warmedAudit(t, ctl), want)
			}
			if note := strings.ReplaceAll(tc.note, "URL", cand.URL); !strings.HasPrefix(warmedEvent(got), note) {
				t.Errorf("warmed event %q; want %q", warmedEvent(got), note)
			}
		})
	}
}

// TestPreRolloutWebhook_LeaderChangeKeepsWarmupTally: a leader change
// during the pre_rollout webhooks (after the warm-up's requests, before
// the "warmed" event) lost what the warm-up found, held in the old
// leader's memory: the new leader, which does not warm the candidate
// again, wrote a "warmed" event with no word of the failed request its
// operator allowed. The tally is kept in the stored rollout with the
// first call, and the new leader's event and audit say it.
func TestPreRolloutWebhook_LeaderChangeKeepsWarmupTally(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	cand := newColdServer(t, 1)
	caller := &heldCaller{answer: make(chan rollout.WebhookResult)}
	var ctls []*control.Service
	var cs []*rollout.Controller
	var leads []*switchLead
	for i := range 2 {
		ctl := tallyStore(t, path, i == 0, cand.URL)
		lead := &switchLead{}
		lead.on.Store(i == 0)
		ctls, leads = append(ctls, ctl), append(leads, lead)
		cs = append(cs, rollout.New(rollout.Options{Control: ctl, Windows: &rvWindows{}, Warmer: &rollout.HTTPWarmer{}, Leader: lead, Webhooks: caller}))
	}
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary, Warmup: sluice.WarmupSpec{MaxFailures: 1},
		Webhooks: []sluice.RolloutWebhook{{Name: "evals", URL: "http://127.0.0.1:9/run", Type: sluice.WebhookPreRollout}}}
	r, err := cs[0].Start(ctx, "alice", "ship v2", spec)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first leader's call", func() bool { n, _ := caller.count(); return n == 1 })
	if err := ctls[1].Reload(ctx); err != nil {
		t.Fatal(err)
	}
	stored := ctls[1].Registry().Rollouts["chat"].Warmup
	if stored == nil || stored.Requests != 5 || stored.Failed != 1 {
		t.Errorf("the stored rollout's warm-up tally %+v during the call; want 5 requests, 1 failed", stored)
	}
	handOver(ctx, t, leads, cs, ctls, caller)
	if n := cand.warmups.Load(); n != 5 {
		t.Errorf("the candidate got %d warm-up requests; want 5, from the first leader alone", n)
	}
	got := ctls[1].Registry().Rollouts["chat"]
	want := "candidate ready and warm: 1 of 5 warm-up requests failed, within warmup.max_failures 1 (request 1 to " + cand.URL + " answered 500"
	if !strings.HasPrefix(warmedEvent(got), want) {
		t.Errorf("the new leader's warmed event %q; want %q", warmedEvent(got), want)
	}
	if a, want := warmedAudit(t, ctls[1]), "warm-up of "+r.ID+": warm-up passed: 5 requests, 1 failed (at most 1 may); stage 1: candidate at 10% of traffic"; a != want {
		t.Errorf("audit %q; want %q", a, want)
	}
}
