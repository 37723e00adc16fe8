package replicas_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestReplicas_DrillExcludesOthers: a fire drill kept other drills and
// rollouts of its model away only in its own process. Through another
// replica, a rollout started during the drill's canary took that canary
// for the routing to restore when it ended, and a second drill took it for
// the routing to put back after its own: the first drill's candidate kept
// its share of traffic, silently, after both were over. A drill now holds
// a lock in PostgreSQL for its length; the others are refused, naming it.
func TestReplicas_DrillExcludesOthers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL-backed processes")
	}
	stable := fakellm.New(fakellm.Config{})
	// The candidate answers in 3 s, so the drill's canary stays in force
	// while the other replica is asked.
	slow := fakellm.New(fakellm.Config{Default: fakellm.Behavior{Latency: fakellm.Distribution{MedianMS: 3000, P99MS: 3000}}})
	for _, b := range []*fakellm.Server{stable, slow} {
		if err := b.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
	}
	dir := t.TempDir()
	models := filepath.Join(dir, "models.yaml")
	os.WriteFile(models, []byte(strings.NewReplacer("STABLE", stable.URL(), "SLOW", slow.URL()).Replace(`models:
  - name: chat
    policy: {kind: specific, version: v1.0.0}
    labels: {stable: v1.0.0}
    versions:
      - {version: v1.0.0, endpoints: [STABLE], stage: production}
      - {version: v1.1.0, endpoints: [SLOW], stage: production}
      - {version: v1.2.0, endpoints: [STABLE], stage: production}
`)), 0o644)
	f := &fleet{t: t, dir: dir, cfg: writeFleetConfig(dir, models, ""), dsn: pgtest.Schema(t)}
	rs := f.start(2)
	a, b := rs[0], rs[1]
	ctx := context.Background()

	type drilled struct {
		ok  bool
		err error
	}
	done := make(chan drilled, 1)
	go func() {
		rep, err := a.client.Drill(ctx, "chat", "v1.1.0", 50, "drill through replica 1")
		done <- drilled{rep.OK, err}
	}()
	for deadline := time.Now().Add(20 * time.Second); ; {
		if p, _ := b.policy(ctx); strings.Contains(p, "v1.1.0=50") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the drill's canary did not reach replica 2")
		}
		time.Sleep(10 * time.Millisecond)
	}

	_, err := b.client.StartRollout(ctx, sluice.RolloutSpec{Model: "chat", Candidate: "v1.2.0", Strategy: sluice.StrategyCanary, Warmup: sluice.WarmupSpec{Skip: true}}, "rollout through replica 2")
	if sluice.ErrorCode(err) != sluice.CodeConflict || !strings.Contains(sluice.ErrorMessage(err), "fire drill") {
		t.Errorf("a rollout started through replica 2 during replica 1's drill: %v, want a conflict naming the drill", err)
	}
	_, err = b.client.Drill(ctx, "chat", "v1.2.0", 5, "drill through replica 2")
	if sluice.ErrorCode(err) != sluice.CodeConflict || !strings.Contains(sluice.ErrorMessage(err), "fire drill") {
		t.Errorf("a drill through replica 2 during replica 1's: %v, want a conflict naming the drill", err)
	}

	d := <-done
	if d.err != nil || !d.ok {
		t.Errorf("replica 1's drill: ok %v, %v", d.ok, d.err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		p, _ := b.policy(ctx)
		if p == "specific v1.0.0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the drill the routing is %q, want specific v1.0.0 as before it", p)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Once the drill is over, a rollout starts as before.
	if _, err := b.client.StartRollout(ctx, sluice.RolloutSpec{Model: "chat", Candidate: "v1.2.0", Strategy: sluice.StrategyCanary, Warmup: sluice.WarmupSpec{Skip: true}}, "rollout after the drill"); err != nil {
		t.Errorf("a rollout after the drill: %v", err)
	}
}
