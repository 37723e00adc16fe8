package replicas_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestReplicas_StickyAndPropagation runs three gateway processes on one
// PostgreSQL schema. Every sticky user gets the same version from all
// three; then 50 split changes and a rollback are made through replica 1,
// and the time until each is live on replicas 2 and 3 (their routing
// table shows it) is measured and printed.
func TestReplicas_StickyAndPropagation(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three gateway processes (skipped under -short)")
	}
	f := newFleet(t, pgtest.Schema(t))
	rs := f.start(3)
	ctx := t.Context()

	// Sticky assignment agrees across replicas.
	const users = 3000
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	got := make([][]string, len(rs))
	var wg sync.WaitGroup
	for i, r := range rs {
		got[i] = make([]string, users)
		for w := range 8 {
			wg.Go(func() {
				for u := w; u < users; u += 8 {
					v, err := versionFor(client, r.url, fmt.Sprintf("user-%d", u))
					if err != nil {
						t.Errorf("%s user-%d: %v", r.name, u, err)
						return
					}
					got[i][u] = v
				}
			})
		}
	}
	wg.Wait()
	canary := 0
	for u := range users {
		if got[0][u] != got[1][u] || got[0][u] != got[2][u] {
			t.Fatalf("user-%d got %s, %s and %s from the three replicas", u, got[0][u], got[1][u], got[2][u])
		}
		if got[0][u] == "chat:v1.1.0" {
			canary++
		}
	}
	t.Logf("%d sticky users: the same version on all three replicas; %d on the 10%% canary", users, canary)

	// Changes through replica 1, watched on 2 and 3.
	const changes = 50
	var lat, acks, prop []time.Duration
	for i := range changes + 1 {
		sent := time.Now()
		if i < changes {
			p := 11 + float64(i%40) // each differs from the one before
			_, err := rs[0].client.SetSplit(ctx, "chat", []sluice.Weight{{Version: "v1.0.0", Percent: 100 - p}, {Version: "v1.1.0", Percent: p}}, "", fmt.Sprintf("change %d", i))
			if err != nil {
				t.Fatalf("change %d through replica 1: %v", i, err)
			}
		} else {
			// The rollback: everything back on the stable version.
			if _, err := rs[0].client.SetPolicy(ctx, "chat", sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.0.0"}, "rollback"); err != nil {
				t.Fatalf("rollback through replica 1: %v", err)
			}
		}
		acked := time.Since(sent)
		acks = append(acks, acked)
		want, err := rs[0].policy(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs[1:] {
			d := waitRoutes(t, r, want, sent)
			lat = append(lat, d)
			prop = append(prop, max(0, d-acked))
		}
		if i == changes {
			t.Logf("rollback through replica 1 live on replica 2 after %v and on replica 3 after %v", lat[len(lat)-2].Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond))
		}
	}
	r := func(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
	p50, p99, worst := percentile(prop, 0.5), percentile(prop, 0.99), percentile(prop, 1)
	t.Logf("propagation of %d changes committed through replica 1 until live on replicas 2 and 3 (%d observations, from replica 1's acknowledgement): p50 %v, p99 %v, max %v",
		changes+1, len(prop), r(p50), r(p99), r(worst))
	t.Logf("end to end, from sending the change to replica 1 until live on 2 and 3: p50 %v, p99 %v, max %v; replica 1 itself acknowledged after p50 %v, p99 %v",
		r(percentile(lat, 0.5)), r(percentile(lat, 0.99)), r(percentile(lat, 1)), r(percentile(acks, 0.5)), r(percentile(acks, 0.99)))
	if p99 > 500*time.Millisecond {
		t.Errorf("propagation p99 %v, want well under the 100 ms goal (failing only above 500 ms, since CI runs other packages at once)", p99)
	}
	// After the rollback every user is on the stable version everywhere.
	for _, r := range rs {
		for u := range 50 {
			if v, err := versionFor(client, r.url, fmt.Sprintf("user-%d", u)); err != nil || v != "chat:v1.0.0" {
				t.Fatalf("after the rollback %s served user-%d from %s (%v), want chat:v1.0.0", r.name, u, v, err)
			}
		}
	}
}

