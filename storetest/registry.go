package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

var registryTests = []test{
	{"Empty", testRegistryEmpty},
	{"RoundTrip", testRegistryRoundTrip},
	{"RoundTripSecondChange", testRegistrySecondChange},
	{"ZeroAndEmptyFields", testRegistryZeroFields},
	{"SaltSurvivesPolicyDetour", testRegistrySaltDetour},
}

// fullVersion returns a version with every immutable field set, endpoints
// out of sorted order and lineage values that need escaping.
func fullVersion(model, tag string, stage sluice.Stage) sluice.Version {
	return sluice.Version{
		Model:   model,
		Version: tag,
		Endpoints: []string{
			"http://10.0.0.9:8000",
			"http://10.0.0.7:8000",
			"https://gpu-b.example.com:8443/base",
		},
		UpstreamModel: "org/" + model + "-" + tag,
		BaseModel:     "llama-3.1-8b-instruct",
		Family:        "llama-3",
		Size:          "8b",
		WeightHash:    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		ConfigHash:    "sha256:60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
		Lineage: map[string]string{
			"dataset":  "support-2026-11-01",
			"run":      "r-4242",
			"unicode":  "ünïcødé ✓ 日本",
			"quotes":   `a "quoted" 'value' \ back`,
			"empty":    "",
			"newlines": "line1\nline2",
		},
		GPUMemoryGB:     17.25,
		LoadTimeSeconds: 42.125,
		Stage:           stage,
	}
}

// minimalVersion returns a version with only the required fields.
func minimalVersion(model, tag string, stage sluice.Stage) sluice.Version {
	return sluice.Version{Model: model, Version: tag, Endpoints: []string{"http://127.0.0.1:9001"}, Stage: stage}
}

func register(t *testing.T, e *sluice.Edit, v sluice.Version) {
	t.Helper()
	created, err := e.RegisterVersion(v)
	if err != nil {
		t.Fatalf("RegisterVersion %s: %v", v.ID(), err)
	}
	if !created {
		t.Fatalf("RegisterVersion %s: created = false, want true", v.ID())
	}
}

// seed commits a registry with three models that uses every kind of field:
// a split with a salt and weights out of tag order, labels, rules with
// several values, a deprecated version with a sunset, a pinned model and a
// model with only a development version. It returns the registry the store
// should now hold.
func seed(t *testing.T, s sluice.Store) *sluice.Registry {
	t.Helper()
	reg := mustLoad(t, s)
	e := reg.Edit("alice", "initial setup", at(0))
	register(t, e, fullVersion("chat", "v0.9.0", sluice.StageProduction))
	register(t, e, fullVersion("chat", "v1.0.0", sluice.StageProduction))
	register(t, e, fullVersion("chat", "v1.1.0", sluice.StageStaging))
	must(t, "SetStage v1.1.0", e.SetStage("chat:v1.1.0", sluice.StageProduction, time.Time{}))
	must(t, "SetStage v0.9.0", e.SetStage("chat:v0.9.0", sluice.StageDeprecated, at(30*24*time.Hour+789*time.Microsecond)))
	must(t, "PutModel chat", e.PutModel(sluice.Model{Name: "chat", Description: "The support assistant ✓", Policy: sluice.Policy{Kind: sluice.PolicyLatest}}))
	must(t, "SetPolicy chat", e.SetPolicy("chat", sluice.Policy{
		Kind:  sluice.PolicySplit,
		Split: []sluice.Weight{{Version: "v1.1.0", Percent: 12.5}, {Version: "v1.0.0", Percent: 87.49}, {Version: "v0.9.0", Percent: 0.01}},
		Salt:  "salt-2026-11",
	}))
	must(t, "SetLabel stable", e.SetLabel("chat", "stable", "v1.0.0"))
	must(t, "SetLabel canary", e.SetLabel("chat", "canary", "v1.1.0"))
	must(t, "SetRules chat", e.SetRules("chat", []sluice.Rule{
		{Header: "X-User-Segment", Values: []string{"internal", "beta", "Beta"}, Version: "v1.1.0"},
		{Header: "X-Region", Values: []string{"eu-west-1"}, Version: "v1.0.0"},
	}))

	register(t, e, minimalVersion("embed", "2026-01-15", sluice.StageProduction))
	register(t, e, minimalVersion("embed", "2026-11-20", sluice.StageProduction))
	must(t, "SetPolicy embed", e.SetPolicy("embed", sluice.Policy{Kind: sluice.PolicySpecific, Version: "2026-01-15"}))

	register(t, e, minimalVersion("summarize", "v0.1.0", ""))
	must(t, "SetPolicy summarize", e.SetPolicy("summarize", sluice.Policy{Kind: sluice.PolicyAll}))

	c := mustFinish(t, e)
	rev := mustCommit(t, s, c)
	want := e.Registry()
	want.Revision = rev
	return want
}

