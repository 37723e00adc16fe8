package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/server"
)

// TestReplicas_KeyLimitShareShown runs two replicas on one PostgreSQL
// store with a key of rate_limit 10 and one without a limit: the key list
// (limit_share, naming the answering replica) and /metrics
// (sluice_client_key_limit_share) give each replica's own share of the
// limited key, the even half before any request, then the share weighted
// by demand once its requests all arrive through a; the unlimited key has
// neither. Once b stops, a alone (the whole limits) shows neither.
func TestReplicas_KeyLimitShareShown(t *testing.T) {
	const secret = "sk-fleet-shown-0123456789abcdef"
	f := newKeyFleet(t, func(c *config.Gateway) {
		c.ClientKeys = []config.ClientKey{
			{Name: "shared", Secret: secret, RateLimit: 10, Burst: 2},
			{Name: "free", Secret: "sk-fleet-free-0123456789abcdef"},
		}
	}, server.Options{})
	a, b := f.a, f.b
	ctx := context.Background()
	waitFor(t, "both replicas to count the two", 15*time.Second, func() bool { return a.LimitReplicas() == 2 && b.LimitReplicas() == 2 })

	// shown returns what gw's key list and /metrics give as its share of
	// the shared key's limits, failing the test if the free key has one
	// or the list does not name gw.
	shown := func(gw *server.Server) (listed, gauge float64, inList, onMetrics bool) {
		t.Helper()
		list, err := api.NewClient(gw.AdminURL(), f.token).KeysAll(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range list.Keys {
			switch k.Name {
			case "shared":
				listed, inList = k.LimitShare, k.LimitShare > 0
			case "free":
				if k.LimitShare != 0 {
					t.Errorf("the key without a limit has limit_share %v", k.LimitShare)
				}
			}
		}
		if inList && list.Replica != gw.Replica() {
			t.Errorf("the key list names replica %q, want the one answering, %q", list.Replica, gw.Replica())
		}
		series := scrapeMetrics(t, gw.URL()+"/metrics")
		if _, ok := series[`sluice_client_key_limit_share{key="free"}`]; ok {
			t.Error("/metrics has a limit share for the key without a limit")
		}
		gauge, onMetrics = series[`sluice_client_key_limit_share{key="shared"}`]
		return listed, gauge, inList, onMetrics
	}
	for _, gw := range []*server.Server{a, b} {
		if l, g, inList, onMetrics := shown(gw); !inList || !onMetrics || l != 0.5 || g != 0.5 {
			t.Errorf("replica %s before any request: limit_share %v (listed %v), gauge %v (present %v); want the even 0.5 in both", gw.Replica(), l, inList, g, onMetrics)
		}
	}

	// Through a alone until the shares weigh it: a's list and gauge give
	// a's rise, b's its fall.
	for deadline := time.Now().Add(40 * time.Second); a.LimitShare("shared") < 0.94 || b.LimitShare("shared") > 0.06; {
		if time.Now().After(deadline) {
			t.Fatalf("a's share %v, b's %v: not weighted by a's demand", a.LimitShare("shared"), b.LimitShare("shared"))
		}
		driveKey(t, []*server.Server{a}, secret, 200*time.Millisecond, nil)
	}
	la, ga, _, _ := shown(a)
	lb, gb, _, _ := shown(b)
	t.Logf("weighted: a lists %.3f and exports %.3f; b lists %.3f and exports %.3f", la, ga, lb, gb)
	if la < 0.9 || ga < 0.9 || lb > 0.1 || gb > 0.1 || lb <= 0 || gb <= 0 {
		t.Errorf("with the demand on a: a lists %v and exports %v, b lists %v and exports %v; want each replica's own share, a's over 0.9, b's under 0.1", la, ga, lb, gb)
	}

	b.Shutdown(ctx)
	waitFor(t, "a to count itself alone", 15*time.Second, func() bool { return a.LimitReplicas() == 1 })
	if l, g, inList, onMetrics := shown(a); inList || onMetrics {
		t.Errorf("a alone: limit_share %v (listed %v), gauge %v (present %v); want neither: the whole limits", l, inList, g, onMetrics)
	}
}
