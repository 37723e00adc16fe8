package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

func TestServer_SetSplit(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustSeed(t)
	e.MustRegister(t, version("v0.9.0", sluice.StageRetired))
	w := func(pairs ...any) []sluice.Weight {
		var ws []sluice.Weight
		for i := 0; i < len(pairs); i += 2 {
			ws = append(ws, sluice.Weight{Version: pairs[i].(string), Percent: pairs[i+1].(float64)})
		}
		return ws
	}

	t.Run("ErrSum", func(t *testing.T) {
		_, err := e.Oper.SetSplit(ctx, "chat", w("v1.0.0", 90.0, "v1.1.0", 5.0), "", "canary")
		wantErr(t, err, sluice.CodeInvalid, nil, "sum to 95, not 100", "add up to 100")
	})
	t.Run("ErrUnknownVersion", func(t *testing.T) {
		_, err := e.Oper.SetSplit(ctx, "chat", w("v1.0.0", 90.0, "v7.0.0", 10.0), "", "canary")
		wantErr(t, err, sluice.CodeInvalid, nil, "chat:v7.0.0, which is not registered", "register the version first")
	})
	t.Run("ErrRetiredVersion", func(t *testing.T) {
		_, err := e.Oper.SetSplit(ctx, "chat", w("v1.0.0", 90.0, "v0.9.0", 10.0), "", "canary")
		wantErr(t, err, sluice.CodeInvalid, nil, "chat:v0.9.0, which is retired", "point it at another version")
	})
	t.Run("ErrNoWeights", func(t *testing.T) {
		_, err := e.Oper.SetSplit(ctx, "chat", nil, "", "canary")
		wantErr(t, err, sluice.CodeInvalid, []string{"weights"}, "the split has no weights", `"weights": [{"version"`)
	})
	t.Run("ErrUnknownModel", func(t *testing.T) {
		_, err := e.Oper.SetSplit(ctx, "nope", w("v1.0.0", 100.0), "", "canary")
		wantErr(t, err, sluice.CodeNotFound, nil, "not registered", "sluice get models")
	})
	t.Run("ErrNoReason", func(t *testing.T) {
		_, err := e.Oper.SetSplit(ctx, "chat", w("v1.0.0", 95.0, "v1.2.0", 5.0), "", "")
		wantErr(t, err, sluice.CodeInvalid, []string{"reason"}, "a reason is required")
	})
	t.Run("OK", func(t *testing.T) {
		res, err := e.Oper.SetSplit(ctx, "chat", w("v1.0.0", 95.0, "v1.2.0", 5.0), "", "canary v1.2.0")
		if err != nil {
			t.Fatal(err)
		}
		if !res.Changed || len(res.Audit) != 1 || res.Audit[0].Action != "model.policy" || res.Audit[0].Reason != "canary v1.2.0" {
			t.Errorf("result = %+v", res)
		}
		m, err := e.Viewer.Model(ctx, "chat")
		if err != nil {
			t.Fatal(err)
		}
		if m.PolicyText != "split v1.0.0=95 v1.2.0=5" {
			t.Errorf("policy = %q", m.PolicyText)
		}
		// The same split again changes nothing; a new salt does.
		res, err = e.Oper.SetSplit(ctx, "chat", w("v1.0.0", 95.0, "v1.2.0", 5.0), "", "again")
		if err != nil || res.Changed {
			t.Errorf("same split: %+v, %v; want unchanged", res, err)
		}
		res, err = e.Oper.SetSplit(ctx, "chat", w("v1.0.0", 95.0, "v1.2.0", 5.0), "rotate-1", "rotate users")
		if err != nil || !res.Changed {
			t.Errorf("new salt: %+v, %v; want changed", res, err)
		}
		m, _ = e.Viewer.Model(ctx, "chat")
		if m.Policy.Salt != "rotate-1" {
			t.Errorf("salt = %q", m.Policy.Salt)
		}
	})
}

func TestServer_SetPolicy(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustSeed(t)
	t.Run("OK", func(t *testing.T) {
		if _, err := e.Oper.SetPolicy(ctx, "chat", sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.0.0"}, "pin"); err != nil {
			t.Fatal(err)
		}
		m, _ := e.Viewer.Model(ctx, "chat")
		if m.PolicyText != "specific v1.0.0" || len(m.Serving) != 1 || m.Serving[0] != "v1.0.0" {
			t.Errorf("model = %+v", m)
		}
	})
	t.Run("ErrNoKind", func(t *testing.T) {
		_, err := e.Oper.SetPolicy(ctx, "chat", sluice.Policy{}, "r")
		wantErr(t, err, sluice.CodeInvalid, []string{"policy.kind"}, "the policy kind is missing", `"kind": "specific"`)
	})
	t.Run("ErrUnknownKind", func(t *testing.T) {
		_, err := e.Oper.SetPolicy(ctx, "chat", sluice.Policy{Kind: "random"}, "r")
		wantErr(t, err, sluice.CodeInvalid, nil, `unknown policy kind "random"`, "use specific, latest, all, split or off")
	})
	t.Run("ErrPinStaging", func(t *testing.T) {
		_, err := e.Oper.SetPolicy(ctx, "chat", sluice.Policy{Kind: sluice.PolicySpecific, Version: "v9"}, "r")
		wantErr(t, err, sluice.CodeInvalid, nil, "not registered", "register the version first")
	})
}

