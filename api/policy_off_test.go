package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/route"
)

// TestTakeModelOutOfService: policy off is the deliberate way to stop
// serving a model. Its bare name then answers 503 saying so (rules
// included), versions stay reachable by pin until retired, every version may
// then be retired, and rollouts and drills are refused with what to do.
func TestTakeModelOutOfService(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustRegister(t, version("v1.0.0", sluice.StageProduction), version("v1.1.0", sluice.StageStaging))
	if _, err := e.Oper.SetLabels(ctx, "chat", map[string]string{"stable": "v1.0.0"}, "label"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Oper.SetPolicy(ctx, "chat", sluice.Policy{Kind: "of"}, "typo"); err == nil || !strings.Contains(err.Error(), "split or off") {
		t.Fatalf("unknown kind: %v", err)
	}
	if _, err := e.Oper.SetPolicy(ctx, "chat", sluice.Policy{Kind: sluice.PolicyOff, Version: "v1.0.0"}, "bad"); err == nil {
		t.Fatal("policy off with a version was accepted")
	}
	if _, err := e.Oper.SetPolicy(ctx, "chat", sluice.Policy{Kind: sluice.PolicyOff}, "incident 42: answers leak PII"); err != nil {
		t.Fatal(err)
	}
	reg := e.Ctl.Registry()
	if got := reg.ServingVersions("chat"); len(got) != 0 {
		t.Errorf("serving %v under policy off", got)
	}
	if got := reg.Models["chat"].Policy.String(); got != "off (out of service)" {
		t.Errorf("policy text %q", got)
	}

	reg = reg.Clone()
	reg.Models["chat"].Rules = []sluice.Rule{{Header: "X-Segment", Values: []string{"beta"}, Version: "v1.0.0"}}
	tab := route.Build(reg, nil, route.Options{})
	for _, r := range []*route.Request{{Model: "chat"}, {Model: "chat", Header: map[string][]string{"X-Segment": {"beta"}}}} {
		_, err := tab.Decide(r)
		if sluice.ErrorCode(err) != sluice.CodeUnavailable || !strings.Contains(err.Error(), "model chat is out of service") {
			t.Errorf("bare name under policy off: %v", err)
		}
	}
	if d, err := tab.Decide(&route.Request{Model: "chat:v1.0.0"}); err != nil || d.Target.ID != "chat:v1.0.0" {
		t.Errorf("pin under policy off: %+v %v", d, err)
	}

	_, err := e.Oper.StartRollout(ctx, sluice.RolloutSpec{Model: "chat", Candidate: "v1.1.0"}, "ship")
	wantErr(t, err, sluice.CodeInvalid, nil, "out of service")
	_, err = e.Oper.Drill(ctx, "chat", "v1.1.0", 5, "drill")
	wantErr(t, err, sluice.CodeInvalid, nil, "out of service")

	if _, err := e.Oper.SetLabels(ctx, "chat", map[string]string{"stable": ""}, "unlabel"); err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"chat:v1.0.0", "chat:v1.1.0"} {
		if _, err := e.Oper.SetStage(ctx, tag, sluice.StageRetired, time.Time{}, "gone for good"); err != nil {
			t.Fatalf("retire %s under policy off: %v", tag, err)
		}
	}
	// Back in service only with a version to serve.
	_, err = e.Oper.SetPolicy(ctx, "chat", sluice.Policy{Kind: sluice.PolicyLatest}, "back")
	wantErr(t, err, sluice.CodeInvalid, nil, "would still serve nothing")
}
