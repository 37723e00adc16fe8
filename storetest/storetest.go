package storetest

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// Run runs the conformance suite against the stores open returns. open is
// called once for every subtest and must return a new, empty store; it
// should close the store with t.Cleanup. Run never closes a store itself and
// does not test reopening, which is the engine's own test's job.
func Run(t *testing.T, open func(t *testing.T) sluice.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Registry", registryTests},
		{"Commit", commitTests},
		{"Rollouts", rolloutTests},
		{"Audit", auditTests},
		{"Requests", requestTests},
		{"Tokens", tokenTests},
		{"ClientKeys", clientKeyTests},
		{"Feedback", feedbackTests},
		{"JudgeGrades", gradeTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
			}
		})
	}
}

// test is one subtest, given a fresh store.
type test struct {
	name string
	fn   func(t *testing.T, s sluice.Store)
}

// t0 is the suite's reference time: whole microseconds, since the contract
// asks stores for microsecond precision, and after every engine's epoch.
var t0 = time.Date(2026, 11, 20, 9, 30, 0, 123456000, time.UTC)

// at returns t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// micro is the precision the suite compares times at.
func micro(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Truncate(time.Microsecond).UTC()
}

// checkUTC reports a time that came back in another location.
func checkUTC(t *testing.T, what string, tm time.Time) {
	t.Helper()
	if !tm.IsZero() && tm.Location() != time.UTC {
		t.Errorf("%s = %v: location %v, want UTC", what, tm, tm.Location())
	}
}

// mustLoad loads the registry or fails the test.
func mustLoad(t *testing.T, s sluice.Store) *sluice.Registry {
	t.Helper()
	reg, err := s.LoadRegistry(t.Context())
	if err != nil {
		t.Fatalf("LoadRegistry: %v", err)
	}
	if reg == nil || reg.Models == nil || reg.Versions == nil {
		t.Fatalf("LoadRegistry returned %+v: want a registry with non-nil maps", reg)
	}
	return reg
}

// mustCommit commits c and checks the returned revision.
func mustCommit(t *testing.T, s sluice.Store, c sluice.Change) int64 {
	t.Helper()
	rev, err := s.Commit(t.Context(), c)
	if err != nil {
		t.Fatalf("Commit (base %d): %v", c.BaseRevision, err)
	}
	if rev != c.BaseRevision+1 {
		t.Fatalf("Commit (base %d) = revision %d, want %d", c.BaseRevision, rev, c.BaseRevision+1)
	}
	return rev
}

// mustFinish finishes e or fails the test.
func mustFinish(t *testing.T, e *sluice.Edit) sluice.Change {
	t.Helper()
	c, err := e.Finish()
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	return c
}

// must fails the test on err; what names the step.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// mustAudit queries the audit log or fails the test.
func mustAudit(t *testing.T, s sluice.Store, q sluice.AuditQuery) []sluice.AuditEntry {
	t.Helper()
	got, err := s.Audit(t.Context(), q)
	if err != nil {
		t.Fatalf("Audit(%+v): %v", q, err)
	}
	for _, a := range got {
		checkUTC(t, fmt.Sprintf("audit %d At", a.ID), a.At)
	}
	return got
}

// allAudit returns the whole audit log, oldest first.
func allAudit(t *testing.T, s sluice.Store) []sluice.AuditEntry {
	t.Helper()
	return mustAudit(t, s, sluice.AuditQuery{Ascending: true, Limit: 1 << 20})
}

// wantCode checks that err carries code.
func wantCode(t *testing.T, what string, err error, code sluice.Code) {
	t.Helper()
	if got := sluice.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
	if sluice.ErrorMessage(err) == "" {
		t.Errorf("%s: error with code %q has an empty message", what, code)
	}
}

// snapshot is everything a failed write must leave as it was.
type snapshot struct {
	reg    *sluice.Registry
	audit  []sluice.AuditEntry
	tokens []sluice.Token
	keys   []sluice.StoredKey
}

func takeSnapshot(t *testing.T, s sluice.Store) snapshot {
	t.Helper()
	toks, err := s.Tokens(t.Context())
	if err != nil {
		t.Fatalf("Tokens: %v", err)
	}
	keys, err := s.ClientKeys(t.Context())
	if err != nil {
		t.Fatalf("ClientKeys: %v", err)
	}
	return snapshot{reg: mustLoad(t, s), audit: allAudit(t, s), tokens: toks, keys: keys}
}

// checkUnchanged fails the test when the store differs from before.
func checkUnchanged(t *testing.T, s sluice.Store, before snapshot) {
	t.Helper()
	after := takeSnapshot(t, s)
	equalRegistry(t, after.reg, before.reg)
	if len(after.audit) != len(before.audit) {
		t.Errorf("audit has %d entries, want the %d it had before the failed write", len(after.audit), len(before.audit))
	}
	equalTokens(t, after.tokens, before.tokens)
	if !reflect.DeepEqual(after.keys, before.keys) {
		t.Errorf("client keys = %+v, want %+v as before the failed write", after.keys, before.keys)
	}
}

