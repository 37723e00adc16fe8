package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/fakellm"
)

// TestRolloutStart_NoHoldWarnedByTheAPI: a rollout started through the
// admin API with a stage of "hold": 0 (it moves on as soon as the analysis
// passes, however short the time) got no word, where the CLI warns of a
// model file's stage without a hold. The API's answer now carries the
// warning (warnings, beside the rollout's fields, which stay as they were),
// and sluice rollout start shows it; a rollout whose stages hold gets none.
func TestRolloutStart_NoHoldWarnedByTheAPI(t *testing.T) {
	gw, token, g := rolloutGateway(t, fakellm.Behavior{}, fakellm.Behavior{})
	body := `{"spec": {"model": "chat", "candidate": "v1.2.0", "strategy": "progressive",
		"stages": [{"percent": 20, "hold": 0}, {"percent": 50, "hold": "5m"}, {"percent": 100}]}, "reason": "API with hold 0"}`
	req, _ := http.NewRequest("POST", gw.AdminURL()+"/admin/v1/rollouts", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /admin/v1/rollouts: %d %s", resp.StatusCode, raw)
	}
	var ans struct {
		ID       string   `json:"id"`
		Phase    string   `json:"phase"`
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil || ans.ID == "" || ans.Phase == "" {
		t.Fatalf("the answer lost the rollout's fields: %v\n%s", err, raw)
	}
	const want = "stage 1 (20%) has no hold: it moves on as soon as the analysis passes"
	if len(ans.Warnings) != 1 || !strings.Contains(ans.Warnings[0], want) || strings.Contains(ans.Warnings[0], "stage 2") {
		t.Errorf("warnings %q, want one saying %q (and not stage 2, which holds 5m)", ans.Warnings, want)
	}
	mustRun(t, append([]string{"rollout", "abort", "chat", "--reason", "next"}, g...)...)

	// start runs sluice rollout start once the abort's drain has ended.
	start := func(args ...string) (out, errOut string, code int) {
		deadline := time.Now().Add(30 * time.Second)
		for {
			out, errOut, code = run(t, append(append([]string{"rollout", "start", "chat", "--to", "v1.2.0", "--strategy", "progressive"}, args...), g...)...)
			if code == 0 || !strings.Contains(errOut, "still being rolled back") || time.Now().After(deadline) {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// The CLI shows the API's warning.
	out, errOut, code := start("--stages", "20,100", "--hold", "0s", "--reason", "CLI with hold 0")
	if code != 0 {
		t.Fatalf("rollout start --hold 0s: exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "warning: "+want) {
		t.Errorf("rollout start --hold 0s: no warning on stderr:\n%s%s", out, errOut)
	}
	mustRun(t, append([]string{"rollout", "abort", "chat", "--reason", "next"}, g...)...)
	_, errOut, code = start("--stages", "20,100", "--reason", "CLI with the default hold")
	if code != 0 {
		t.Fatalf("rollout start: exit %d: %s", code, errOut)
	}
	if strings.Contains(errOut, "warning") {
		t.Errorf("rollout start with the default hold warned:\n%s", errOut)
	}
}
