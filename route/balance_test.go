package route

import (
	"fmt"
	"slices"
	"testing"

	"github.com/sluicehq/sluice"
)

// replicas returns the endpoints of a version with n replicas.
func replicas(n int) []string {
	eps := make([]string, n)
	for i := range eps {
		eps[i] = fmt.Sprintf("http://10.0.1.%d:8000", i+1)
	}
	return eps
}

// replicaTarget builds a table holding llm:v1 with endpoints eps under opt,
// and returns its Target.
func replicaTarget(tb testing.TB, eps []string, opt Options) *Target {
	tb.Helper()
	ed := newEditor(tb)
	ed.version("llm", "v1", sluice.StageProduction, eps...)
	tg := Build(ed.registry(), nil, opt).Target("llm:v1")
	if tg == nil {
		tb.Fatal("llm:v1 has no target")
	}
	return tg
}

// addLoad starts n requests on l.
func addLoad(l *Load, n int64) {
	for range n {
		l.Start()
	}
}

// picks returns how many of n choices went to each endpoint.
func picks(t *Target, n int) map[string]int {
	got := map[string]int{}
	for range n {
		got[t.Endpoint()]++
	}
	return got
}

func TestTarget_Choose(t *testing.T) {
	t.Run("TheBusierOfTwoIsNeverChosen", func(t *testing.T) {
		eps := replicas(2)
		loads := &Loads{}
		tg := replicaTarget(t, eps, Options{Loads: loads})
		addLoad(loads.Of(eps[0]), 3)
		addLoad(loads.Of(eps[1]), 2)
		if got := picks(tg, 1000); got[eps[1]] != 1000 {
			t.Errorf("with 3 and 2 requests in flight the choices were %v, want all on %s", got, eps[1])
		}
		addLoad(loads.Of(eps[1]), 2) // 3 and 4
		if got := picks(tg, 1000); got[eps[0]] != 1000 {
			t.Errorf("with 3 and 4 requests in flight the choices were %v, want all on %s", got, eps[0])
		}
	})
	t.Run("TheBusiestOfEightIsNeverChosen", func(t *testing.T) {
		eps := replicas(8)
		loads := &Loads{}
		tg := replicaTarget(t, eps, Options{Loads: loads})
		for i, e := range eps {
			addLoad(loads.Of(e), int64(i)) // eps[7] is the busiest, eps[0] idle
		}
		got := picks(tg, 8000)
		if got[eps[7]] != 0 {
			t.Errorf("the busiest endpoint got %d of 8000 requests: %v", got[eps[7]], got)
		}
		// The idle endpoint wins every draw it is in: 2/8 of them.
		if got[eps[0]] < 1500 || got[eps[0]] > 2500 {
			t.Errorf("the idle endpoint got %d of 8000 requests, want about 2000: %v", got[eps[0]], got)
		}
	})
	for _, n := range []int{2, 3, 8} {
		t.Run(fmt.Sprintf("AllEqualShare%d", n), func(t *testing.T) {
			eps := replicas(n)
			tg := replicaTarget(t, eps, Options{})
			const each = 1000
			got := picks(tg, each*n)
			for _, e := range eps {
				if got[e] < each/2 || got[e] > each*2 {
					t.Errorf("idle endpoints: %s got %d of %d requests, want about %d: %v", e, got[e], each*n, each, got)
				}
			}
		})
	}
	t.Run("DownNeverChosen", func(t *testing.T) {
		eps := replicas(3)
		loads := &Loads{}
		tg := replicaTarget(t, eps, Options{Loads: loads, DownEndpoints: map[string]bool{eps[0]: true}})
		addLoad(loads.Of(eps[1]), 5)
		addLoad(loads.Of(eps[2]), 5)
		got := picks(tg, 1000)
		if got[eps[0]] != 0 || got[eps[1]] == 0 || got[eps[2]] == 0 {
			t.Errorf("with %s down (and idle) the choices were %v, want the other two only", eps[0], got)
		}
	})
	t.Run("AllDownAllChosen", func(t *testing.T) {
		eps := replicas(2)
		tg := replicaTarget(t, eps, Options{DownEndpoints: map[string]bool{eps[0]: true, eps[1]: true}})
		if got := picks(tg, 1000); got[eps[0]] == 0 || got[eps[1]] == 0 {
			t.Errorf("with every endpoint down the choices were %v, want both (requests still reach a backend)", got)
		}
	})
	t.Run("OneEndpoint", func(t *testing.T) {
		eps := replicas(1)
		loads := &Loads{}
		tg := replicaTarget(t, eps, Options{Loads: loads})
		addLoad(loads.Of(eps[0]), 9)
		if got := picks(tg, 10); got[eps[0]] != 10 {
			t.Errorf("one endpoint: %v", got)
		}
	})
	t.Run("FailingWeighsAsBusy", func(t *testing.T) {
		// A replica that fails at once has nothing in flight; its failures
		// in a row weigh as requests in flight, up to failPenalty, so it
		// does not draw the traffic away from a busy healthy one.
		eps := replicas(2)
		loads := &Loads{}
		tg := replicaTarget(t, eps, Options{Loads: loads})
		bad, good := loads.Of(eps[0]), loads.Of(eps[1])
		addLoad(good, 2)
		bad.Result(true)
		bad.Result(true)
		bad.Result(true) // weighs 3, against 2 in flight
		if got := picks(tg, 1000); got[eps[1]] != 1000 {
			t.Errorf("3 failures in a row against 2 in flight: %v, want all on the healthy %s", got, eps[1])
		}
		for range 100 {
			bad.Result(true)
		}
		addLoad(good, failPenalty-1) // failPenalty+1 in flight: busier than any failures weigh
		if got := picks(tg, 1000); got[eps[0]] != 1000 {
			t.Errorf("failures weigh at most %d, against %d in flight: %v, want all on %s", failPenalty, failPenalty+1, got, eps[0])
		}
		bad.Result(false) // its first answer clears them
		good.Done()
		if got := picks(tg, 1000); got[eps[0]] != 1000 {
			t.Errorf("after an answer the choices were %v, want all on the idle %s", got, eps[0])
		}
	})
	t.Run("RoundRobinAlternates", func(t *testing.T) {
		eps := replicas(2)
		loads := &Loads{}
		tg := replicaTarget(t, eps, Options{Loads: loads, Balance: BalanceRoundRobin})
		addLoad(loads.Of(eps[0]), 100) // round-robin does not look
		first := tg.Endpoint()
		for i := 1; i < 10; i++ {
			if e, want := tg.Endpoint(), eps[(slices.Index(eps, first)+i)%2]; e != want {
				t.Fatalf("choice %d went to %s, want %s (in turn)", i, e, want)
			}
		}
	})
}

