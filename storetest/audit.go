package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

var auditTests = []test{
	{"Empty", testAuditEmpty},
	{"FromEdit", testAuditFromEdit},
	{"RoundTrip", testAuditRoundTrip},
	{"IDsIncrease", testAuditIDs},
	{"ZeroAtIsStamped", testAuditZeroAt},
	{"FilterModel", testAuditFilterModel},
	{"FilterActionPrefix", testAuditFilterAction},
	{"FilterTime", testAuditFilterTime},
	{"FilterText", testAuditFilterText},
	{"ExcludeActions", testAuditExclude},
	{"ExcludeBeforeLimit", testAuditExcludeBeforeLimit},
	{"Count", testAuditCount},
	{"Limit", testAuditLimit},
}

// appendAudit commits entries as an audit-only change.
func appendAudit(t *testing.T, s sluice.Store, entries ...sluice.AuditEntry) {
	t.Helper()
	reg := mustLoad(t, s)
	mustCommit(t, s, sluice.Change{BaseRevision: reg.Revision, Audit: entries})
}

// ids returns the ids of entries.
func ids(entries []sluice.AuditEntry) []int64 {
	out := make([]int64, len(entries))
	for i, a := range entries {
		out[i] = a.ID
	}
	return out
}

// actions returns the actions of entries.
func actions(entries []sluice.AuditEntry) []string {
	out := make([]string, len(entries))
	for i, a := range entries {
		out[i] = a.Action
	}
	return out
}

func testAuditEmpty(t *testing.T, s sluice.Store) {
	if got := mustAudit(t, s, sluice.AuditQuery{}); len(got) != 0 {
		t.Fatalf("Audit on a new store = %d entries, want 0", len(got))
	}
}

// testAuditFromEdit checks that a commit writes exactly the audit its edit
// produced, in order.
func testAuditFromEdit(t *testing.T, s sluice.Store) {
	e := mustLoad(t, s).Edit("alice", "initial setup", at(0))
	register(t, e, fullVersion("chat", "v1.0.0", sluice.StageProduction))
	must(t, "SetLabel", e.SetLabel("chat", "stable", "v1.0.0"))
	c := mustFinish(t, e)
	mustCommit(t, s, c)
	got := allAudit(t, s)
	if len(got) != len(c.Audit) {
		t.Fatalf("audit has %d entries, want the change's %d", len(got), len(c.Audit))
	}
	for i, w := range c.Audit {
		checkEntry(t, got[i], w)
	}
}

// checkEntry compares an entry read back with the one written (whose ID
// the store assigned).
func checkEntry(t *testing.T, got, want sluice.AuditEntry) {
	t.Helper()
	if got.ID <= 0 {
		t.Errorf("audit entry %s has ID %d, want a positive id", got.Action, got.ID)
	}
	if !micro(got.At).Equal(micro(want.At)) || got.Actor != want.Actor || got.Action != want.Action ||
		got.Model != want.Model || got.Subject != want.Subject || got.Reason != want.Reason || got.Replica != want.Replica {
		t.Errorf("audit entry round-trip differs:\n got  %+v\n want %+v", got, want)
	}
	if !sameJSON(got.Before, want.Before) {
		t.Errorf("audit %s Before = %s, want %s", want.Action, got.Before, want.Before)
	}
	if !sameJSON(got.After, want.After) {
		t.Errorf("audit %s After = %s, want %s", want.Action, got.After, want.After)
	}
}

