package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestMannWhitneyU_Reference(t *testing.T) {
	// Hollander & Wolfe's permeability data, the example of R's
	// ?wilcox.test: x (baseline) and y (candidate).
	hwX := []float64{0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46}
	hwY := []float64{1.15, 0.88, 0.90, 0.74, 1.21}
	tests := []struct {
		name           string
		a, b           []float64
		wantU          float64
		wantP, wantPGt float64
		wantPLt        float64
		tol            float64
	}{
		{
			// R 4.2.2: wilcox.test(y, x, exact = FALSE) W = 15, p-value
			// 0.244623605126983; alternative = "greater" 0.900775348203994;
			// wilcox.test(x, y, exact = FALSE, alternative = "greater")
			// 0.122311802563492, which is our PLess.
			name: "HollanderWolfe", a: hwX, b: hwY, wantU: 15,
			wantP: 0.244623605126983, wantPGt: 0.900775348203994, wantPLt: 0.122311802563492, tol: 1e-12,
		},
		{
			// scipy documentation of mannwhitneyu: males [19, 22, 16, 29,
			// 24] against females [20, 11, 17, 12], method = "asymptotic":
			// statistic 17.0, pvalue 0.11134688653314041; scipy 1.10.1 with
			// alternative = "greater" gives 0.055673443266570206. Here the
			// males are the candidate.
			name: "ScipyDocs", a: []float64{20, 11, 17, 12}, b: []float64{19, 22, 16, 29, 24}, wantU: 17,
			wantP: 0.11134688653314041, wantPGt: 0.055673443266570206, tol: 1e-12,
		},
		{
			// R 4.2.2: wilcox.test(g2, g1, exact = FALSE) on the sleep
			// data, which has ties: W = 74.5, p 0.0693275754336266,
			// alternative = "greater" 0.0346637877168133.
			name: "SleepWithTies", a: sleepGroup1, b: sleepGroup2, wantU: 74.5,
			wantP: 0.0693275754336266, wantPGt: 0.0346637877168133, tol: 1e-12,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := MannWhitneyU(tt.a, tt.b)
			if !r.Valid {
				t.Fatal("Valid = false")
			}
			MustClose(t, "U", r.U, tt.wantU, 0)
			MustClose(t, "PValue", r.PValue, tt.wantP, tt.tol)
			MustClose(t, "PGreater", r.PGreater, tt.wantPGt, tt.tol)
			if tt.wantPLt != 0 {
				MustClose(t, "PLess", r.PLess, tt.wantPLt, tt.tol)
			}
			nm := float64(len(tt.a) * len(tt.b))
			MustClose(t, "CommonLanguage", r.CommonLanguage, tt.wantU/nm, 1e-15)
			MustClose(t, "RankBiserial", r.RankBiserial, 2*tt.wantU/nm-1, 1e-15)
		})
	}
}

func TestMannWhitneyU_Degenerate(t *testing.T) {
	tests := []struct {
		name      string
		a, b      []float64
		wantValid bool
		wantP     float64
	}{
		{"EmptyBaseline", nil, []float64{1, 2}, false, 1},
		{"EmptyCandidate", []float64{1, 2}, nil, false, 1},
		{"OnlyNaN", []float64{math.NaN()}, []float64{1}, false, 1},
		{"AllTied", []float64{3, 3, 3}, []float64{3, 3}, true, 1},
		{"OneEach", []float64{1}, []float64{2}, true, 1},
		{"Identical", []float64{1, 2, 3}, []float64{1, 2, 3}, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := MannWhitneyU(tt.a, tt.b)
			if r.Valid != tt.wantValid {
				t.Fatalf("Valid = %v, want %v", r.Valid, tt.wantValid)
			}
			MustClose(t, "PValue", r.PValue, tt.wantP, 1e-12)
			for name, v := range map[string]float64{"Z": r.Z, "PGreater": r.PGreater, "PLess": r.PLess, "U": r.U} {
				if math.IsNaN(v) {
					t.Errorf("%s is NaN", name)
				}
			}
		})
	}
	t.Run("InputsUntouched", func(t *testing.T) {
		a, b := []float64{3, 1, 2}, []float64{9, 7, 8}
		MannWhitneyU(a, b)
		if a[0] != 3 || b[0] != 9 {
			t.Error("MannWhitneyU sorted its arguments in place")
		}
	})
}

// TestMannWhitneyU_MatchesPairCount checks U against its definition, the
// count of pairs with b > a plus half the ties, on rounded random data with
// many ties.
func TestMannWhitneyU_MatchesPairCount(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []struct{ n, m int }{{1, 7}, {30, 45}, {200, 150}} {
		a, b := make([]float64, size.n), make([]float64, size.m)
		for i := range a {
			a[i] = math.Round(rng.NormFloat64() * 3)
		}
		for i := range b {
			b[i] = math.Round(rng.NormFloat64()*3 + 0.5)
		}
		var want float64
		for _, x := range a {
			for _, y := range b {
				switch {
				case y > x:
					want++
				case y == x:
					want += 0.5
				}
			}
		}
		MustClose(t, "U", MannWhitneyU(a, b).U, want, 0)
	}
}

func BenchmarkMannWhitneyU_10kx10k(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	x, y := make([]float64, 10_000), make([]float64, 10_000)
	for i := range x {
		x[i] = math.Round(rng.ExpFloat64() * 200) // millisecond latencies, with ties
		y[i] = math.Round(rng.ExpFloat64() * 210)
	}
	b.ReportAllocs()
	for b.Loop() {
		MannWhitneyU(x, y)
	}
}
