package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// An apply with if_revision commits only while the registry is at that
// revision: a label another admin set in between is not silently replaced
// by the document's whole label set, and a dry run at the current
// revision says what the apply would do.
func TestApply_IfRevision(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustSeed(t)
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Labels: map[string]string{"stable": "v1.0.0"}}}}
	dry, err := e.Admin.ApplyIf(ctx, doc, "plan", true, -1)
	if err != nil {
		t.Fatal(err)
	}
	// Another admin sets a label after the dry run.
	if _, err := e.Oper.SetLabel(ctx, "chat", "beta", "v1.1.0", "beta testers"); err != nil {
		t.Fatal(err)
	}
	_, err = e.Admin.ApplyIf(ctx, doc, "as planned", false, dry.Revision)
	wantErr(t, err, sluice.CodeConflict, []string{"if_revision"}, "not", "sluice audit")
	if got := e.Ctl.Registry().Models["chat"].Labels["beta"]; got != "v1.1.0" {
		t.Errorf("the refused apply still replaced the labels: beta=%q", got)
	}
	// At the current revision it applies.
	cur := e.Ctl.Registry().Revision
	res, err := e.Admin.ApplyIf(ctx, doc, "re-planned", false, cur)
	if err != nil || res.Revision != cur+1 {
		t.Fatalf("apply at the current revision: %+v, %v", res, err)
	}
	req, _ := http.NewRequest("POST", e.URL+"/admin/v1/apply", strings.NewReader(`{"doc": {"models": [{"name": "chat"}]}, "reason": "bad", "if_revision": -5}`))
	req.Header.Set("Authorization", "Bearer "+adminSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("if_revision -5: status %d, want 422", resp.StatusCode)
	}
}