func testAuditRoundTrip(t *testing.T, s sluice.Store) {
	doc, _ := json.Marshal(map[string]any{
		"policy": map[string]any{"kind": "split", "split": []any{map[string]any{"version": "v1", "percent": 12.5}}},
		"labels": map[string]string{"stable": "v1"},
		"text":   "ünïcødé \"quoted\" \n newline",
		"n":      42,
		"null":   nil,
	})
	entries := []sluice.AuditEntry{
		{At: at(0), Actor: "alice", Action: "model.policy", Model: "chat", Subject: "", Before: json.RawMessage(`{"kind":"latest"}`), After: doc, Reason: "start the canary ✓"},
		{At: at(time.Second), Actor: "bob", Action: "version.register", Model: "chat", Subject: "chat:v1", After: json.RawMessage(`[1,2,3]`), Reason: "new build"},
		{At: at(2 * time.Second), Actor: "carol", Action: "token.delete", Subject: "ci", Before: json.RawMessage(`{"role":"admin"}`), Reason: "rotated"},
		{At: at(3 * time.Second), Actor: "dave", Action: "rollout.note", Reason: ""},
		// The replica that took the action, on a shared store.
		{At: at(4 * time.Second), Actor: "controller", Action: "rollout.analysis", Model: "chat", Reason: "analysis", Replica: "gw-2-41212-9f3ac0de"},
	}
	appendAudit(t, s, entries...)
	got := allAudit(t, s)
	if len(got) != len(entries) {
		t.Fatalf("audit has %d entries, want %d", len(got), len(entries))
	}
	for i, w := range entries {
		checkEntry(t, got[i], w)
	}
	if len(got[1].Before) != 0 {
		t.Errorf("missing Before came back as %q, want empty", got[1].Before)
	}
	if len(got[3].Before) != 0 || len(got[3].After) != 0 {
		t.Errorf("missing Before and After came back as %q and %q, want empty", got[3].Before, got[3].After)
	}
}

func testAuditIDs(t *testing.T, s sluice.Store) {
	var want []string
	for i := range 3 {
		var batch []sluice.AuditEntry
		for j := range 2 {
			a := fmt.Sprintf("test.c%d.e%d", i, j)
			want = append(want, a)
			// Times go backwards, so order must come from the ids, not At.
			batch = append(batch, sluice.AuditEntry{At: at(-time.Duration(i*2+j) * time.Second), Actor: "x", Action: a, Reason: "r"})
		}
		appendAudit(t, s, batch...)
	}
	asc := allAudit(t, s)
	if !slices.Equal(actions(asc), want) {
		t.Fatalf("ascending actions = %q, want commit order %q", actions(asc), want)
	}
	for i := 1; i < len(asc); i++ {
		if asc[i].ID <= asc[i-1].ID {
			t.Fatalf("ascending ids = %v, want strictly increasing", ids(asc))
		}
	}
	desc := mustAudit(t, s, sluice.AuditQuery{})
	if w := slices.Clone(ids(asc)); !slices.Equal(ids(desc), reversed(w)) {
		t.Fatalf("default order ids = %v, want newest first %v", ids(desc), reversed(w))
	}
}

func reversed[T any](s []T) []T {
	slices.Reverse(s)
	return s
}

func testAuditZeroAt(t *testing.T, s sluice.Store) {
	before := time.Now().Add(-time.Minute)
	appendAudit(t, s, sluice.AuditEntry{Actor: "x", Action: "test.zero", Reason: "r"})
	after := time.Now().Add(time.Minute)
	got := allAudit(t, s)
	if len(got) != 1 {
		t.Fatalf("audit has %d entries, want 1", len(got))
	}
	if got[0].At.IsZero() || got[0].At.Before(before) || got[0].At.After(after) {
		t.Fatalf("entry written with a zero At came back with At %v, want the commit time (about now)", got[0].At)
	}
}

