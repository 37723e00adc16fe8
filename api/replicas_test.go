package api_test

import (
	"slices"
	"testing"

	"github.com/sluicehq/sluice/api"
)

// TestFleetWarnings: a fleet on more than one release is said in one
// line naming each release and how many replicas run it, the fewest
// first; a fleet where every replica says it does not lead is warned of;
// a replica of an older binary (leader not known) silences that warning,
// as it may be the leader; two replicas that both say they lead are named;
// a stale replica is named, and left out of the other warnings.
func TestFleetWarnings(t *testing.T) {
	yes, no := new(true), new(false)
	cases := []struct {
		name string
		l    api.ReplicaList
		want []string
	}{
		{"OneRelease", api.ReplicaList{Fleet: true, Replicas: []api.Replica{{Name: "a", Release: "v0.10.0", Leader: yes}, {Name: "b", Release: "v0.10.0", Leader: no}}}, []string{}},
		{"TwoReleases", api.ReplicaList{Fleet: true, Replicas: []api.Replica{
			{Name: "a", Release: "v0.10.0", Leader: yes}, {Name: "b", Release: "v0.9.1", Leader: no}, {Name: "c", Release: "v0.10.0", Leader: no}}},
			[]string{"2 releases: v0.9.1 on 1 replica, v0.10.0 on 2"}},
		{"OlderBinary", api.ReplicaList{Fleet: true, Replicas: []api.Replica{{Name: "a", Release: "v0.10.0", Leader: no}, {Name: "b", Release: api.UnknownRelease}}},
			[]string{"2 releases: unknown on 1 replica, v0.10.0 on 1"}},
		{"NoLeader", api.ReplicaList{Fleet: true, Replicas: []api.Replica{{Name: "a", Release: "v1", Leader: no}, {Name: "b", Release: "v1", Leader: no}}},
			[]string{"no live replica leads: no rollout advances until one takes the leader lock (each replica tries every second; a replica's log says \"leader:\" when it does)"}},
		// During a hand-over the replica that stepped down still says it
		// leads until its next beat: both rows say so, and the answer
		// says which and why rather than show two leaders unexplained.
		{"TwoLeaders", api.ReplicaList{Fleet: true, Replicas: []api.Replica{{Name: "a", Release: "v1", Leader: yes}, {Name: "b", Release: "v1", Leader: no}, {Name: "c", Release: "v1", Leader: yes}}},
			[]string{"2 replicas say they lead (a, c): a hand-over under way, and the one that stepped down says so at its next beat (within a second or two); if it lasts, read each one's log (\"leader:\")"}},
		// A stale replica (its beats stopped) is warned of on its own;
		// what its last beat said of leading and of its release is left
		// out of the live fleet's warnings: the replica that took the
		// lock after it is no hand-over, nor its release a second one.
		{"Stale", api.ReplicaList{Fleet: true, LiveWindow: 5, StaleHorizon: 900, Replicas: []api.Replica{
			{Name: "a", Release: "v0.9.1", Leader: yes, Revision: 7, BeatAge: 42.4, Stale: true}, {Name: "b", Release: "v1", Leader: yes}, {Name: "c", Release: "v1", Leader: no}}},
			[]string{"replica a has written no beat for 42 s (the live window is 5 s): it stalled, lost the store, or was killed without stopping; rollback drains no longer wait for it, " +
				"yet if it still serves it routes by revision 7. Read its log, or its pod's state (kubectl describe pod); it is listed until its last beat is 15m0s old"}},
		// A stale replica that holds the lock (a stalled leader, whose
		// session keeps it) is named as what keeps the others from
		// leading, rather than their trying every second.
		{"StaleLeader", api.ReplicaList{Fleet: true, LiveWindow: 5, StaleHorizon: 900, Replicas: []api.Replica{
			{Name: "a", Release: "v1", Leader: yes, Revision: 7, BeatAge: 7, Stale: true}, {Name: "b", Release: "v1", Leader: no}}},
			[]string{"replica a has written no beat for 7 s (the live window is 5 s): it stalled, lost the store, or was killed without stopping; rollback drains no longer wait for it, " +
				"yet if it still serves it routes by revision 7. Read its log, or its pod's state (kubectl describe pod); it is listed until its last beat is 15m0s old",
				"no live replica leads: the stale replica a holds the leader lock (or did at its last beat), so no rollout advances until PostgreSQL ends its idle session " +
					"(within seconds on PostgreSQL 14 or later) or it is stopped (kubectl delete pod); then another replica takes the lock"}},
		{"Lone", api.ReplicaList{Replicas: []api.Replica{{Name: "gw", Release: "devel", Leader: yes}}}, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := api.FleetWarnings(tc.l); !slices.Equal(got, tc.want) {
				t.Errorf("FleetWarnings = %q, want %q", got, tc.want)
			}
		})
	}
}
