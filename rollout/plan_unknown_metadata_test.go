package rollout_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// TestMakePlan_UnknownMetadataSaysSo: two versions registered without
// family, base model or weight hash were planned as "another model family
// (unknown → unknown)", a claim nothing supports. The risk stays critical
// (nothing says the change is small), but the reason says the metadata is
// missing and which fields give a finer plan.
func TestMakePlan_UnknownMetadataSaysSo(t *testing.T) {
	reg := sluice.NewRegistry()
	reg.Versions["chat:v1"] = &sluice.Version{Model: "chat", Version: "v1"}
	reg.Versions["chat:v2"] = &sluice.Version{Model: "chat", Version: "v2"}
	reg.Versions["chat:v3"] = &sluice.Version{Model: "chat", Version: "v3", Family: "qwen"}
	reg.Versions["chat:v4"] = &sluice.Version{Model: "chat", Version: "v4", Family: "llama"}

	p := rollout.MakePlan(reg, "chat", "v2", "v1", 0)
	if p.Risk != rollout.RiskCritical {
		t.Errorf("risk %s, want critical", p.Risk)
	}
	if strings.Contains(p.Why, "another model family (") || !strings.Contains(p.Why, "base_model") {
		t.Errorf("why %q: want it to say the metadata is missing and to set base_model (or family, weight_hash)", p.Why)
	}
	if p := rollout.MakePlan(reg, "chat", "v4", "v3", 0); p.Why != "another model family (qwen → llama)" {
		t.Errorf("known families: why %q", p.Why)
	}
}