func testRegistryEmpty(t *testing.T, s sluice.Store) {
	reg := mustLoad(t, s)
	if reg.Revision != 0 || len(reg.Models) != 0 || len(reg.Versions) != 0 {
		t.Fatalf("new store: revision %d with %d models and %d versions, want revision 0 and nothing", reg.Revision, len(reg.Models), len(reg.Versions))
	}
	if a := allAudit(t, s); len(a) != 0 {
		t.Fatalf("new store has %d audit entries, want 0", len(a))
	}
}

func testRegistryRoundTrip(t *testing.T, s sluice.Store) {
	want := seed(t, s)
	if want.Revision != 1 {
		t.Fatalf("first commit gave revision %d, want 1", want.Revision)
	}
	got := mustLoad(t, s)
	equalRegistry(t, got, want)

	// Spot checks, so a failure of the comparison above cannot hide behind a
	// bug shared by the fixture and the normaliser.
	chat := got.Models["chat"]
	if chat == nil {
		t.Fatal("model chat missing after reload")
	}
	if chat.Policy.Kind != sluice.PolicySplit || chat.Policy.Salt != "salt-2026-11" || len(chat.Policy.Split) != 3 ||
		chat.Policy.Split[0] != (sluice.Weight{Version: "v1.1.0", Percent: 12.5}) ||
		chat.Policy.Split[1] != (sluice.Weight{Version: "v1.0.0", Percent: 87.49}) ||
		chat.Policy.Split[2] != (sluice.Weight{Version: "v0.9.0", Percent: 0.01}) {
		t.Errorf("chat policy = %+v, want the split in the order given, with its salt", chat.Policy)
	}
	if v := got.Versions["chat:v0.9.0"]; v == nil || v.Stage != sluice.StageDeprecated || !micro(v.SunsetAt).Equal(at(30*24*time.Hour+789*time.Microsecond)) {
		t.Errorf("chat:v0.9.0 = %+v, want deprecated with its sunset", v)
	}
	if v := got.Versions["chat:v1.0.0"]; v == nil || !micro(v.CreatedAt).Equal(t0) || v.Endpoints[0] != "http://10.0.0.9:8000" || v.Lineage["unicode"] != "ünïcødé ✓ 日本" {
		t.Errorf("chat:v1.0.0 = %+v, want created at %v with endpoints in order and lineage intact", v, t0)
	}
	if v := got.Versions["summarize:v0.1.0"]; v == nil || v.Stage != sluice.StageDevelopment {
		t.Errorf("summarize:v0.1.0 = %+v, want stage development", v)
	}
	if got.Models["embed"].Policy.Version != "2026-01-15" {
		t.Errorf("embed policy = %+v, want specific 2026-01-15", got.Models["embed"].Policy)
	}

	// A registry loaded again is equal, and edits start from it.
	equalRegistry(t, mustLoad(t, s), want)
}

func testRegistrySecondChange(t *testing.T, s sluice.Store) {
	seed(t, s)
	reg := mustLoad(t, s)
	e := reg.Edit("bob", "retire the old build", at(time.Hour+time.Microsecond))
	must(t, "SetSplit", e.SetSplit("chat", []sluice.Weight{{Version: "v1.0.0", Percent: 50}, {Version: "v1.1.0", Percent: 50}}))
	must(t, "SetStage retire", e.SetStage("chat:v0.9.0", sluice.StageRetired, time.Time{}))
	must(t, "SetLabel remove canary", e.SetLabel("chat", "canary", ""))
	must(t, "SetRules clear", e.SetRules("chat", nil))
	register(t, e, fullVersion("chat", "v1.2.0", sluice.StageDevelopment))
	must(t, "SetStage v1.2.0 staging", e.SetStage("chat:v1.2.0", sluice.StageStaging, time.Time{}))
	must(t, "SetPolicy embed latest", e.SetPolicy("embed", sluice.Policy{Kind: sluice.PolicyLatest}))
	must(t, "SetStage embed deprecated", e.SetStage("embed:2026-01-15", sluice.StageDeprecated, time.Time{}))
	c := mustFinish(t, e)
	rev := mustCommit(t, s, c)
	if rev != 2 {
		t.Fatalf("second commit gave revision %d, want 2", rev)
	}
	want := e.Registry()
	want.Revision = rev
	got := mustLoad(t, s)
	equalRegistry(t, got, want)
	if v := got.Versions["chat:v0.9.0"]; v.Stage != sluice.StageRetired || !v.SunsetAt.IsZero() {
		t.Errorf("chat:v0.9.0 = stage %s sunset %v, want retired with no sunset", v.Stage, v.SunsetAt)
	}
	if v := got.Versions["chat:v1.2.0"]; v.Stage != sluice.StageStaging {
		t.Errorf("chat:v1.2.0 registered and staged in one change has stage %s, want staging", v.Stage)
	}
	if m := got.Models["chat"]; m.Policy.Salt != "salt-2026-11" || m.Labels["canary"] != "" || len(m.Rules) != 0 || !micro(m.UpdatedAt).Equal(at(time.Hour+time.Microsecond)) {
		t.Errorf("chat = %+v, want the salt kept, canary and rules gone, updated at the edit's time", m)
	}
}

