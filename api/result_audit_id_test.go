package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestServer_ChangeResultHasNoZeroAuditID: a change's answer listed the
// audit entries it wrote with "id": 0 (the store numbers them as it
// writes them, and the answer is built from the change), so a script that
// kept the id to look the entry up later kept an id no entry has. The
// answer now leaves the id out; GET /admin/v1/audit has the real ones.
func TestServer_ChangeResultHasNoZeroAuditID(t *testing.T) {
	e := MustEnv(t)
	e.MustSeed(t)
	res := e.do(t, "PATCH", "/admin/v1/models/chat/labels", operatorSecret, []byte(`{"labels": {"canary": "v1.2.0"}, "reason": "try"}`))
	res.want(t, http.StatusOK)
	var got struct {
		Audit []map[string]any `json:"audit"`
	}
	if err := json.Unmarshal(res.Body, &got); err != nil || len(got.Audit) == 0 {
		t.Fatalf("the change's answer has no audit: %v: %s", err, res.Body)
	}
	for _, a := range got.Audit {
		if id, ok := a["id"]; ok {
			t.Errorf("the change's answer gives an audit id of %v, which no entry in the log has: %v", id, a)
		}
	}
	var log struct {
		Entries []map[string]any `json:"entries"`
	}
	res = e.do(t, "GET", "/admin/v1/audit?limit=1", viewerSecret, nil)
	if err := json.Unmarshal(res.Body, &log); err != nil || len(log.Entries) != 1 || log.Entries[0]["id"] == nil || log.Entries[0]["id"].(float64) < 1 {
		t.Errorf("the audit log lacks its ids: %v: %s", err, res.Body)
	}
}
