package api_test

import (
	"context"
	"testing"

	"github.com/sluicehq/sluice"
)

// Several labels change in one transaction: a bad one in the list leaves
// the others unset and writes no audit entry; a good list sets and removes
// them together, one revision.
func TestServer_SetLabels(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustSeed(t)
	if _, err := e.Oper.SetLabel(ctx, "chat", "old", "v1.0.0", "setup"); err != nil {
		t.Fatal(err)
	}
	before, _ := e.Store.LoadRegistry(ctx)
	audit, _ := e.Store.Audit(ctx, sluice.AuditQuery{Limit: 1000})

	_, err := e.Oper.SetLabels(ctx, "chat", map[string]string{"canary": "v1.2.0", "beta": "v9.9.9"}, "preview")
	wantErr(t, err, sluice.CodeInvalid, nil, "v9.9.9")
	after, _ := e.Store.LoadRegistry(ctx)
	if after.Revision != before.Revision || after.Models["chat"].Labels["canary"] != "" {
		t.Errorf("a refused label list still changed the registry: revision %d → %d, canary=%q", before.Revision, after.Revision, after.Models["chat"].Labels["canary"])
	}
	if a, _ := e.Store.Audit(ctx, sluice.AuditQuery{Limit: 1000}); len(a) != len(audit) {
		t.Errorf("a refused label list wrote %d audit entries", len(a)-len(audit))
	}

	res, err := e.Oper.SetLabels(ctx, "chat", map[string]string{"canary": "v1.2.0", "beta": "v1.1.0", "old": ""}, "preview")
	if err != nil {
		t.Fatal(err)
	}
	labels := e.Ctl.Registry().Models["chat"].Labels
	if res.Revision != before.Revision+1 || labels["canary"] != "v1.2.0" || labels["beta"] != "v1.1.0" || labels["old"] != "" {
		t.Errorf("after setting canary and beta and removing old: revision %d (want %d), labels %v", res.Revision, before.Revision+1, labels)
	}

	_, err = e.Oper.SetLabels(ctx, "chat", nil, "nothing")
	wantErr(t, err, sluice.CodeInvalid, []string{"labels"}, "no labels")
	_, err = e.Viewer.SetLabels(ctx, "chat", map[string]string{"x": "v1.0.0"}, "viewer")
	wantErr(t, err, sluice.CodeForbidden, nil)
}
