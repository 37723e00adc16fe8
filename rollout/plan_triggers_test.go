package rollout_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// TestMakePlan_TriggersNameEveryMetric: the plan's rollback triggers are
// what the analysis judges by default. They left out the cancel rate, the
// prefix-cache miss rate and the tool-call rate, which roll a candidate
// back all the same (found by following the README as a newcomer).
func TestMakePlan_TriggersNameEveryMetric(t *testing.T) {
	reg := sluice.NewRegistry()
	reg.Versions["chat:v1"] = &sluice.Version{Model: "chat", Version: "v1", Family: "llama", BaseModel: "llama-3-8b"}
	reg.Versions["chat:v2"] = &sluice.Version{Model: "chat", Version: "v2", Family: "llama", BaseModel: "llama-3-8b"}
	p := rollout.MakePlan(reg, "chat", "v2", "v1", 0)
	all := strings.Join(p.Triggers, "\n")
	for _, want := range []string{
		"error rate +50% relative (and at least +0.5 points) vs v1",
		"cancel rate (clients giving up) +50% relative (and at least +1 point)",
		"refusal rate +50% relative (and at least +1 point)",
		"time to first token +20%",
		"output tokens or response length ±50%",
		"quality score −0.05",
		"prefix-cache miss rate +25% relative (and at least +5 points)",
		"tool-call rate ±20% of its rarer outcome (and at least ±5 points)",
		"for 2 consecutive analyses",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("plan triggers lack %q:\n%s", want, all)
		}
	}
}