// equalRegistry compares two registries field by field, times at
// microsecond precision and nil equal to empty.
func equalRegistry(t *testing.T, got, want *sluice.Registry) {
	t.Helper()
	if got.Revision != want.Revision {
		t.Errorf("revision = %d, want %d", got.Revision, want.Revision)
	}
	if g, w := slices.Sorted(maps.Keys(got.Models)), slices.Sorted(maps.Keys(want.Models)); !slices.Equal(g, w) {
		t.Errorf("models = %q, want %q", g, w)
	}
	if g, w := slices.Sorted(maps.Keys(got.Versions)), slices.Sorted(maps.Keys(want.Versions)); !slices.Equal(g, w) {
		t.Errorf("versions = %q, want %q", g, w)
	}
	if g, w := slices.Sorted(maps.Keys(got.Rollouts)), slices.Sorted(maps.Keys(want.Rollouts)); !slices.Equal(g, w) {
		t.Errorf("rollouts are for models %q, want %q", g, w)
	}
	for model, w := range want.Rollouts {
		g := got.Rollouts[model]
		if g == nil {
			continue
		}
		for name, tm := range map[string]time.Time{"StartedAt": g.StartedAt, "LiveAt": g.LiveAt, "StageStartedAt": g.StageStartedAt, "UpdatedAt": g.UpdatedAt, "EndedAt": g.EndedAt, "PausedAt": g.PausedAt} {
			checkUTC(t, "rollout "+g.ID+" "+name, tm)
		}
		for i, ev := range g.Events {
			checkUTC(t, fmt.Sprintf("rollout %s event %d At", g.ID, i), ev.At)
		}
		if gn, wn := normRollout(*g), normRollout(*w); !reflect.DeepEqual(gn, wn) {
			t.Errorf("rollout of model %s round-trip differs:\n got  %s\n want %s", model, jsonOf(gn), jsonOf(wn))
		}
	}
	for name, w := range want.Models {
		g := got.Models[name]
		if g == nil {
			continue
		}
		checkUTC(t, "model "+name+" UpdatedAt", g.UpdatedAt)
		if gn, wn := normModel(*g), normModel(*w); !reflect.DeepEqual(gn, wn) {
			t.Errorf("model %s round-trip differs:\n got  %s\n want %s", name, jsonOf(gn), jsonOf(wn))
		}
	}
	for id, w := range want.Versions {
		g := got.Versions[id]
		if g == nil {
			continue
		}
		checkUTC(t, "version "+id+" CreatedAt", g.CreatedAt)
		checkUTC(t, "version "+id+" SunsetAt", g.SunsetAt)
		if gn, wn := normVersion(*g), normVersion(*w); !reflect.DeepEqual(gn, wn) {
			t.Errorf("version %s round-trip differs:\n got  %s\n want %s", id, jsonOf(gn), jsonOf(wn))
		}
	}
}

func normModel(m sluice.Model) sluice.Model {
	m = m.Clone()
	m.UpdatedAt = micro(m.UpdatedAt)
	if len(m.Policy.Split) == 0 {
		m.Policy.Split = nil
	}
	if len(m.Labels) == 0 {
		m.Labels = nil
	}
	if len(m.Rules) == 0 {
		m.Rules = nil
	}
	for i := range m.Rules {
		if len(m.Rules[i].Values) == 0 {
			m.Rules[i].Values = nil
		}
	}
	return m
}

func normVersion(v sluice.Version) sluice.Version {
	v = v.Clone()
	v.CreatedAt = micro(v.CreatedAt)
	v.SunsetAt = micro(v.SunsetAt)
	if len(v.Endpoints) == 0 {
		v.Endpoints = nil
	}
	if len(v.Lineage) == 0 {
		v.Lineage = nil
	}
	return v
}

// normRollout returns r as a plain JSON value with its times at
// microsecond precision, so that JSON the engine reformatted (LastVerdict,
// event data) and nil or empty lists compare equal.
func normRollout(r sluice.Rollout) any {
	r = r.Clone()
	for _, t := range []*time.Time{&r.StartedAt, &r.LiveAt, &r.StageStartedAt, &r.UpdatedAt, &r.EndedAt, &r.PausedAt, &r.HoldFrom} {
		*t = micro(*t)
	}
	for i := range r.Events {
		r.Events[i].At = micro(r.Events[i].At)
	}
	if len(r.Events) == 0 {
		r.Events = nil
	}
	if len(r.PreviousLabels) == 0 {
		r.PreviousLabels = nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err.Error()
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err.Error()
	}
	return v
}

// jsonOf renders v for a failure message, with every field named.
func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

// sameJSON reports whether two JSON documents are equal as values, since an
// engine may store JSON normalised (key order, spacing).
func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	return reflect.DeepEqual(x, y)
}
