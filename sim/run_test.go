package sim

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// TestEngine_Route checks the per-user memory of routing decisions against
// the table itself, at each split and after the promotion.
func TestEngine_Route(t *testing.T) {
	e := newEngine(MustScenario(t, "aa", time.Hour), 10)
	e.reg = newRegistry()
	r := sluice.Rollout{PreviousPolicy: e.reg.Models[modelName].Policy}
	for _, acts := range [][]rollout.Action{
		{{Kind: rollout.ActSetWeight, Percent: 2}},
		{{Kind: rollout.ActSetWeight, Percent: 25}},
		{{Kind: rollout.ActPromote}},
		{{Kind: rollout.ActRestore}},
	} {
		e.apply(&r, acts)
		cand := 0
		for round := range 2 { // asked, then remembered
			for u := range e.users {
				e.req.StickyKey = e.users[u]
				d, err := e.table.Decide(&e.req)
				want := routingBaseline
				switch {
				case err != nil:
					want = routingError
				case d.Target == e.candTarget:
					want = routingCandidate
				}
				if got := e.route(u); got != want {
					t.Fatalf("%v, round %d, %s: route %d, table %d", acts, round, e.users[u], got, want)
				}
				if round == 0 && want == routingCandidate {
					cand++
				}
			}
		}
		t.Logf("%v: %d of %d users on the candidate", acts[0], cand, len(e.users))
	}
}
