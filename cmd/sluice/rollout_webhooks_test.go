package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// TestCLI_RolloutStartWebhooks: a rollout's webhook checks are declared on
// sluice rollout start (a CLI user had to write a model file for them):
// the gateway calls the pre_rollout webhook with its header before any
// traffic, rollout status shows the webhooks and the answer, and a failing
// one ends the rollout failed, which rollout watch reports with exit 1.
// Bad flags are refused with the spec's own checks, naming the flag, and
// nothing starts.
func TestCLI_RolloutStartWebhooks(t *testing.T) {
	gw, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "setup")...)
	mustRun(t, cmd("set", "policy", "chat", "specific", "v1.1.0", "--reason", "pin before the rollout")...)

	var mu sync.Mutex
	var bodies []rollout.WebhookBody
	var auths []string
	fail := false
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b rollout.WebhookBody
		json.NewDecoder(r.Body).Decode(&b)
		mu.Lock()
		defer mu.Unlock()
		bodies, auths = append(bodies, b), append(auths, r.Header.Get("Authorization"))
		if fail {
			fmt.Fprint(w, `{"pass": false, "message": "golden set 71%, below 90%"}`)
			return
		}
		fmt.Fprint(w, `{"pass": true, "message": "golden set 98%"}`)
	}))
	defer hook.Close()

	t.Run("Refused", func(t *testing.T) {
		for _, c := range []struct {
			flags []string
			want  string
		}{
			{[]string{"--webhook", hook.URL}, "give TYPE:NAME=URL"},
			{[]string{"--webhook", "evals=" + hook.URL}, "give TYPE:NAME=URL"},
			{[]string{"--webhook", "post_rollout:evals=" + hook.URL}, `--webhook post_rollout:evals=` + hook.URL + `: webhook "evals": unknown type "post_rollout": use pre_rollout, confirm_promotion, stage`},
			{[]string{"--webhook", "pre_rollout:evals=evals.internal/run"}, "--webhook pre_rollout:evals=evals.internal/run: webhook \"evals\": "},
			{[]string{"--webhook", "pre_rollout:evals=" + hook.URL, "--webhook", "stage:evals=" + hook.URL}, `webhook "evals" is declared twice`},
			{[]string{"--webhook", "confirm_promotion:release=" + hook.URL}, "--webhook confirm_promotion:release=" + hook.URL + `: confirm_promotion webhook "release" would never be asked: a canary rollout without auto_promote`},
			{[]string{"--webhook", "pre_rollout:evals=" + hook.URL, "--webhook-timeout", "evals=2h"}, "(its --webhook-timeout): webhook \"evals\": timeout 2h0m0s is out of range"},
			{[]string{"--webhook", "pre_rollout:evals=" + hook.URL, "--webhook-timeout", "golden=1m"}, `no --webhook is named "golden"`},
			{[]string{"--webhook", "pre_rollout:evals=" + hook.URL, "--webhook-header", "evals:Authorization"}, "give NAME:Header=Value"},
		} {
			args := append([]string{"rollout", "start", "chat", "--to", "v1.2.0", "--strategy", "canary", "--reason", "try"}, c.flags...)
			_, errOut, code := run(t, cmd(args...)...)
			if code == 0 || !strings.Contains(errOut, c.want) {
				t.Errorf("%q: exit %d, %q; want refused with %q", c.flags, code, errOut, c.want)
			}
			if r := gw.Control.Registry().ActiveRollout("chat"); r != nil {
				t.Fatalf("%q: a refused start left rollout %s live", c.flags, r.ID)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(bodies) != 0 {
			t.Errorf("a refused start called the webhook %d times", len(bodies))
		}
	})

	start := func(t *testing.T) {
		t.Helper()
		args := cmd("rollout", "start", "chat", "--to", "v1.2.0", "--strategy", "canary", "--skip-warmup", "--reason", "evals first",
			"--webhook", "pre_rollout:golden-set="+hook.URL+"/run", "--webhook-timeout", "golden-set=5s",
			"--webhook-header", "golden-set:Authorization=Bearer evals-secret")
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			_, errOut, code := run(t, args...)
			if code == 0 {
				return
			}
			// The abort before drains the candidate in the background.
			if !strings.Contains(errOut, "is still being rolled back") || time.Now().After(deadline) {
				t.Fatalf("start: exit %d: %s", code, errOut)
			}
		}
	}
	wait := func(t *testing.T, ok func(*sluice.Rollout) bool) sluice.Rollout {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if r := gw.Control.Registry().Rollouts["chat"]; r != nil && ok(r) {
				return *r
			}
			if time.Now().After(deadline) {
				t.Fatalf("the rollout did not get there in 20s: %+v", gw.Control.Registry().Rollouts["chat"])
			}
		}
	}

	t.Run("PassGoesLive", func(t *testing.T) {
		start(t)
		r := wait(t, func(r *sluice.Rollout) bool { return r.Phase != sluice.PhaseWarming })
		if r.Phase != sluice.PhaseProgressing {
			t.Fatalf("phase %s (%s), want live after the pass", r.Phase, r.Decision)
		}
		if len(r.Spec.Webhooks) != 1 || r.Spec.Webhooks[0].Timeout.D() != 5*time.Second {
			t.Errorf("stored webhooks: %+v", r.Spec.Webhooks)
		}
		mu.Lock()
		if len(bodies) != 1 || bodies[0].Type != "pre_rollout" || bodies[0].Name != "golden-set" || bodies[0].CandidatePin != "chat:v1.2.0" || auths[0] != "Bearer evals-secret" {
			t.Errorf("calls: %+v, Authorization %q", bodies, auths)
		}
		mu.Unlock()
		out := mustRun(t, cmd("rollout", "status", "chat")...)
		for _, want := range []string{"Webhooks:  golden-set (pre_rollout)", "webhook golden-set (pre_rollout) passed: golden set 98%"} {
			if !strings.Contains(out, want) {
				t.Errorf("status lacks %q:\n%s", want, out)
			}
		}
		mustRun(t, cmd("rollout", "abort", "chat", "--reason", "next test")...)
	})

	t.Run("FailEndsFailed", func(t *testing.T) {
		mu.Lock()
		fail = true
		mu.Unlock()
		start(t)
		out, errOut, code := run(t, cmd("rollout", "watch", "chat")...)
		if code != 1 || !strings.Contains(out, "pre_rollout webhook golden-set failed: golden set 71%, below 90%") || !strings.Contains(errOut, "ended failed") {
			t.Errorf("watch: exit %d\n%s\n%s", code, out, errOut)
		}
		if got := gw.Control.Registry().Models["chat"].Policy.String(); got != "specific v1.1.0" {
			t.Errorf("policy after the failed webhook: %s", got)
		}
	})
}