func TestServer_Labels(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustSeed(t)
	t.Run("OK", func(t *testing.T) {
		res, err := e.Oper.SetLabel(ctx, "chat", "canary", "v1.2.0", "try v1.2.0")
		if err != nil || !res.Changed || res.Audit[0].Action != "model.labels" {
			t.Fatalf("set: %+v, %v", res, err)
		}
		m, _ := e.Viewer.Model(ctx, "chat")
		if m.Labels["canary"] != "v1.2.0" {
			t.Errorf("labels = %v", m.Labels)
		}
		if _, err := e.Oper.DeleteLabel(ctx, "chat", "canary", "done"); err != nil {
			t.Fatal(err)
		}
		m, _ = e.Viewer.Model(ctx, "chat")
		if len(m.Labels) != 0 {
			t.Errorf("labels after delete = %v", m.Labels)
		}
	})
	t.Run("ErrDeleteMissing", func(t *testing.T) {
		_, err := e.Oper.DeleteLabel(ctx, "chat", "ghost", "r")
		wantErr(t, err, sluice.CodeNotFound, nil, `has no label "ghost"`)
	})
	t.Run("ErrNoVersion", func(t *testing.T) {
		_, err := e.Oper.SetLabel(ctx, "chat", "canary", "", "r")
		wantErr(t, err, sluice.CodeInvalid, []string{"version"}, "the version is missing", "send DELETE instead")
	})
	t.Run("ErrBadLabel", func(t *testing.T) {
		_, err := e.Oper.SetLabel(ctx, "chat", "bad\x7flabel", "v1.0.0", "r")
		wantErr(t, err, sluice.CodeInvalid, []string{"label"}, "invalid label", "use 1 to 128 letters")
	})
	t.Run("ErrRetiredTarget", func(t *testing.T) {
		e.MustRegister(t, version("v0.1.0", sluice.StageRetired))
		_, err := e.Oper.SetLabel(ctx, "chat", "old", "v0.1.0", "r")
		wantErr(t, err, sluice.CodeInvalid, nil, "retired and cannot serve", "point it at another version")
	})
}

func TestServer_SetRules(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustSeed(t)
	rules := []sluice.Rule{{Header: "X-User-Segment", Values: []string{"beta"}, Version: "v1.2.0"}}
	t.Run("OK", func(t *testing.T) {
		res, err := e.Oper.SetRules(ctx, "chat", rules, "beta users")
		if err != nil || !res.Changed {
			t.Fatalf("set: %+v, %v", res, err)
		}
		m, _ := e.Viewer.Model(ctx, "chat")
		if len(m.Rules) != 1 || m.Rules[0].Header != "X-User-Segment" {
			t.Errorf("rules = %+v", m.Rules)
		}
		if res, err := e.Oper.SetRules(ctx, "chat", nil, "no more"); err != nil || !res.Changed {
			t.Fatalf("clear: %+v, %v", res, err)
		}
		m, _ = e.Viewer.Model(ctx, "chat")
		if len(m.Rules) != 0 {
			t.Errorf("rules after clear = %+v", m.Rules)
		}
	})
	t.Run("ErrMissingRules", func(t *testing.T) {
		r := e.do(t, "PUT", "/admin/v1/models/chat/rules", operatorSecret, []byte(`{"reason":"r"}`))
		r.want(t, 422, "the rules are missing", "or [] to remove every rule")
		r.wantFields(t, "rules")
	})
	t.Run("ErrBadHeader", func(t *testing.T) {
		_, err := e.Oper.SetRules(ctx, "chat", []sluice.Rule{{Header: "X User", Values: []string{"a"}, Version: "v1.0.0"}}, "r")
		wantErr(t, err, sluice.CodeInvalid, nil, "rule 1", "use letters, digits and '-'")
	})
}

func TestServer_Lifecycle_KeepsRoutingValid(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustSeed(t)
	if _, err := e.Oper.SetLabel(ctx, "chat", "stable", "v1.0.0", "r"); err != nil {
		t.Fatal(err)
	}
	_, err := e.Oper.SetStage(ctx, "chat:v1.0.0", sluice.StageRetired, time.Time{}, "retire")
	wantErr(t, err, sluice.CodeInvalid, nil, "chat:v1.0.0 cannot be retired while label stable of chat routes to it", "sluice label chat stable=VERSION, or stable- to remove it")
}
