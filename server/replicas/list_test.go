package replicas_test

import (
	"bytes"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/internal/testbin"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// stamped returns the sluice binary built as release rel, as a release
// build stamps it.
func stamped(rel string) *testbin.Binary {
	return testbin.New("github.com/sluicehq/sluice/cmd/sluice", "sluice-"+rel, "-ldflags", "-X github.com/sluicehq/sluice.Release="+rel)
}

var (
	sluiceOld = stamped("v0.9.1")
	sluiceNew = stamped("v0.10.0")
)

// TestReplicas_List: three replicas mid-upgrade, two of release v0.10.0
// and one of v0.9.1, on one PostgreSQL store. Any replica's GET
// /admin/v1/replicas lists the three with their releases, one leader,
// the revision each routes by, and warns of the two releases; `sluice
// replicas` prints the same as a table. A beat an older binary wrote
// (no release) reads as unknown, not leading (the leader lock's holder is
// another replica), behind on an old revision; a replica killed stays
// listed, marked stale, once its beat leaves the live window.
func TestReplicas_List(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three gateway processes (skipped under -short)")
	}
	dsn := pgtest.Schema(t)
	f := newFleet(t, dsn)
	f.bin = sluiceNew
	rs := f.start(2)
	f.bin = sluiceOld
	rs = append(rs, f.start(1)...)
	ctx := t.Context()
	lead := f.leader(20 * time.Second)

	// Each replica's own row (Self) names it in the list.
	names := map[*replica]string{}
	var l api.ReplicaList
	waitList := func(what string, ok func(api.ReplicaList) bool) {
		t.Helper()
		var err error
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			l, err = rs[0].client.Replicas(ctx)
			if err == nil && ok(l) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %+v, %v", what, l, err)
			}
		}
	}
	for _, r := range rs {
		for deadline := time.Now().Add(15 * time.Second); names[r] == ""; time.Sleep(50 * time.Millisecond) {
			got, err := r.client.Replicas(ctx)
			if err == nil {
				for _, row := range got.Replicas {
					if row.Self {
						names[r] = row.Name
					}
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s's list has no row of its own: %+v, %v", r.name, got, err)
			}
		}
	}
	waitList("three live replicas, none behind, one leading", func(l api.ReplicaList) bool {
		if len(l.Replicas) != 3 {
			return false
		}
		for _, row := range l.Replicas {
			if row.Behind || row.Leader == nil {
				return false
			}
		}
		return true
	})
	if !l.Fleet || l.Answering != names[rs[0]] || l.Note != "" {
		t.Errorf("fleet %v, answering %q (want %q), note %q", l.Fleet, l.Answering, names[rs[0]], l.Note)
	}
	want := map[string]string{names[rs[0]]: "v0.10.0", names[rs[1]]: "v0.10.0", names[rs[2]]: "v0.9.1"}
	for _, row := range l.Replicas {
		if row.Release != want[row.Name] {
			t.Errorf("%s: release %q, want %q", row.Name, row.Release, want[row.Name])
		}
		if *row.Leader != (row.Name == names[lead]) {
			t.Errorf("%s: leader %v, but %s leads (sluice_replica_leader)", row.Name, *row.Leader, names[lead])
		}
		if row.Revision != l.NewestRevision || row.Draining || row.BeatAge < 0 || row.BeatAge > 5 {
			t.Errorf("%s: %+v (newest revision %d)", row.Name, row, l.NewestRevision)
		}
	}
	if w := "2 releases: v0.9.1 on 1 replica, v0.10.0 on 2"; !slices.Equal(l.Warnings, []string{w}) {
		t.Errorf("warnings %q, want %q", l.Warnings, w)
	}
	if got := l.Releases; len(got) != 2 || got[0] != (api.ReleaseCount{Release: "v0.9.1", Replicas: 1}) || got[1] != (api.ReleaseCount{Release: "v0.10.0", Replicas: 2}) {
		t.Errorf("releases %+v", got)
	}

	// The CLI, as an operator runs it against the old replica.
	bin, err := sluiceNew.Path()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "replicas", "--server", rs[2].url, "--token", secret)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sluice replicas: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 4 || !regexp.MustCompile(`^NAME +RELEASE +LEADER +REVISION +IN FLIGHT +DRAINING +LAST BEAT$`).MatchString(lines[0]) {
		t.Fatalf("sluice replicas printed:\n%s", stdout.String())
	}
	for _, r := range rs {
		leader := "no"
		if r == lead {
			leader = "yes"
		}
		name := regexp.QuoteMeta(names[r])
		if r == rs[2] {
			name += ` \(answering\)`
		}
		re := regexp.MustCompile(`(?m)^` + name + ` +` + regexp.QuoteMeta(want[names[r]]) + ` +` + leader + ` +\d+ +\d+ +no +\d+\.\ds ago$`)
		if !re.MatchString(stdout.String()) {
			t.Errorf("sluice replicas has no row %s:\n%s", re, stdout.String())
		}
	}
	if w := "warning: 2 releases: v0.9.1 on 1 replica, v0.10.0 on 2\n"; stderr.String() != w {
		t.Errorf("sluice replicas stderr %q, want %q", stderr.String(), w)
	}

	// A replica of a release from before the beat said its release.
	pgtest.Exec(t, dsn, `INSERT INTO replica_beats (replica, revision, inflight) VALUES ('gw-before-0034', 0, '{"chat:v1.0.0": 4}')`)
	waitList("the older binary's beat listed", func(l api.ReplicaList) bool { return len(l.Replicas) == 4 })
	i := slices.IndexFunc(l.Replicas, func(r api.Replica) bool { return r.Name == "gw-before-0034" })
	if i < 0 {
		t.Fatalf("no row gw-before-0034: %+v", l.Replicas)
	}
	if old := l.Replicas[i]; old.Release != api.UnknownRelease || old.Leader == nil || *old.Leader || !old.Behind || old.InFlight != 4 {
		t.Errorf("older binary's row: %+v, want release unknown, not leading (%s holds the leader lock), behind, 4 in flight", old, names[lead])
	}
	if w := "3 releases: unknown on 1 replica, v0.9.1 on 1, v0.10.0 on 2"; !slices.Equal(l.Warnings, []string{w}) {
		t.Errorf("warnings %q, want %q", l.Warnings, w)
	}
	pgtest.Exec(t, dsn, `DELETE FROM replica_beats WHERE replica = 'gw-before-0034'`)

	// A replica killed writes no more beats (nor deletes its last): once
	// its last is past the live window (5 s) it is listed stale.
	rs[1].Kill()
	waitList("the killed replica stale", func(l api.ReplicaList) bool {
		return slices.ContainsFunc(l.Replicas, func(r api.Replica) bool { return r.Name == names[rs[1]] && r.Stale })
	})
	if len(l.Replicas) != 3 || !strings.HasPrefix(l.Warnings[0], "replica "+names[rs[1]]+" has written no beat for ") {
		t.Errorf("after a kill: %+v, want the killed replica %s listed stale with a warning", l, names[rs[1]])
	}
}
