package sim

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

const minimal = `
traffic: {rate: 5}
baseline: {default: {error_rate: 0.01}}
candidate: {default: {error_rate: 0.02}}
`

func TestParseScenario(t *testing.T) {
	t.Run("Defaults", func(t *testing.T) {
		sc, err := ParseScenario([]byte(minimal))
		if err != nil {
			t.Fatal(err)
		}
		if sc.Rollout.Strategy != sluice.StrategyProgressive || sc.Traffic.Users != 10000 || sc.Duration.D() != 4*time.Hour ||
			len(sc.Traffic.Categories) != 1 || sc.Rollout.Model != modelName || sc.Rollout.Candidate != candidateTag {
			t.Errorf("defaults: %+v", sc)
		}
	})
	t.Run("Env", func(t *testing.T) {
		t.Setenv("SIM_RATE", "7")
		sc, err := ParseScenario([]byte(strings.Replace(minimal, "rate: 5", "rate: ${SIM_RATE}", 1)))
		if err != nil || sc.Traffic.Rate != 7 {
			t.Errorf("rate %v, err %v", sc, err)
		}
	})
	for name, tc := range map[string]struct{ doc, want string }{
		"ErrUnknownKey":      {minimal + "trafic: {}\n", "field trafic not found"},
		"ErrUnknownNested":   {strings.Replace(minimal, "error_rate: 0.01", "error_rat: 0.01", 1), "error_rat"},
		"ErrRate":            {strings.Replace(minimal, "rate: 5", "rate: 0", 1), "traffic.rate"},
		"ErrBehaviour":       {strings.Replace(minimal, "error_rate: 0.02", "error_rate: 2", 1), "candidate: default.error_rate"},
		"ErrStrategy":        {minimal + "rollout: {strategy: shadow}\n", "rollout.strategy"},
		"ErrCategoryWeights": {strings.Replace(minimal, "rate: 5}", "rate: 5, categories: {a: 0}}", 1), "traffic.categories"},
		"ErrInterval":        {minimal + "rollout: {analysis: {interval: 1500ms}}\n", "rollout.analysis.interval"},
		"ErrCancels":         {minimal + "cancels: {candidate_hang: 1.5}\n", "cancels.candidate_hang"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseScenario([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestLoadScenario_Set loads every scenario in the repository, so that a
// broken file fails the tests rather than the benchmark.
func TestLoadScenario_Set(t *testing.T) {
	paths, _ := filepath.Glob("scenarios/*.yaml")
	if len(paths) < 9 {
		t.Fatalf("%d scenarios, want the 7 of the issue, hangs and tool_calls_drop", len(paths))
	}
	bad := 0
	for _, p := range paths {
		sc, err := LoadScenario(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if sc.Name != strings.TrimSuffix(filepath.Base(p), ".yaml") {
			t.Errorf("%s: name %q", p, sc.Name)
		}
		if sc.Bad {
			bad++
		}
	}
	if bad != 11 {
		t.Errorf("%d bad scenarios, want 11 (p99_plus40_tails_guarded and the three payments ones among them)", bad)
	}
}

func TestParseScenario_ErrStages(t *testing.T) {
	_, err := ParseScenario([]byte(minimal + "rollout: {stages: [{percent: 10}, {percent: 5}]}\n"))
	if err == nil || !strings.Contains(err.Error(), "stage 2") {
		t.Errorf("err = %v, want it to name stage 2", err)
	}
}
