package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// TestServer_ApplyWarnings: a routing rule shadowed by an earlier one was
// warned of by the CLI alone, which worked it out from its own file, so a
// CI pipeline or GitOps controller POSTing to the admin API heard nothing.
// The apply's answer now carries warnings naming the rule, on a dry run
// and on the apply, over HTTP as any client reads it; a document with
// nothing to warn of answers "warnings": [], present and empty, so a
// client tells it from an older gateway that sends none.
func TestServer_ApplyWarnings(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	doc := applyDoc()
	doc.Models[0].Rules = []sluice.Rule{
		{Header: "X-Segment", Values: []string{"beta"}, Version: "v1.1.0"},
		{Header: "x-segment", Values: []string{"beta", "internal"}, Version: "v1.0.0"},
	}
	const want = "model chat: rule 2 (x-segment: beta,internal → v1.0.0) can never match value beta: rule 1 (X-Segment: beta → v1.1.0)"
	post := func(doc sluice.ApplyDoc, dry bool) map[string]json.RawMessage {
		t.Helper()
		body, _ := json.Marshal(api.ApplyRequest{Doc: doc, Reason: "segments", DryRun: dry})
		req, _ := http.NewRequestWithContext(ctx, "POST", e.URL+"/admin/v1/apply", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.Admin.Token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("POST /admin/v1/apply (dry run %v): %d %s", dry, res.StatusCode, b)
		}
		var out map[string]json.RawMessage
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		return out
	}
	for _, dry := range []bool{true, false} {
		out := post(doc, dry)
		var warnings []string
		if err := json.Unmarshal(out["warnings"], &warnings); err != nil || len(warnings) != 1 || !strings.HasPrefix(warnings[0], want) {
			t.Errorf("apply (dry run %v): warnings %s; want one, %q…", dry, out["warnings"], want)
		}
	}
	// Through the Go client too, and the same document again: nothing
	// changes, the warning stands.
	res, err := e.Admin.Apply(ctx, doc, "again", false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed || len(res.Warnings) != 1 || !strings.HasPrefix(res.Warnings[0], want) {
		t.Errorf("apply again: changed %v, warnings %q; want unchanged, one warning %q…", res.Changed, res.Warnings, want)
	}
	doc.Models[0].Rules = doc.Models[0].Rules[:1]
	if w := string(post(doc, false)["warnings"]); w != "[]" {
		t.Errorf(`apply without a shadowed rule: "warnings": %s; want []`, w)
	}
	if res, err := e.Admin.Apply(ctx, doc, "again", true); err != nil || res.Warnings == nil || len(res.Warnings) != 0 {
		t.Errorf("dry run without a shadowed rule through the client: warnings %#v, %v; want empty, not nil", res.Warnings, err)
	}
}