// filterFixture writes entries that the filter tests select from.
func filterFixture(t *testing.T, s sluice.Store) {
	t.Helper()
	appendAudit(t, s,
		sluice.AuditEntry{At: at(0), Actor: "alice", Action: "version.register", Model: "chat", Subject: "chat:v1.2.0", Reason: "new build"},
		sluice.AuditEntry{At: at(1 * time.Second), Actor: "alice", Action: "version.stage", Model: "chat", Subject: "chat:v1.2.0", Reason: "promote to staging"},
		sluice.AuditEntry{At: at(2 * time.Second), Actor: "controller", Action: "model.policy", Model: "chat", Reason: "canary step 5%"},
		sluice.AuditEntry{At: at(3 * time.Second), Actor: "bob", Action: "model.labels", Model: "embed", Subject: "stable", Reason: "roll back after errors"},
		sluice.AuditEntry{At: at(4 * time.Second), Actor: "bob", Action: "token.create", Subject: "ci-bot", Reason: "CI needs access"},
		sluice.AuditEntry{At: at(5 * time.Second), Actor: "apply", Action: "rollout.model.policy", Model: "chat", Reason: "100%_done", Replica: "gw-3-7-0a1b"},
	)
}

// checkActions runs q and compares the actions it returns, oldest first.
func checkActions(t *testing.T, s sluice.Store, q sluice.AuditQuery, want ...string) {
	t.Helper()
	q.Ascending = true
	got := mustAudit(t, s, q)
	if g := actions(got); !slices.Equal(g, want) {
		t.Errorf("Audit(%+v) actions = %q, want %q", q, g, want)
	}
}

func testAuditFilterModel(t *testing.T, s sluice.Store) {
	filterFixture(t, s)
	checkActions(t, s, sluice.AuditQuery{Model: "chat"}, "version.register", "version.stage", "model.policy", "rollout.model.policy")
	checkActions(t, s, sluice.AuditQuery{Model: "embed"}, "model.labels")
	checkActions(t, s, sluice.AuditQuery{Model: "cha"})
	checkActions(t, s, sluice.AuditQuery{Model: "nope"})
}

func testAuditFilterAction(t *testing.T, s sluice.Store) {
	filterFixture(t, s)
	checkActions(t, s, sluice.AuditQuery{Action: "version."}, "version.register", "version.stage")
	checkActions(t, s, sluice.AuditQuery{Action: "version"}, "version.register", "version.stage")
	checkActions(t, s, sluice.AuditQuery{Action: "model."}, "model.policy", "model.labels")
	checkActions(t, s, sluice.AuditQuery{Action: "model.policy"}, "model.policy")
	checkActions(t, s, sluice.AuditQuery{Action: "rollout."}, "rollout.model.policy")
	checkActions(t, s, sluice.AuditQuery{Action: "policy"})
	// Wildcards of LIKE and glob must match only themselves.
	checkActions(t, s, sluice.AuditQuery{Action: "%"})
	checkActions(t, s, sluice.AuditQuery{Action: "version%"})
	checkActions(t, s, sluice.AuditQuery{Action: "model_"})
	checkActions(t, s, sluice.AuditQuery{Action: "model*"})
	checkActions(t, s, sluice.AuditQuery{Action: "version.", Model: "chat"}, "version.register", "version.stage")
	checkActions(t, s, sluice.AuditQuery{Action: "version.", Model: "embed"})
}

func testAuditFilterTime(t *testing.T, s sluice.Store) {
	filterFixture(t, s)
	checkActions(t, s, sluice.AuditQuery{Since: at(1 * time.Second), Until: at(3 * time.Second)}, "version.stage", "model.policy")
	checkActions(t, s, sluice.AuditQuery{Since: at(4 * time.Second)}, "token.create", "rollout.model.policy")
	checkActions(t, s, sluice.AuditQuery{Until: at(1 * time.Second)}, "version.register")
	checkActions(t, s, sluice.AuditQuery{Until: at(1*time.Second + time.Microsecond)}, "version.register", "version.stage")
	checkActions(t, s, sluice.AuditQuery{Since: at(time.Second - time.Microsecond), Until: at(time.Second)})
	checkActions(t, s, sluice.AuditQuery{Since: at(time.Minute)})
	// A zone other than UTC names the same instants.
	tokyo := time.FixedZone("JST", 9*3600)
	checkActions(t, s, sluice.AuditQuery{Since: at(2 * time.Second).In(tokyo), Until: at(3 * time.Second).In(tokyo)}, "model.policy")
	checkActions(t, s, sluice.AuditQuery{Model: "chat", Since: at(1 * time.Second), Until: at(5 * time.Second)}, "version.stage", "model.policy")
}

