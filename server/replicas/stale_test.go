package replicas_test

import (
	"bytes"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// sluiceUnstamped is the sluice binary stamped with no release: its beat
// writes neither release nor leader (NULL), as a binary older than
// postgres 0034 does, while it names its connections as such a binary
// does ("sluice NAME").
var sluiceUnstamped = stamped("")

// replicaName returns the name r's list gives its own row.
func replicaName(t *testing.T, r *replica) string {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		l, err := r.client.Replicas(t.Context())
		if err == nil {
			if i := slices.IndexFunc(l.Replicas, func(row api.Replica) bool { return row.Self }); i >= 0 {
				return l.Replicas[i].Name
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's list has no row of its own: %+v, %v", r.name, l, err)
		}
	}
}

// cliReplicas runs `sluice replicas` against r and returns its stdout and
// stderr.
func cliReplicas(t *testing.T, r *replica) (string, string) {
	t.Helper()
	bin, err := sluiceBin.Path()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "replicas", "--server", r.url, "--token", secret)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sluice replicas: %v\n%s", err, stderr.String())
	}
	return stdout.String(), stderr.String()
}

// TestReplicas_StalledShowsStale: three replicas on one PostgreSQL store,
// the leader an older binary's (its beat says neither release nor
// leader). The list names it the leader, read from the leader lock's
// holder (was "?"). One replica stalls (SIGSTOP: its process, its beats
// and its answers stop, its sessions stay): past the 5 s live window it
// stays in the list, in the API, in `sluice replicas` and its warning on
// stderr, marked stale with its last beat's age (it dropped out); resumed
// (SIGCONT) it is live again; stopped cleanly (SIGTERM) it leaves the
// list at once, its beat deleted.
func TestReplicas_StalledShowsStale(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three gateway processes (skipped under -short)")
	}
	dsn := pgtest.Schema(t)
	f := newFleet(t, dsn)
	f.bin = sluiceUnstamped
	old := f.start(1)[0]
	if lead := f.leader(20 * time.Second); lead != old {
		t.Fatalf("the first replica started does not lead")
	}
	f.bin = nil
	rs := f.start(2)
	watcher, staller := rs[0], rs[1]
	oldName, stallName := replicaName(t, old), replicaName(t, staller)
	ctx := t.Context()
	var l api.ReplicaList
	row := func(name string) (api.Replica, bool) {
		i := slices.IndexFunc(l.Replicas, func(r api.Replica) bool { return r.Name == name })
		if i < 0 {
			return api.Replica{}, false
		}
		return l.Replicas[i], true
	}
	waitList := func(what string, ok func() bool) {
		t.Helper()
		var err error
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			l, err = watcher.client.Replicas(ctx)
			if err == nil && ok() {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %+v, %v", what, l, err)
			}
		}
	}

	// The older binary's leadership, from the lock.
	waitList("three live replicas", func() bool { return len(l.Replicas) == 3 })
	if r, _ := row(oldName); r.Release != api.UnknownRelease || r.Leader == nil || !*r.Leader || r.Stale {
		t.Errorf("the older binary's row: %+v, want release unknown, leading (it holds the leader lock)", r)
	}
	if r, _ := row(stallName); r.Leader == nil || *r.Leader || r.Stale {
		t.Errorf("the staller's row: %+v, want not leading, live", r)
	}
	if w := "2 releases: unknown on 1 replica, devel on 2"; !slices.Equal(l.Warnings, []string{w}) {
		t.Errorf("warnings %q, want %q", l.Warnings, w)
	}
	stdout, _ := cliReplicas(t, watcher)
	if re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(oldName) + ` +unknown +yes +`); !re.MatchString(stdout) {
		t.Errorf("sluice replicas has no row %s:\n%s", re, stdout)
	}

	// The staller stalls.
	if err := staller.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			staller.cmd.Process.Signal(syscall.SIGCONT) // before the fleet's cleanup stops it
		}
	})
	waitList("the stalled replica marked stale past the live window", func() bool {
		r, ok := row(stallName)
		return ok && r.Stale && r.BeatAge > 6
	})
	if !l.Fleet || l.LiveWindow != 5 || l.StaleHorizon != 900 {
		t.Errorf("fleet %v, live window %v s, stale horizon %v s; want a fleet, 5 and 900", l.Fleet, l.LiveWindow, l.StaleHorizon)
	}
	for _, r := range l.Replicas {
		if r.Stale != (r.Name == stallName) {
			t.Errorf("%s: stale %v", r.Name, r.Stale)
		}
	}
	want := []string{"replica " + stallName + " has written no beat for ", "2 releases: devel on 1 replica, unknown on 1"}
	if len(l.Warnings) != 2 || !strings.HasPrefix(l.Warnings[0], want[0]) || !strings.Contains(l.Warnings[0], "it is listed until its last beat is 15m0s old") || l.Warnings[1] != want[1] {
		t.Errorf("warnings %q, want %q…, %q", l.Warnings, want[0], want[1])
	}
	if got := l.Releases; len(got) != 2 || got[0] != (api.ReleaseCount{Release: "devel", Replicas: 1}) {
		t.Errorf("releases %+v, want the live replicas' alone", got)
	}
	stdout, stderr := cliReplicas(t, watcher)
	if re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(stallName) + ` +devel +no +\d+ +\d+ +no +\d+\.\ds ago \(stale\)$`); !re.MatchString(stdout) {
		t.Errorf("sluice replicas has no row %s:\n%s", re, stdout)
	}
	if !strings.Contains(stderr, "warning: replica "+stallName+" has written no beat for ") {
		t.Errorf("sluice replicas stderr %q: no warning of the stalled replica", stderr)
	}

	// Resumed, it beats again.
	if err := staller.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed = true
	waitList("the resumed replica live again", func() bool {
		r, ok := row(stallName)
		return ok && !r.Stale && len(l.Warnings) == 1
	})

	// Stopped cleanly, it leaves at once.
	if err := staller.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-staller.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the replica did not stop within 20 s of SIGTERM")
	}
	l, err := watcher.client.Replicas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := row(stallName); ok {
		t.Errorf("the replica stopped cleanly is still listed: %+v", l.Replicas)
	}
}