// waitRoutes polls r's routing table until chat's policy is want and
// returns the time since sent.
func waitRoutes(t *testing.T, r *replica, want string, sent time.Time) time.Duration {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		got, err := r.policy(t.Context())
		if err == nil && got == want {
			return time.Since(sent)
		}
		time.Sleep(200 * time.Microsecond) // leave the CPU to the replicas
	}
	got, _ := r.policy(t.Context())
	t.Fatalf("%s (at registry revision %v) did not take the change within 10 s:\n got  %s\n want %s", r.name, r.metric("sluice_registry_revision"), got, want)
	return 0
}

// TestReplicas_LeaderKilled starts an A/B test rollout on three replicas
// under load, kills the replica that runs the controller with SIGKILL while
// the rollout is live, and checks that another replica takes over within
// seconds, that the rollout completes under it, and that the audit log
// holds each of the rollout's transitions exactly once.
func TestReplicas_LeaderKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three gateway processes (skipped under -short)")
	}
	f := newFleet(t, pgtest.Schema(t))
	rs := f.start(3)
	ctx := t.Context()
	l := startLoad(t, 12, rs...)

	first := f.leader(10 * time.Second)
	var via *replica // an operator talks to a replica that is not the leader
	for _, r := range rs {
		if r != first {
			via = r
			break
		}
	}
	ro, err := via.client.StartRollout(ctx, sluice.RolloutSpec{
		Model: "chat", Candidate: "v1.1.0", Baseline: "v1.0.0", Strategy: sluice.StrategyABTest,
		ABSamples: 1500, ABFeedbackWait: new(sluice.Duration(time.Second)), Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(200 * time.Millisecond)},
		Warmup: sluice.WarmupSpec{Requests: 2},
	}, "A/B test across replicas")
	if err != nil {
		t.Fatalf("start the rollout through %s: %v", via.name, err)
	}
	waitPhase(t, via, ro.ID, 20*time.Second, sluice.PhaseProgressing)

	killed := time.Now()
	first.Kill()
	var rest []*replica
	for _, r := range rs {
		if r != first {
			rest = append(rest, r)
		}
	}
	l.setTargets(rest...)
	second := f.leader(15 * time.Second)
	takeover := time.Since(killed)
	st := waitPhase(t, via, ro.ID, 60*time.Second, sluice.PhaseCompleted)
	t.Logf("leader %s killed with SIGKILL while the rollout was live; %s took over after %v; the rollout completed %v after the kill: %s",
		first.name, second.name, takeover.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond), st.Decision)
	if takeover > 10*time.Second {
		t.Errorf("takeover took %v, want a few seconds", takeover)
	}
	l.finish()
	if n := l.failed.Load(); n > 0 {
		t.Logf("%d client requests failed (to the killed replica while it died): %v", n, l.errs)
	}

	// Each transition once: in the audit, every change of phase, stage or
	// percent of this rollout appears once.
	entries, err := via.client.Audit(ctx, sluice.AuditQuery{Model: "chat", Action: "rollout.", Ascending: true, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	var trail []string
	for _, a := range entries {
		if a.Subject != ro.ID {
			continue
		}
		var before, after map[string]any
		json.Unmarshal(a.Before, &before)
		json.Unmarshal(a.After, &after)
		from := fmt.Sprint(before["phase"], "@", before["percent"], "/", before["stage"])
		to := fmt.Sprint(after["phase"], "@", after["percent"], "/", after["stage"])
		if from == to {
			continue // an analysis that changed nothing
		}
		k := a.Action + " " + from + " -> " + to
		seen[k]++
		trail = append(trail, k)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("transition %q is in the audit log %d times, want once", k, n)
		}
	}
	if len(trail) != 4 || !strings.HasSuffix(trail[2], "-> progressing@0/0") {
		t.Errorf("transitions %q, want start, warmed, the wait for users' feedback (progressing at 0%%) and completed", trail)
	}
	t.Logf("transitions in the audit log: %q", trail)
}

// waitPhase waits until rollout id reaches phase, as r reports it.
func waitPhase(t *testing.T, r *replica, id string, timeout time.Duration, phase sluice.Phase) sluice.Rollout {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last sluice.Rollout
	for time.Now().Before(deadline) {
		st, err := r.client.Rollout(context.Background(), "chat")
		if err == nil {
			last = st.Rollout
			if last.ID == id && last.Phase == phase {
				return last
			}
			if last.ID == id && !last.Phase.Active() {
				t.Fatalf("rollout %s ended %s (%s), want %s", id, last.Phase, last.Decision, phase)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("rollout %s did not reach %s in %v: last %s %s", id, phase, timeout, last.Phase, last.Decision)
	return last
}