func testAuditFilterText(t *testing.T, s sluice.Store) {
	filterFixture(t, s)
	checkActions(t, s, sluice.AuditQuery{Text: "bob"}, "model.labels", "token.create")                   // actor
	checkActions(t, s, sluice.AuditQuery{Text: "lic"}, "version.register", "version.stage")              // inside the actor
	checkActions(t, s, sluice.AuditQuery{Text: "v1.2"}, "version.register", "version.stage")             // subject
	checkActions(t, s, sluice.AuditQuery{Text: "ci-bo"}, "token.create")                                 // subject
	checkActions(t, s, sluice.AuditQuery{Text: "after err"}, "model.labels")                             // reason
	checkActions(t, s, sluice.AuditQuery{Text: "5%"}, "model.policy")                                    // a literal %
	checkActions(t, s, sluice.AuditQuery{Text: "%_"}, "rollout.model.policy")                            // literal % and _
	checkActions(t, s, sluice.AuditQuery{Text: "_"}, "rollout.model.policy")                             // a literal _
	checkActions(t, s, sluice.AuditQuery{Text: "a", Model: "embed", Action: "model."}, "model.labels")   // combined
	checkActions(t, s, sluice.AuditQuery{Text: "zzz"})                                                   // nothing
	checkActions(t, s, sluice.AuditQuery{Text: "policy"})                                                // the action is not searched
	checkActions(t, s, sluice.AuditQuery{Text: "gw-3"}, "rollout.model.policy")                          // replica
	checkActions(t, s, sluice.AuditQuery{Text: "staging", Since: at(time.Second)}, "version.stage")      // with time
	checkActions(t, s, sluice.AuditQuery{Text: "staging", Since: at(2 * time.Second)})                   // excluded by time
	checkActions(t, s, sluice.AuditQuery{Text: "new build", Until: at(time.Second)}, "version.register") // with until
}

func testAuditExclude(t *testing.T, s sluice.Store) {
	filterFixture(t, s)
	checkActions(t, s, sluice.AuditQuery{ExcludeActions: []string{"version."}}, "model.policy", "model.labels", "token.create", "rollout.model.policy")
	checkActions(t, s, sluice.AuditQuery{ExcludeActions: []string{"version.stage", "model."}}, "version.register", "token.create", "rollout.model.policy")
	checkActions(t, s, sluice.AuditQuery{ExcludeActions: []string{"rollout.", "rollout.model"}}, "version.register", "version.stage", "model.policy", "model.labels", "token.create")
	// An empty prefix leaves nothing out; wildcards match only themselves.
	checkActions(t, s, sluice.AuditQuery{ExcludeActions: []string{"", "%", "version%", "model_", "model*"}}, "version.register", "version.stage", "model.policy", "model.labels", "token.create", "rollout.model.policy")
	// With the other filters.
	checkActions(t, s, sluice.AuditQuery{Model: "chat", ExcludeActions: []string{"version.register"}}, "version.stage", "model.policy", "rollout.model.policy")
	checkActions(t, s, sluice.AuditQuery{Action: "version.", ExcludeActions: []string{"version.stage"}}, "version.register")
	checkActions(t, s, sluice.AuditQuery{Action: "version.stage", ExcludeActions: []string{"version."}})
	checkActions(t, s, sluice.AuditQuery{Text: "alice", Since: at(time.Second), ExcludeActions: []string{"model."}}, "version.stage")
}