// TestReplicas_KilledLeaderStale: the leader is killed (SIGKILL: its beat
// stays, saying it leads) and the other replica takes the lock. The
// killed one's row, stale, says it does not lead, as the lock's holder
// says: its last beat's word made two leaders of the list, one of them
// dead.
func TestReplicas_KilledLeaderStale(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two gateway processes (skipped under -short)")
	}
	f := newFleet(t, pgtest.Schema(t))
	rs := f.start(2)
	lead, other := f.leaderOfTwo(rs, 20*time.Second)
	leadName, otherName := replicaName(t, lead), replicaName(t, other)
	lead.Kill()
	var l api.ReplicaList
	var err error
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		l, err = other.client.Replicas(t.Context())
		if err == nil && len(l.Replicas) == 2 && slices.ContainsFunc(l.Replicas, func(r api.Replica) bool { return r.Name == leadName && r.Stale }) &&
			slices.ContainsFunc(l.Replicas, func(r api.Replica) bool { return r.Name == otherName && r.Leader != nil && *r.Leader }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the killed leader %s stale, %s leading: %+v, %v", leadName, otherName, l, err)
		}
	}
	for _, r := range l.Replicas {
		if r.Leader == nil || *r.Leader != (r.Name == otherName) {
			t.Errorf("%s (stale %v): leader %v, want only %s, which holds the lock", r.Name, r.Stale, r.Leader, otherName)
		}
	}
	stdout, _ := cliReplicas(t, other)
	if re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(leadName) + ` +devel +no +.*\(stale\)$`); !re.MatchString(stdout) {
		t.Errorf("sluice replicas has no row %s:\n%s", re, stdout)
	}
}
