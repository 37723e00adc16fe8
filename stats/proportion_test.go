package stats

import (
	"math"
	"testing"
)

func TestTwoProportion_Reference(t *testing.T) {
	// Baseline is the first count pair, candidate the second; every value
	// is candidate minus baseline.
	//
	// Z², PValue and Wald: R 4.2.2, prop.test(c(x2, x1), c(n2, n1),
	// correct = FALSE): X-squared, p.value, conf.int; PGreater with
	// alternative = "greater". For 56/70 vs 48/80, Wald and Newcombe are
	// Newcombe (1998, Statistics in Medicine 17:873, Table II, example (a),
	// methods 1 and 10): 0.0575 to 0.3425 and 0.0524 to 0.3339.
	tests := []struct {
		name               string
		x1, n1, x2, n2     int
		wantZ2, wantP      float64
		wantPGreater       float64
		wantWald, wantNewc Interval
		tol                float64
	}{
		{
			name: "Newcombe(a)", x1: 48, n1: 80, x2: 56, n2: 70,
			wantZ2: 7.02341137123746, wantP: 0.00804508136819656, wantPGreater: 0.00402254068409829,
			wantWald: Interval{0.0575048991490372, 0.342495100850963},
			wantNewc: Interval{0.0524, 0.3339}, tol: 1e-12,
		},
		{
			name: "ErrorRate15vs30", x1: 15, n1: 200, x2: 30, n2: 200,
			wantZ2: 5.63380281690141, wantP: 0.0176173722345189, wantPGreater: 0.00880868611725942,
			wantWald: Interval{0.0135066180258332, 0.136493381974167}, tol: 1e-12,
		},
		{
			name: "CandidateLower", x1: 56, n1: 70, x2: 48, n2: 80,
			// prop.test(c(48, 56), c(80, 70), correct = FALSE, alternative = "greater")
			wantZ2: 7.02341137123746, wantP: 0.00804508136819656, wantPGreater: 0.995977459315902,
			wantWald: Interval{-0.342495100850963, -0.0575048991490372},
			wantNewc: Interval{-0.3339, -0.0524}, tol: 1e-12,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := TwoProportion(tt.x1, tt.n1, tt.x2, tt.n2, 0.05)
			if !r.Valid {
				t.Fatal("Valid = false")
			}
			MustClose(t, "Z²", r.Z*r.Z, tt.wantZ2, tt.tol)
			MustClose(t, "PValue", r.PValue, tt.wantP, 1e-10)
			MustClose(t, "PGreater", r.PGreater, tt.wantPGreater, 1e-10)
			MustClose(t, "PLess", r.PLess, 1-tt.wantPGreater, 1e-10)
			MustClose(t, "Wald.Lo", r.Wald.Lo, tt.wantWald.Lo, 1e-10)
			MustClose(t, "Wald.Hi", r.Wald.Hi, tt.wantWald.Hi, 1e-10)
			if tt.wantNewc != (Interval{}) {
				MustClose(t, "Newcombe.Lo", r.Newcombe.Lo, tt.wantNewc.Lo, 5e-5)
				MustClose(t, "Newcombe.Hi", r.Newcombe.Hi, tt.wantNewc.Hi, 5e-5)
			}
			MustClose(t, "Diff", r.Diff, r.CandidateRate-r.BaselineRate, 0)
			MustClose(t, "RelativeChange", r.RelativeChange, r.Diff/r.BaselineRate, 1e-15)
		})
	}
}

func TestTwoProportion_NewcombeTable(t *testing.T) {
	// Newcombe (1998), Table II, method 10 (hybrid score), to the four
	// decimals printed there; the paper's difference is first minus second,
	// so the first pair is our candidate.
	tests := []struct {
		name           string
		cand, candN    int
		base, baseN    int
		wantLo, wantHi float64
	}{
		{"(b)9of10vs3of10", 9, 10, 3, 10, 0.1705, 0.8090},
		{"(d)5of56vs0of29", 5, 56, 0, 29, -0.0381, 0.1926},
		{"(e)0of10vs0of20", 0, 10, 0, 20, -0.1611, 0.2775},
		{"(f)0of10vs0of10", 0, 10, 0, 10, -0.2775, 0.2775},
		{"(g)10of10vs0of20", 10, 10, 0, 20, 0.6791, 1.0000},
		{"(h)10of10vs0of10", 10, 10, 0, 10, 0.6075, 1.0000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := TwoProportion(tt.base, tt.baseN, tt.cand, tt.candN, 0.05)
			MustClose(t, "Newcombe.Lo", r.Newcombe.Lo, tt.wantLo, 5e-5)
			MustClose(t, "Newcombe.Hi", r.Newcombe.Hi, tt.wantHi, 5e-5)
		})
	}
}

func TestTwoProportion_Degenerate(t *testing.T) {
	tests := []struct {
		name           string
		x1, n1, x2, n2 int
		wantValid      bool
	}{
		{"NoBaselineTrials", 0, 0, 3, 10, false},
		{"NoCandidateTrials", 3, 10, 0, 0, false},
		{"MoreEventsThanTrials", 11, 10, 3, 10, false},
		{"NegativeEvents", -1, 10, 3, 10, false},
		{"NoEventsAnywhere", 0, 500, 0, 20, true},
		{"AllEventsEverywhere", 20, 20, 7, 7, true},
		{"BaselineZeroRate", 0, 100, 3, 100, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := TwoProportion(tt.x1, tt.n1, tt.x2, tt.n2, 0)
			if r.Valid != tt.wantValid {
				t.Fatalf("Valid = %v, want %v", r.Valid, tt.wantValid)
			}
			for name, v := range map[string]float64{
				"Z": r.Z, "PValue": r.PValue, "PGreater": r.PGreater, "PLess": r.PLess,
				"RelativeChange": r.RelativeChange, "Diff": r.Diff,
				"Wald.Lo": r.Wald.Lo, "Wald.Hi": r.Wald.Hi,
				"Newcombe.Lo": r.Newcombe.Lo, "Newcombe.Hi": r.Newcombe.Hi,
			} {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Errorf("%s = %v, want a finite number", name, v)
				}
			}
			if !r.Valid && (r.PValue != 1 || r.Newcombe != Interval{-1, 1}) {
				t.Errorf("invalid result = %+v, want p 1 and interval [-1, 1]", r)
			}
			if r.Newcombe.Lo > r.Diff || r.Newcombe.Hi < r.Diff {
				t.Errorf("Newcombe %v excludes Diff %v", r.Newcombe, r.Diff)
			}
		})
	}
}

func TestWilsonInterval_Reference(t *testing.T) {
	// Newcombe (1998, Statistics in Medicine 17:857, "Two-sided confidence
	// intervals for the single proportion", Table I, method 3, Wilson
	// without correction): 81/263 → 0.2553 to 0.3662; 15/148 → 0.0624 to
	// 0.1605; 0/20 → 0.0000 to 0.1611; 1/29 → 0.0061 to 0.1718.
	tests := []struct {
		name   string
		x, n   int
		lo, hi float64
	}{
		{"81of263", 81, 263, 0.2553, 0.3662},
		{"15of148", 15, 148, 0.0624, 0.1605},
		{"0of20", 0, 20, 0, 0.1611},
		{"1of29", 1, 29, 0.0061, 0.1718},
		{"NoTrials", 0, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iv := WilsonInterval(tt.x, tt.n, 0.05)
			MustClose(t, "Lo", iv.Lo, tt.lo, 5e-5)
			MustClose(t, "Hi", iv.Hi, tt.hi, 5e-5)
		})
	}
}
