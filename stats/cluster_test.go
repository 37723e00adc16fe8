package stats_test

import (
	"math"
	"testing"

	"github.com/sluicehq/sluice/stats"
)

// TestClusteredRate_Reference checks the effective counts against an
// independent computation, in python3 (standard library only):
//
//	def eff(x, n, clusters):
//	    xs = x - sum(c[0] for c in clusters); ns = n - sum(c[1] for c in clusters)
//	    units = [(1, 1)] * xs + [(0, 1)] * (ns - xs) + [c for c in clusters if c[1] > 0]
//	    C = len(units); p = x / n
//	    if C == n: return (x, n, C, 1.0)
//	    if x == 0 or x == n: return (0 if x == 0 else C, C, C, n / C)
//	    if C == 1: return (round(p*1), 1, 1, n)
//	    S = sum((y - p*m)**2 for y, m in units)
//	    vcl = C/(C-1) * S / n**2          # cluster-robust variance of x/n
//	    vbin = p*(1-p)/n                  # binomial variance of x/n
//	    deff = max(1.0, vcl/vbin)
//	    ne = max(1, round(n/deff))
//	    return (round(p*ne), ne, C, deff)
//
// which printed the wanted rows (no case rounds a half, where python's
// round and Go's differ).
func TestClusteredRate_Reference(t *testing.T) {
	rep := func(c stats.Cluster, k int) []stats.Cluster {
		out := make([]stats.Cluster, k)
		for i := range out {
			out[i] = c
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		x, n     int
		clusters []stats.Cluster
		want     stats.EffectiveRate
	}{
		// No conversation: every request is its own unit, nothing changes.
		{"Independent", 3, 100, nil, stats.EffectiveRate{X: 3, N: 100, Units: 100, DesignEffect: 1}},
		// 2 of 10 ten-turn conversations fail every turn, 1 of 50 lone
		// requests fails: 150 requests weigh as 16.
		{"FewConversationsFailAll", 21, 150, append(rep(stats.Cluster{X: 10, N: 10}, 2), rep(stats.Cluster{N: 10}, 8)...),
			stats.EffectiveRate{X: 2, N: 16, Units: 60, DesignEffect: 9.307956529083848}},
		// No event: nothing measures the correlation, so each conversation
		// counts once.
		{"NoEvents", 0, 100, rep(stats.Cluster{N: 10}, 10), stats.EffectiveRate{X: 0, N: 10, Units: 10, DesignEffect: 10}},
		// One failure in each conversation: less spread than independent
		// turns would give; the design effect is held at 1.
		{"SpreadEvenly", 10, 100, rep(stats.Cluster{X: 1, N: 10}, 10), stats.EffectiveRate{X: 10, N: 100, Units: 10, DesignEffect: 1}},
		// One conversation is all there is: one unit.
		{"OneConversation", 6, 10, []stats.Cluster{{X: 6, N: 10}}, stats.EffectiveRate{X: 1, N: 1, Units: 1, DesignEffect: 10}},
		{"Mixed", 30, 200, rep(stats.Cluster{X: 6, N: 20}, 5), stats.EffectiveRate{X: 16, N: 107, Units: 105, DesignEffect: 1.870757918552036}},
		{"Empty", 0, 0, nil, stats.EffectiveRate{DesignEffect: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := stats.ClusteredRate(tc.x, tc.n, tc.clusters)
			if got.X != tc.want.X || got.N != tc.want.N || got.Units != tc.want.Units || math.Abs(got.DesignEffect-tc.want.DesignEffect) > 1e-9 {
				t.Errorf("ClusteredRate(%d, %d, …) = %+v, want %+v", tc.x, tc.n, got, tc.want)
			}
		})
	}
}

// TestClusteredRate_Inconsistent: clusters claiming more events or trials
// than the totals hold are ignored, not trusted to shrink the sample.
func TestClusteredRate_Inconsistent(t *testing.T) {
	got := stats.ClusteredRate(2, 10, []stats.Cluster{{X: 5, N: 8}})
	if got.X != 2 || got.N != 10 || got.Units != 10 {
		t.Errorf("ClusteredRate(2, 10, {5, 8}) = %+v, want the counts as given", got)
	}
}