// testRegistryZeroFields commits a hand-built change whose optional fields
// are zero or nil, as another writer than Edit might.
func testRegistryZeroFields(t *testing.T, s sluice.Store) {
	m := sluice.Model{Name: "bare", Policy: sluice.Policy{Kind: sluice.PolicyLatest}}
	v := sluice.Version{Model: "bare", Version: "v1", Endpoints: []string{"http://127.0.0.1:1"}, Stage: sluice.StageDevelopment}
	mustCommit(t, s, sluice.Change{BaseRevision: 0, Models: []sluice.Model{m}, NewVersions: []sluice.Version{v}})
	want := sluice.NewRegistry()
	want.Revision = 1
	want.Models["bare"] = &m
	want.Versions["bare:v1"] = &v
	got := mustLoad(t, s)
	equalRegistry(t, got, want)
	if gv := got.Versions["bare:v1"]; gv != nil && (!gv.CreatedAt.IsZero() || !gv.SunsetAt.IsZero()) {
		t.Errorf("zero times came back as created %v, sunset %v", gv.CreatedAt, gv.SunsetAt)
	}
	if gm := got.Models["bare"]; gm != nil && !gm.UpdatedAt.IsZero() {
		t.Errorf("zero UpdatedAt came back as %v", gm.UpdatedAt)
	}
}

// testRegistrySaltDetour: an operator splits chat with a custom salt, pins
// it to one version for a while (or any other policy), then splits it again
// without --salt. The users must land where they did before the detour: the
// salt is kept across the other policy, stored, and recorded in every audit
// entry's routing, so a rollback and audit --at see it too. A new salt
// given replaces it.
func testRegistrySaltDetour(t *testing.T, s sluice.Store) {
	step := 0
	edit := func(what string, fn func(e *sluice.Edit) error) sluice.AuditEntry {
		t.Helper()
		step++
		e := mustLoad(t, s).Edit("alice", what, at(time.Duration(step)*time.Minute))
		must(t, what, fn(e))
		c := mustFinish(t, e)
		mustCommit(t, s, c)
		return c.Audit[len(c.Audit)-1]
	}
	salt := func(what string, e sluice.AuditEntry, want string) {
		t.Helper()
		if got := mustLoad(t, s).Models["chat"].Policy.Salt; got != want {
			t.Fatalf("after %s: stored salt %q, want %q", what, got, want)
		}
		var after struct{ Policy sluice.Policy }
		if err := json.Unmarshal(e.After, &after); err != nil || after.Policy.Salt != want {
			t.Fatalf("after %s: audit entry %s records salt %q (%v), want %q: %s", what, e.Action, after.Policy.Salt, err, want, e.After)
		}
	}
	split := []sluice.Weight{{Version: "v1", Percent: 90}, {Version: "v2", Percent: 10}}
	edit("setup", func(e *sluice.Edit) error {
		for _, tag := range []string{"v1", "v2"} {
			if _, err := e.RegisterVersion(minimalVersion("chat", tag, sluice.StageProduction)); err != nil {
				return err
			}
		}
		return nil
	})
	salt("the split", edit("split", func(e *sluice.Edit) error {
		return e.SetPolicy("chat", sluice.Policy{Kind: sluice.PolicySplit, Split: split, Salt: "S"})
	}), "S")
	for _, p := range []sluice.Policy{{Kind: sluice.PolicySpecific, Version: "v1"}, {Kind: sluice.PolicyLatest}, {Kind: sluice.PolicyAll}} {
		salt("policy "+p.String(), edit("detour", func(e *sluice.Edit) error { return e.SetPolicy("chat", p) }), "S")
	}
	salt("a model file without salt", edit("apply", func(e *sluice.Edit) error {
		return e.Apply(sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Policy: &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v2"}}}})
	}), "S")
	salt("the split again", edit("split again", func(e *sluice.Edit) error { return e.SetSplit("chat", split) }), "S")
	salt("a new salt", edit("rotate", func(e *sluice.Edit) error {
		return e.SetPolicy("chat", sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1", Salt: "T"})
	}), "T")
	salt("the split after the new salt", edit("split", func(e *sluice.Edit) error { return e.SetSplit("chat", split) }), "T")
}
