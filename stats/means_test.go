package stats

import (
	"math"
	"testing"
)

func TestWelchT_Reference(t *testing.T) {
	// R 4.2.2: t.test(g2, g1) on the sleep data (Welch is t.test's
	// default): t = 1.86081346748685, df = 17.7764735161785, p-value =
	// 0.0793941401873582, 95% CI -0.20548323071171 to 3.36548323071171;
	// alternative = "greater" 0.0396970700936791. The classic printout of
	// t.test(extra ~ group, data = sleep) shows the same numbers with the
	// sign flipped: t = -1.8608, df = 17.776, p-value = 0.07939.
	r := WelchT(Summarize(sleepGroup1), Summarize(sleepGroup2), 0.05)
	if !r.Valid {
		t.Fatal("Valid = false")
	}
	MustClose(t, "Diff", r.Diff, 1.58, 1e-12)
	MustClose(t, "T", r.T, 1.86081346748685, 1e-12)
	MustClose(t, "DF", r.DF, 17.7764735161785, 1e-12)
	MustClose(t, "PValue", r.PValue, 0.0793941401873582, 1e-9)
	MustClose(t, "PGreater", r.PGreater, 0.0396970700936791, 1e-9)
	MustClose(t, "PLess", r.PLess, 1-0.0396970700936791, 1e-9)
	MustClose(t, "CI.Lo", r.CI.Lo, -0.20548323071171, 1e-9)
	MustClose(t, "CI.Hi", r.CI.Hi, 3.36548323071171, 1e-9)

	t.Run("Swapped", func(t *testing.T) {
		s := WelchT(Summarize(sleepGroup2), Summarize(sleepGroup1), 0)
		MustClose(t, "T", s.T, -1.86081346748685, 1e-12)
		MustClose(t, "PValue", s.PValue, 0.0793941401873582, 1e-9)
		MustClose(t, "PLess", s.PLess, 0.0396970700936791, 1e-9)
	})
}

func TestWelchT_Degenerate(t *testing.T) {
	tests := []struct {
		name string
		a, b Summary
	}{
		{"Empty", Summary{}, Summarize(sleepGroup1)},
		{"OneObservation", Summarize([]float64{1}), Summarize(sleepGroup1)},
		{"NoVariance", Summarize([]float64{2, 2, 2}), Summarize([]float64{3, 3})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := WelchT(tt.a, tt.b, 0.05)
			if r.Valid || r.PValue != 1 || r.PGreater != 1 || r.CI != unbounded {
				t.Errorf("WelchT = %+v, want invalid with p 1 and an unbounded CI", r)
			}
		})
	}
}

func TestCohensD_Reference(t *testing.T) {
	// Sleep data, computed in R 4.2.2 from the definitions:
	// d = (mean(g2) − mean(g1)) / sqrt((9 var(g1) + 9 var(g2)) / 18)
	//   = 0.83218108134954;
	// Hedges' exact J(18) = gamma(9) / (sqrt(9) gamma(8.5)) =
	// 0.957646427023718, g = 0.796935239191121, close to the common
	// approximation d·(1 − 3/(4·20 − 9)) = 0.797018500447446.
	a, b := Summarize(sleepGroup1), Summarize(sleepGroup2)
	MustClose(t, "CohensD", CohensD(a, b), 0.83218108134954, 1e-12)
	MustClose(t, "HedgesG", HedgesG(a, b), 0.796935239191121, 1e-12)
	MustClose(t, "HedgesG≈", HedgesG(a, b), 0.797018500447446, 1e-4)
	MustClose(t, "CohensD swapped", CohensD(b, a), -0.83218108134954, 1e-12)

	t.Run("Degenerate", func(t *testing.T) {
		for _, pair := range [][2]Summary{
			{{}, b},
			{Summarize([]float64{1, 1}), Summarize([]float64{1, 1})},
		} {
			if d, g := CohensD(pair[0], pair[1]), HedgesG(pair[0], pair[1]); d != 0 || g != 0 || math.IsNaN(d) {
				t.Errorf("CohensD, HedgesG = %v, %v; want 0, 0", d, g)
			}
		}
	})
}