// testAuditExcludeBeforeLimit checks that the limit counts the entries
// left after the exclusion: the newest entries being the controller's
// analyses must not leave a listing of others empty.
func testAuditExcludeBeforeLimit(t *testing.T, s sluice.Store) {
	var entries []sluice.AuditEntry
	for i := range 3 {
		entries = append(entries, sluice.AuditEntry{At: at(time.Duration(i) * time.Second), Actor: "alice", Action: "model.policy", Model: "chat", Reason: fmt.Sprintf("change %d", i)})
	}
	for i := range 10 {
		entries = append(entries, sluice.AuditEntry{At: at(time.Minute + time.Duration(i)*time.Second), Actor: "controller", Action: "rollout.analysis", Model: "chat", Reason: "analysis"})
	}
	appendAudit(t, s, entries...)
	got := mustAudit(t, s, sluice.AuditQuery{ExcludeActions: []string{"rollout.analysis"}, Limit: 2})
	if len(got) != 2 || got[0].Reason != "change 2" || got[1].Reason != "change 1" {
		t.Fatalf("the newest 2 entries but analyses = %+v, want changes 2 and 1", got)
	}
	if got := mustAudit(t, s, sluice.AuditQuery{ExcludeActions: []string{"rollout.analysis"}, Limit: 2, Ascending: true}); len(got) != 2 || got[0].Reason != "change 0" {
		t.Fatalf("the oldest 2 entries but analyses = %+v, want changes 0 and 1", got)
	}
}

func testAuditCount(t *testing.T, s sluice.Store) {
	filterFixture(t, s)
	for _, c := range []struct {
		q    sluice.AuditQuery
		want int
	}{
		{sluice.AuditQuery{}, 6},
		{sluice.AuditQuery{Limit: 1}, 6}, // the limit does not cap a count
		{sluice.AuditQuery{Model: "chat"}, 4},
		{sluice.AuditQuery{Action: "version."}, 2},
		{sluice.AuditQuery{ExcludeActions: []string{"version.", "token."}}, 3},
		{sluice.AuditQuery{Text: "bob", Since: at(4 * time.Second)}, 1},
		{sluice.AuditQuery{Action: "%"}, 0},
	} {
		n, err := s.CountAudit(t.Context(), c.q)
		if err != nil {
			t.Fatalf("CountAudit(%+v): %v", c.q, err)
		}
		if n != c.want {
			t.Errorf("CountAudit(%+v) = %d, want %d", c.q, n, c.want)
		}
	}
}

func testAuditLimit(t *testing.T, s sluice.Store) {
	const n = 1005
	entries := make([]sluice.AuditEntry, n)
	for i := range entries {
		entries[i] = sluice.AuditEntry{At: at(time.Duration(i) * time.Millisecond), Actor: "x", Action: fmt.Sprintf("test.%04d", i), Reason: "r"}
	}
	appendAudit(t, s, entries...)

	def := mustAudit(t, s, sluice.AuditQuery{})
	if len(def) != 1000 {
		t.Fatalf("Audit with Limit 0 returned %d entries, want the default 1000", len(def))
	}
	if def[0].Action != "test.1004" || def[999].Action != "test.0005" {
		t.Fatalf("Audit with Limit 0 returned %s..%s, want the newest 1000, test.1004..test.0005", def[0].Action, def[999].Action)
	}
	checkLimited := func(q sluice.AuditQuery, want ...string) {
		t.Helper()
		if got := actions(mustAudit(t, s, q)); !slices.Equal(got, want) {
			t.Errorf("Audit(%+v) = %q, want %q", q, got, want)
		}
	}
	checkLimited(sluice.AuditQuery{Limit: 3}, "test.1004", "test.1003", "test.1002")
	checkLimited(sluice.AuditQuery{Limit: 3, Ascending: true}, "test.0000", "test.0001", "test.0002")
	checkLimited(sluice.AuditQuery{Limit: 2, Since: at(10 * time.Millisecond), Ascending: true}, "test.0010", "test.0011")
	checkLimited(sluice.AuditQuery{Limit: 2, Until: at(10 * time.Millisecond)}, "test.0009", "test.0008")
	if all := mustAudit(t, s, sluice.AuditQuery{Limit: 5000}); len(all) != n {
		t.Errorf("Audit with Limit 5000 returned %d entries, want all %d", len(all), n)
	}
}