// TestLoads_SurviveRebuild checks that a table rebuilt with the same Loads
// reads the counts the requests started under the old one raised.
func TestLoads_SurviveRebuild(t *testing.T) {
	eps := replicas(2)
	loads := &Loads{}
	old := replicaTarget(t, eps, Options{Loads: loads})
	old.Load(old.Index(eps[0])).Start()
	tg := replicaTarget(t, eps, Options{Loads: loads})
	if got := tg.Load(tg.Index(eps[0])).InFlight(); got != 1 {
		t.Fatalf("after a rebuild %s has %d in flight, want 1", eps[0], got)
	}
	if got := picks(tg, 100); got[eps[1]] != 100 {
		t.Errorf("after a rebuild the choices were %v, want all on the idle %s", got, eps[1])
	}
	old.Load(old.Index(eps[0])).Done()
	if got := loads.InFlight(eps[0]); got != 0 {
		t.Errorf("lowered through the old table, the count is %d, want 0", got)
	}
	if tg.Index("http://elsewhere") != -1 {
		t.Error("Index of an endpoint the version does not have is not -1")
	}
}

// BenchmarkTarget_Choose measures choosing an endpoint, which every
// request to a version pays.
func BenchmarkTarget_Choose(b *testing.B) {
	for _, bal := range []Balance{BalanceLeastRequests, BalanceRoundRobin} {
		for _, n := range []int{1, 2, 8} {
			b.Run(fmt.Sprintf("%s/%d", bal, n), func(b *testing.B) {
				tg := replicaTarget(b, replicas(n), Options{Balance: bal})
				b.ReportAllocs()
				for b.Loop() {
					tg.Choose()
				}
			})
		}
	}
}

