package rollout

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// populated returns a rollout with every kind of field set: stages,
// Prometheus gates with pointer limits, the categories switch, labels, a
// last verdict and events with data.
func populated(t *testing.T) sluice.Rollout {
	t.Helper()
	on, limit := true, 0.5
	spec := sluice.RolloutSpec{Strategy: sluice.StrategyProgressive, Stages: []sluice.RolloutStage{{Percent: 5}, {Percent: 50}}}
	spec.Analysis.Categories = &on
	spec.Analysis.Prometheus = []sluice.PromGate{{Name: "gpu", Query: "up", Max: &limit}}
	r := mustStart(t, spec)
	r, _ = must(t, r, t0, Event{Kind: EvWarmed})
	fail := verdict(sluice.OutcomeFail, 500, 100)
	fail.Metrics = []sluice.MetricVerdict{{Metric: "error_rate", Category: "chat", PValue: 0.01}}
	r, _ = must(t, r, t0.Add(10*time.Second), Event{Kind: EvAnalysis, Verdict: fail, StageSamples: 100})
	r, _ = must(t, r, t0.Add(20*time.Second), Event{Kind: EvAnalysis, Verdict: verdict(sluice.OutcomePass, 600, 120), StageSamples: 120})
	if len(r.Events) < 4 || len(r.LastVerdict) == 0 || len(r.PreviousLabels) == 0 {
		t.Fatalf("not populated: %d events, verdict %q, labels %v", len(r.Events), r.LastVerdict, r.PreviousLabels)
	}
	return r
}

func TestRollout_Clone(t *testing.T) {
	r := populated(t)
	c := r.Clone()
	t.Run("Equal", func(t *testing.T) {
		if !reflect.DeepEqual(c, r) {
			t.Fatalf("copy differs:\n%+v\n%+v", c, r)
		}
	})
	t.Run("SameAsJSONClone", func(t *testing.T) {
		// The copy is what a round trip through JSON (the store) gives.
		b, _ := json.Marshal(r)
		var viaJSON sluice.Rollout
		if err := json.Unmarshal(b, &viaJSON); err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(c)
		want, _ := json.Marshal(viaJSON)
		if string(got) != string(want) {
			t.Fatalf("copy as JSON:\n%s\nround trip through JSON:\n%s", got, want)
		}
		for i := range c.Events {
			if !c.Events[i].At.Equal(viaJSON.Events[i].At) || c.Events[i].At != viaJSON.Events[i].At {
				t.Errorf("event %d time %#v, through JSON %#v", i, c.Events[i].At, viaJSON.Events[i].At)
			}
		}
	})
	t.Run("SharesNothing", func(t *testing.T) {
		// Walks both values together, so a field added to the rollout later
		// is checked too.
		var walk func(path string, a, b reflect.Value)
		walk = func(path string, a, b reflect.Value) {
			switch a.Kind() {
			case reflect.Pointer, reflect.Map:
				if a.IsNil() {
					return
				}
				if a.Pointer() == b.Pointer() {
					t.Errorf("%s is shared", path)
				}
				if a.Kind() == reflect.Pointer {
					walk(path, a.Elem(), b.Elem())
				} else {
					for _, k := range a.MapKeys() {
						walk(path+"["+k.String()+"]", a.MapIndex(k), b.MapIndex(k))
					}
				}
			case reflect.Slice:
				if a.Len() == 0 {
					return
				}
				if a.Pointer() == b.Pointer() {
					t.Errorf("%s is shared", path)
				}
				for i := range a.Len() {
					walk(path+"[]", a.Index(i), b.Index(i))
				}
			case reflect.Struct:
				for i := range a.NumField() {
					if a.Type().Field(i).IsExported() {
						walk(path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i))
					}
				}
			}
		}
		walk("Rollout", reflect.ValueOf(r), reflect.ValueOf(c))
	})
	t.Run("NextLeavesItsInputAlone", func(t *testing.T) {
		before := r.Clone()
		next, _ := must(t, r, t0.Add(30*time.Second), Event{Kind: EvAnalysis, Verdict: verdict(sluice.OutcomeFail, 700, 130), StageSamples: 130})
		next.Spec.Stages[0].Percent = 99
		next.PreviousLabels["stable"] = "v9"
		*next.Spec.Analysis.Prometheus[0].Max = 9
		if !reflect.DeepEqual(r, before) {
			t.Fatalf("Next or a change to its result changed its input")
		}
	})
}
