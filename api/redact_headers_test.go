package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

func TestRedactHeaders(t *testing.T) {
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v2", Webhooks: []sluice.RolloutWebhook{
		{Name: "evals", URL: "https://evals/run", Type: sluice.WebhookPreRollout, Headers: map[string]string{"Authorization": `Bearer a"b\c`, "X-Team": "ml"}},
		{Name: "gate", URL: "https://gate/ok", Type: sluice.WebhookConfirmPromotion},
	}}
	compact, _ := json.Marshal(spec)
	indented, _ := json.MarshalIndent(map[string]any{"rollout": map[string]any{"spec": spec}}, "", "  ")
	for _, b := range [][]byte{compact, indented} {
		out := api.RedactHeaders(b)
		if strings.Contains(string(out), "Bearer") || strings.Contains(string(out), `"ml"`) {
			t.Fatalf("a header's value shows: %s", out)
		}
		var back struct {
			Webhooks []sluice.RolloutWebhook `json:"webhooks"`
		}
		if !json.Valid(out) {
			t.Fatalf("not JSON any more: %s", out)
		}
		if json.Unmarshal(out, &back); len(back.Webhooks) == 2 {
			if h := back.Webhooks[0].Headers; h["Authorization"] != "REDACTED" || h["X-Team"] != "REDACTED" {
				t.Errorf("headers: %v", h)
			}
		}
	}
	if plain := []byte(`{"a":"b"}`); &api.RedactHeaders(plain)[0] != &plain[0] {
		t.Error("a document without headers was copied")
	}
}