// BenchmarkTarget_ChooseParallel measures choosing from every core at once,
// with the counts moving as the proxy moves them.
func BenchmarkTarget_ChooseParallel(b *testing.B) {
	for _, n := range []int{2, 8} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			tg := replicaTarget(b, replicas(n), Options{})
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					l := tg.Load(tg.Choose())
					l.Start()
					l.Done()
				}
			})
		})
	}
}

// TestTarget_ChooseOther checks the endpoint a request is sent to again
// when its first endpoint refused the connection: the least busy live
// endpoint but that one, whatever the Balance, and none when there is
// no other.
func TestTarget_ChooseOther(t *testing.T) {
	for _, bal := range []Balance{BalanceLeastRequests, BalanceRoundRobin} {
		t.Run("LeastBusyOfTheOthers/"+string(bal), func(t *testing.T) {
			eps := replicas(4)
			loads := &Loads{}
			tg := replicaTarget(t, eps, Options{Loads: loads, Balance: bal})
			addLoad(loads.Of(eps[1]), 3)
			addLoad(loads.Of(eps[2]), 1)
			addLoad(loads.Of(eps[3]), 2)
			for range 100 {
				if got := tg.ChooseOther(0); got != 2 {
					t.Fatalf("ChooseOther(0) = %d, want 2 (1 in flight, against 3 and 2)", got)
				}
			}
			loads.Of(eps[2]).Result(true)
			loads.Of(eps[2]).Result(true) // fails: weighs 3
			if got := tg.ChooseOther(0); got != 3 {
				t.Errorf("ChooseOther(0) = %d, want 3 (2 in flight, against 3 and 1 + 2 failures)", got)
			}
			if got := tg.ChooseOther(3); got != 0 {
				t.Errorf("ChooseOther(3) = %d, want 0 (idle)", got)
			}
		})
	}
	t.Run("DownLeftOut", func(t *testing.T) {
		eps := replicas(3)
		tg := replicaTarget(t, eps, Options{DownEndpoints: map[string]bool{eps[1]: true}})
		if got := tg.ChooseOther(0); got != 2 {
			t.Errorf("ChooseOther(0) with %s down = %d, want 2", eps[1], got)
		}
		tg = replicaTarget(t, eps, Options{DownEndpoints: map[string]bool{eps[1]: true, eps[2]: true}})
		if got := tg.ChooseOther(0); got != -1 {
			t.Errorf("ChooseOther(0) with the others down = %d, want -1", got)
		}
	})
	t.Run("AllDownTheOthers", func(t *testing.T) {
		// With every endpoint down, requests still go to all of them.
		eps := replicas(2)
		tg := replicaTarget(t, eps, Options{DownEndpoints: map[string]bool{eps[0]: true, eps[1]: true}})
		if got := tg.ChooseOther(0); got != 1 {
			t.Errorf("ChooseOther(0) with every endpoint down = %d, want 1", got)
		}
	})
	t.Run("None", func(t *testing.T) {
		tg := replicaTarget(t, replicas(1), Options{})
		if got := tg.ChooseOther(0); got != -1 {
			t.Errorf("ChooseOther(0) of one endpoint = %d, want -1", got)
		}
		if got := tg.ChooseOther(-1); got != 0 {
			t.Errorf("ChooseOther(-1) of one endpoint = %d, want 0", got)
		}
	})
}
