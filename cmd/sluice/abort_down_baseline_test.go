package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// TestCLI_AbortOntoADownBaseline: an operator aborts a canary while the
// baseline's backends fail their health checks. The abort still happens
// (the candidate is what they judged bad), but the CLI warns that requests
// now fail and where to look, and the rollout's timeline keeps the warning
// for rollout status and the dashboard.
func TestCLI_AbortOntoADownBaseline(t *testing.T) {
	gw, _, g, base, _ := rolloutGatewayBackends(t, fakellm.Behavior{}, fakellm.Behavior{}, func(c *config.Gateway) {
		c.Health.Interval = 100 * time.Millisecond
		c.Health.Timeout = 500 * time.Millisecond
	})
	mustRun(t, append([]string{"rollout", "start", "chat", "--to", "v1.2.0", "--strategy", "canary", "--reason", "try"}, g...)...)
	deadline := time.Now().Add(60 * time.Second)
	for gw.Control.Registry().Rollouts["chat"].Phase != "progressing" {
		if time.Now().After(deadline) {
			t.Fatalf("the canary never went live: %s", gw.Control.Registry().Rollouts["chat"].Phase)
		}
		time.Sleep(20 * time.Millisecond)
	}

	base.SetHealthy(false) // the baseline's backend fails its health checks
	for gw.OutOfService("chat:v1.1.0") == "" {
		if time.Now().After(deadline) {
			t.Fatal("the baseline was never marked down")
		}
		time.Sleep(20 * time.Millisecond)
	}

	out, errOut, code := run(t, append([]string{"rollout", "abort", "chat", "--reason", "bad answers"}, g...)...)
	if code != 0 || !strings.Contains(out, "aborted") {
		t.Fatalf("abort: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	want := "WARNING: traffic went back to chat:v1.1.0, which is failing health checks: requests for chat fail until its backends recover or the routing is set by hand; sluice get routes shows their health"
	if !strings.Contains(errOut, want) {
		t.Errorf("stderr %q, want %q", errOut, want)
	}
	status := mustRun(t, append([]string{"rollout", "status", "chat"}, g...)...)
	if !strings.Contains(status, "traffic went back to chat:v1.1.0, which is failing health checks") {
		t.Errorf("rollout status does not show the warning:\n%s", status)
	}
	routes := mustRun(t, append([]string{"get", "routes"}, g...)...)
	if !strings.Contains(routes, "UNHEALTHY") {
		t.Errorf("get routes does not show the baseline down, as the warning says:\n%s", routes)
	}
}

// TestCLI_AbortOntoADownBaselineNamesAWayOut: as above, with the previous
// production (v1.0.0, deprecated) registered and healthy: the warning
// names it and the commands that route to it, nothing is routed there by
// itself, and the commands as printed (their --reason filled in) put
// chat's traffic, and its stable label, on it: a client's request through
// the OpenAI SDK is answered again.
func TestCLI_AbortOntoADownBaselineNamesAWayOut(t *testing.T) {
	gw, _, g, base, _ := rolloutGatewayBackends(t, fakellm.Behavior{}, fakellm.Behavior{}, func(c *config.Gateway) {
		c.Health.Interval = 100 * time.Millisecond
		c.Health.Timeout = 500 * time.Millisecond
	})
	prev := reviewBackend(t, fakellm.Behavior{})
	if _, err := gw.Control.Do(context.Background(), "test", "the previous production", func(e *sluice.Edit) error {
		_, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: "v1.0.0", Endpoints: []string{prev.URL()}, UpstreamModel: "ft-0", Stage: sluice.StageDeprecated})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	mustRun(t, append([]string{"rollout", "start", "chat", "--to", "v1.2.0", "--strategy", "canary", "--reason", "try"}, g...)...)
	deadline := time.Now().Add(60 * time.Second)
	for gw.Control.Registry().Rollouts["chat"].Phase != "progressing" {
		if time.Now().After(deadline) {
			t.Fatalf("the canary never went live: %s", gw.Control.Registry().Rollouts["chat"].Phase)
		}
		time.Sleep(20 * time.Millisecond)
	}
	base.SetHealthy(false)
	for gw.OutOfService("chat:v1.1.0") == "" || gw.OutOfService("chat:v1.0.0") != "" {
		if time.Now().After(deadline) {
			t.Fatal("the baseline was never marked down (or the previous production was)")
		}
		time.Sleep(20 * time.Millisecond)
	}

	_, errOut, code := run(t, append([]string{"rollout", "abort", "chat", "--reason", "bad answers"}, g...)...)
	if code != 0 {
		t.Fatalf("abort: exit %d\nstderr: %s", code, errOut)
	}
	setSplit := `sluice set split chat v1.0.0=100 --reason "…"`
	label := `sluice label chat stable=v1.0.0 --reason "…"`
	want := `chat:v1.0.0 (deprecated) is in service: to send chat's traffic there, ` + setSplit + " and " + label
	if !strings.Contains(errOut, want) {
		t.Fatalf("stderr %q\nwant %q", errOut, want)
	}
	if m := gw.Control.Registry().Models["chat"]; m.Policy.Version != "v1.1.0" {
		t.Errorf("policy %s after the abort: want the routing from before (v1.1.0), nothing routed automatically", m.Policy)
	}

	for _, cmd := range []string{setSplit, label} {
		args := strings.Fields(strings.TrimPrefix(strings.Replace(cmd, `"…"`, "incident", 1), "sluice "))
		mustRun(t, append(args, g...)...)
	}
	if m := gw.Control.Registry().Models["chat"]; m.Labels["stable"] != "v1.0.0" {
		t.Errorf("stable label %q after the suggested command, want v1.0.0", m.Labels["stable"])
	}
	sdk := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
	for _, model := range []string{"chat", "chat@stable"} {
		resp, err := sdk.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: model,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
		if err != nil {
			t.Fatalf("%s after the suggested commands: %v", model, err)
		}
		if resp.Model != "ft-0" {
			t.Errorf("%s answered by %q, want ft-0 (v1.0.0)", model, resp.Model)
		}
	}
}
