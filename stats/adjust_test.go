package stats

import (
	"math"
	"testing"
)

func TestHolm_Reference(t *testing.T) {
	// Expected values: R 4.2.2, p.adjust(p, "holm" | "bonferroni" | "BH")
	// for p = c(0.01, 0.04, 0.03, 0.005, 0.5).
	p := []float64{0.01, 0.04, 0.03, 0.005, 0.5}
	tests := []struct {
		name   string
		adjust func([]float64) []float64
		want   []float64
	}{
		{"Holm", Holm, []float64{0.040, 0.090, 0.090, 0.025, 0.500}},
		{"Bonferroni", Bonferroni, []float64{0.050, 0.200, 0.150, 0.025, 1.000}},
		{"BenjaminiHochberg", BenjaminiHochberg, []float64{0.025, 0.050, 0.050, 0.025, 0.500}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.adjust(p)
			if len(got) != len(tt.want) {
				t.Fatalf("len = %d, want %d", len(got), len(tt.want))
			}
			for i := range got {
				MustClose(t, "adjusted", got[i], tt.want[i], 1e-12)
			}
			if p[0] != 0.01 {
				t.Error("input modified")
			}
		})
	}
}

func TestHolm_EdgeCases(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want []float64
	}{
		{"Empty", nil, []float64{}},
		{"Single", []float64{0.03}, []float64{0.03}},
		{"Ties", []float64{0.02, 0.02}, []float64{0.04, 0.04}},
		// NaN is read as 1 and out-of-range values are clamped; R's
		// p.adjust(c(0.01, 1, 0), "holm") = 0.02 1.00 0.00.
		{"NaNAndClamp", []float64{0.01, math.NaN(), -0.5}, []float64{0.02, 1, 0}},
		{"CappedAtOne", []float64{0.6, 0.7}, []float64{1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Holm(tt.in)
			if len(got) != len(tt.want) {
				t.Fatalf("len = %d, want %d", len(got), len(tt.want))
			}
			for i := range got {
				MustClose(t, "Holm", got[i], tt.want[i], 1e-12)
			}
		})
	}
}
