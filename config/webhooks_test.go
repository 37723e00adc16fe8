package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
)

// TestParseApplyDoc_Webhooks: a model file's rollout webhooks read
// strictly, with ${ENV} in a header as in any value.
func TestParseApplyDoc_Webhooks(t *testing.T) {
	t.Setenv("EVAL_TOKEN", "s3cret")
	doc, err := config.ParseApplyDoc("models.yaml", []byte(`
models:
  - name: chat
    target: v1.2.0
    rollout:
      webhooks:
        - name: golden-set
          type: pre_rollout
          url: https://evals.internal/run
          timeout: 10m
          headers:
            Authorization: Bearer ${EVAL_TOKEN}
        - name: release-approval
          type: confirm_promotion
          url: https://approvals.internal/sluice
`))
	if err != nil {
		t.Fatal(err)
	}
	hs := doc.Models[0].Rollout.Webhooks
	if len(hs) != 2 || hs[0].Type != sluice.WebhookPreRollout || hs[0].Wait() != 10*time.Minute || hs[0].Headers["Authorization"] != "Bearer s3cret" ||
		hs[1].Type != sluice.WebhookConfirmPromotion || hs[1].Wait() != sluice.DefaultWebhookTimeout {
		t.Fatalf("webhooks: %+v", hs)
	}
	_, err = config.ParseApplyDoc("models.yaml", []byte(`
models:
  - name: chat
    rollout:
      webhooks:
        - name: e
          typ: pre_rollout
`))
	if err == nil || !strings.Contains(err.Error(), "did you mean type?") {
		t.Errorf("unknown key: %v", err)
	}
}
