package api_test

import (
	"context"
	"testing"

	"github.com/sluicehq/sluice"
)

func applyDoc() sluice.ApplyDoc {
	return sluice.ApplyDoc{Models: []sluice.ApplyModel{{
		Name:        "chat",
		Description: "the assistant",
		Policy:      &sluice.Policy{Kind: sluice.PolicySplit, Split: []sluice.Weight{{Version: "v1.0.0", Percent: 90}, {Version: "v1.1.0", Percent: 10}}},
		Labels:      map[string]string{"stable": "v1.0.0"},
		Versions: []sluice.Version{
			{Version: "v1.0.0", Endpoints: []string{"http://127.0.0.1:9001"}, Stage: sluice.StageProduction},
			{Version: "v1.1.0", Endpoints: []string{"http://127.0.0.1:9002"}, Stage: sluice.StageStaging},
		},
	}}}
}

func TestServer_Apply(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)

	t.Run("DryRun", func(t *testing.T) {
		res, err := e.Admin.Apply(ctx, applyDoc(), "first rollout", true)
		if err != nil {
			t.Fatal(err)
		}
		if !res.DryRun || !res.Changed || len(res.Audit) == 0 || res.Revision != 0 {
			t.Errorf("dry run = %+v", res)
		}
		if n := auditCount(t, e); n != 0 {
			t.Errorf("a dry run wrote %d audit entries", n)
		}
		if list, _ := e.Viewer.Models(ctx); len(list.Models) != 0 {
			t.Errorf("a dry run created models: %+v", list.Models)
		}
	})
	t.Run("ErrDryRunInvalid", func(t *testing.T) {
		doc := applyDoc()
		doc.Models[0].Policy.Split[1].Percent = 20
		_, err := e.Admin.Apply(ctx, doc, "r", true)
		wantErr(t, err, sluice.CodeInvalid, nil, "sum to 110, not 100", "add up to 100")
	})
	t.Run("OK", func(t *testing.T) {
		res, err := e.Admin.Apply(ctx, applyDoc(), "first rollout", false)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Changed || res.Revision != 1 || res.DryRun {
			t.Errorf("apply = %+v", res)
		}
		for _, a := range res.Audit {
			if a.Actor != "ada" || a.Reason != "first rollout" {
				t.Errorf("audit entry %+v: want actor ada and the reason", a)
			}
		}
		m, err := e.Viewer.Model(ctx, "chat")
		if err != nil {
			t.Fatal(err)
		}
		if m.PolicyText != "split v1.0.0=90 v1.1.0=10" || m.Labels["stable"] != "v1.0.0" || len(m.Versions) != 2 || m.Description != "the assistant" {
			t.Errorf("model = %+v", m)
		}
	})
	t.Run("Idempotent", func(t *testing.T) {
		before := auditCount(t, e)
		res, err := e.Admin.Apply(ctx, applyDoc(), "again", false)
		if err != nil {
			t.Fatal(err)
		}
		if res.Changed || res.Revision != 1 || len(res.Audit) != 0 {
			t.Errorf("second apply = %+v, want unchanged at revision 1", res)
		}
		if n := auditCount(t, e); n != before {
			t.Errorf("second apply wrote %d audit entries", n-before)
		}
		dry, err := e.Admin.Apply(ctx, applyDoc(), "again", true)
		if err != nil || dry.Changed {
			t.Errorf("dry run of the same document = %+v, %v; want unchanged", dry, err)
		}
	})
	t.Run("ErrConflict", func(t *testing.T) {
		doc := applyDoc()
		doc.Models[0].Versions[0].Endpoints = []string{"http://10.0.0.1:8000"}
		_, err := e.Admin.Apply(ctx, doc, "r", false)
		wantErr(t, err, sluice.CodeConflict, []string{"endpoints"}, "already registered with other endpoints", "new version tag")
	})
	t.Run("ErrEmpty", func(t *testing.T) {
		_, err := e.Admin.Apply(ctx, sluice.ApplyDoc{}, "r", false)
		wantErr(t, err, sluice.CodeInvalid, []string{"doc.models"}, "declares no models", `{"doc": {"models"`)
	})
	t.Run("ErrOperator", func(t *testing.T) {
		_, err := e.Oper.Apply(ctx, applyDoc(), "r", false)
		wantErr(t, err, sluice.CodeForbidden, nil, "token otto has role operator; this needs admin", "use a token with role admin")
	})
}
