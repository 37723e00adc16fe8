package stats

import (
	"math"
	"testing"
)

func TestQuantile_Type7(t *testing.T) {
	oneToTen := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	// Expected values: R 4.2.2, quantile(1:10, c(0, .1, .25, .5, .9, .99, 1), type = 7)
	// and quantile(c(3.1, -2, 7.5, 0.25), c(.3, .75), type = 7); numpy's
	// default "linear" method gives the same.
	tests := []struct {
		name   string
		sorted []float64
		q      float64
		want   float64
	}{
		{"Min", oneToTen, 0, 1},
		{"P10", oneToTen, 0.1, 1.9},
		{"P25", oneToTen, 0.25, 3.25},
		{"Median", oneToTen, 0.5, 5.5},
		{"P90", oneToTen, 0.9, 9.1},
		{"P99", oneToTen, 0.99, 9.91},
		{"Max", oneToTen, 1, 10},
		{"Unsorted4P30", []float64{-2, 0.25, 3.1, 7.5}, 0.3, 0.025},
		{"Unsorted4P75", []float64{-2, 0.25, 3.1, 7.5}, 0.75, 4.2},
		{"Single", []float64{42}, 0.99, 42},
		{"ClampBelow", oneToTen, -0.5, 1},
		{"ClampAbove", oneToTen, 1.5, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			MustClose(t, "Quantile", Quantile(tt.sorted, tt.q), tt.want, 1e-12)
		})
	}
	t.Run("Empty", func(t *testing.T) {
		if got := Quantile(nil, 0.5); !math.IsNaN(got) {
			t.Errorf("Quantile(nil) = %v, want NaN", got)
		}
	})
}

func TestQuantiles_Unsorted(t *testing.T) {
	got := Quantiles([]float64{10, 1, math.NaN(), 5, 3}, 0, 0.5, 1)
	want := []float64{1, 4, 10}
	for i := range want {
		MustClose(t, "Quantiles", got[i], want[i], 1e-12)
	}
}

func TestSummarize_Moments(t *testing.T) {
	// Expected values for the sleep data: R mean(g1) = 0.75, var(g1) =
	// 3.20055555555556; mean(g2) = 2.33, var(g2) = 4.009.
	tests := []struct {
		name     string
		x        []float64
		wantN    int
		wantMean float64
		wantVar  float64
	}{
		{"SleepGroup1", sleepGroup1, 10, 0.75, 3.20055555555556},
		{"SleepGroup2", sleepGroup2, 10, 2.33, 4.009},
		{"NaNSkipped", []float64{1, math.NaN(), 3}, 2, 2, 2},
		{"Single", []float64{5}, 1, 5, 0},
		{"Empty", nil, 0, 0, 0},
		// A large offset would ruin the naive sum-of-squares formula.
		{"LargeOffset", []float64{1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16}, 4, 1e9 + 10, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Summarize(tt.x)
			if s.N != tt.wantN {
				t.Fatalf("N = %d, want %d", s.N, tt.wantN)
			}
			MustClose(t, "Mean", s.Mean, tt.wantMean, 1e-12)
			MustClose(t, "Variance", s.Variance, tt.wantVar, 1e-9)
			// The slice helpers propagate NaN, as gonum's do.
			if tt.wantN >= 2 && tt.wantN == len(tt.x) {
				MustClose(t, "Variance()", Variance(tt.x), tt.wantVar, 1e-9)
				MustClose(t, "StdDev()", StdDev(tt.x), math.Sqrt(tt.wantVar), 1e-9)
				MustClose(t, "Mean()", Mean(tt.x), tt.wantMean, 1e-12)
			}
		})
	}
	t.Run("EmptyHelpersNaN", func(t *testing.T) {
		if !math.IsNaN(Mean(nil)) || !math.IsNaN(Variance([]float64{1})) {
			t.Error("Mean(nil) and Variance of one value must be NaN")
		}
	})
}

func TestSummaryFromMoments_MatchesSummarize(t *testing.T) {
	var sum, sumSq float64
	for _, v := range sleepGroup2 {
		sum += v
		sumSq += v * v
	}
	got := SummaryFromMoments(len(sleepGroup2), sum, sumSq)
	want := Summarize(sleepGroup2)
	if got.N != want.N {
		t.Fatalf("N = %d, want %d", got.N, want.N)
	}
	MustClose(t, "Mean", got.Mean, want.Mean, 1e-12)
	MustClose(t, "Variance", got.Variance, want.Variance, 1e-9)
	MustClose(t, "StdDev", got.StdDev(), math.Sqrt(want.Variance), 1e-9)
	t.Run("Empty", func(t *testing.T) {
		if (SummaryFromMoments(0, 1, 1) != Summary{}) {
			t.Error("n = 0 must give the zero Summary")
		}
	})
	t.Run("RoundingClamped", func(t *testing.T) {
		// Three equal values whose sum of squares rounds below sum²/n.
		s := SummaryFromMoments(3, 0.3, 0.03-1e-18)
		if s.Variance < 0 {
			t.Errorf("Variance = %v, want ≥ 0", s.Variance)
		}
	})
}

func TestProportionSummary_Bernoulli(t *testing.T) {
	// 3 ones in 10: the sample variance of {1,1,1,0,...,0} is 0.3·0.7·10/9.
	s := ProportionSummary(3, 10)
	MustClose(t, "Mean", s.Mean, 0.3, 1e-15)
	MustClose(t, "Variance", s.Variance, Variance([]float64{1, 1, 1, 0, 0, 0, 0, 0, 0, 0}), 1e-12)
	t.Run("Invalid", func(t *testing.T) {
		if (ProportionSummary(11, 10) != Summary{}) || (ProportionSummary(0, 0) != Summary{}) {
			t.Error("impossible counts must give the zero Summary")
		}
	})
}

func TestInterval_Contains(t *testing.T) {
	iv := Interval{Lo: -1, Hi: 2}
	tests := []struct {
		name string
		x    float64
		want bool
	}{
		{"Inside", 0, true}, {"LoEnd", -1, true}, {"HiEnd", 2, true},
		{"Below", -1.5, false}, {"Above", 3, false}, {"NaN", math.NaN(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := iv.Contains(tt.x); got != tt.want {
				t.Errorf("Contains(%v) = %v, want %v", tt.x, got, tt.want)
			}
		})
	}
	MustClose(t, "Width", iv.Width(), 3, 0)
}
