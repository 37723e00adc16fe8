package sluice_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestRegistry_ValidateModel_SplitPrecision: a split is kept in hundredths
// of a percent, and a finer weight was meant to be refused as such. The
// check never fired, so 87.655 and 12.345, which add up to 100, were each
// rounded and refused as "split weights sum to 100.01", sending the user
// to fix a sum that was right. Two decimals of any size still pass.
func TestRegistry_ValidateModel_SplitPrecision(t *testing.T) {
	check := func(weights ...sluice.Weight) error {
		reg := sluice.NewRegistry()
		reg.Models["chat"] = &sluice.Model{Name: "chat", Policy: sluice.Policy{Kind: sluice.PolicySplit, Split: weights}}
		for _, w := range weights {
			reg.Versions["chat:"+w.Version] = &sluice.Version{Model: "chat", Version: w.Version, Stage: sluice.StageProduction}
		}
		return reg.ValidateModel("chat")
	}
	t.Run("ErrFinerThanHundredths", func(t *testing.T) {
		for _, ws := range [][]sluice.Weight{
			{{Version: "v1", Percent: 87.655}, {Version: "v2", Percent: 12.345}},
			{{Version: "v1", Percent: 99.995}, {Version: "v2", Percent: 0.005}},
		} {
			err := check(ws...)
			if err == nil || !strings.Contains(err.Error(), "finer than 0.01%") || strings.Contains(err.Error(), "sum to") {
				t.Errorf("split %v: err %v, want it refused as finer than 0.01%%", ws, err)
			}
		}
	})
	t.Run("OK", func(t *testing.T) {
		for _, ws := range [][]sluice.Weight{
			{{Version: "v1", Percent: 87.5}, {Version: "v2", Percent: 12.5}},
			{{Version: "v1", Percent: 99.99}, {Version: "v2", Percent: 0.01}},
			{{Version: "v1", Percent: 99.93}, {Version: "v2", Percent: 0.07}},
			{{Version: "v1", Percent: 33.33}, {Version: "v2", Percent: 33.33}, {Version: "v3", Percent: 33.34}},
			{{Version: "v1", Percent: 100}, {Version: "v2", Percent: 0}},
		} {
			if err := check(ws...); err != nil {
				t.Errorf("split %v refused: %v", ws, err)
			}
		}
	})
}
