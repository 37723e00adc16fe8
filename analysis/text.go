package analysis

import (
	"math"
	"strconv"
)

// where names a comparison: "refusal rate" or "refusal rate in category
// payments".
func where(r *row) string {
	w := r.def.words
	if r.mv.Source != "" {
		w += " (" + r.mv.Source + ")"
	}
	if r.mv.Category == "" {
		return w
	}
	return w + " in category " + r.mv.Category
}

// describe says what a comparison found, as a failing verdict's reason
// does: "refusal rate in category payments: 14.1% vs 3.0% (+370%, threshold
// +50%)".
func describe(r *row) string {
	// Plain concatenation: this runs for every row of every analysis.
	eff := effect(r, r.mv.Effect)
	if inMS(r) {
		eff = signedMS(r.mv.Candidate-r.mv.Baseline, r.mv.ThresholdMS)
	}
	return where(r) + ": " + value(r, r.mv.Candidate) + " vs " + value(r, r.mv.Baseline) + " (" + eff + ", threshold " + threshold(r) + ")"
}

// bound says how bad a comparison that has not passed could still be: "latency
// p99 (up to +35%, threshold +20%)".
func bound(r *row) string {
	if !r.tested {
		return where(r) + " (too little data)"
	}
	// An end still infinite means the data do not bound the change yet:
	// "up to unbounded" read as nonsense on the dashboard.
	var s string
	switch r.def.kind {
	case kindMean, kindRateBoth:
		if math.IsInf(r.mv.Lower, 0) || math.IsInf(r.mv.Upper, 0) {
			s = "not yet bounded"
		} else {
			s = "between " + effect(r, r.mv.Lower) + " and " + effect(r, r.mv.Upper)
		}
	case kindQuality:
		if math.IsInf(r.mv.Lower, 0) {
			s = "no lower bound yet"
		} else {
			s = "down to " + effect(r, r.mv.Lower)
		}
	case kindQuantile:
		switch {
		case math.IsInf(r.mv.Upper, 0):
			s = "no upper bound yet"
		case inMS(r):
			s = "up to " + signedMS(r.msHi, r.mv.ThresholdMS)
		default:
			s = "up to " + effect(r, r.mv.Upper)
		}
	default:
		if math.IsInf(r.mv.Upper, 0) {
			s = "no upper bound yet"
		} else {
			s = "up to " + effect(r, r.mv.Upper)
		}
	}
	return where(r) + " (" + s + ", threshold " + threshold(r) + ")"
}

// detail is a row's Detail: what was found and what it means.
func detail(r *row) string {
	s := describe(r)
	if !r.tested {
		return s + "; too little data to test"
	}
	lo, hi := effect(r, r.mv.Lower), effect(r, r.mv.Upper)
	if inMS(r) {
		lo, hi = signedMS(r.msLo, r.mv.ThresholdMS), signedMS(r.msHi, r.mv.ThresholdMS)
	}
	s += "; anytime-valid interval " + lo + " to " + hi + ", p = " + strconv.FormatFloat(r.mv.PValue, 'g', 2, 64)
	switch {
	case r.mv.Outcome == "fail":
		return s + ": worse beyond the threshold"
	case r.within:
		return s + ": within the threshold"
	case r.beyond:
		return s + ": estimate beyond the threshold, not yet significant"
	}
	return s + ": not yet shown within the threshold"
}

// value prints a metric's value in its unit.
func value(r *row, x float64) string {
	switch r.def.unit {
	case "%":
		return pct(x)
	case "":
		return strconv.FormatFloat(x, 'f', 2, 64)
	}
	if x != 0 && math.Abs(x) < 10 {
		// Two significant digits: a fast backend's 0.29 ms printed as
		// "0 ms" contradicted the reason's own percentage.
		return strconv.FormatFloat(x, 'g', 2, 64) + " " + r.def.unit
	}
	return strconv.FormatFloat(x, 'f', 0, 64) + " " + r.def.unit
}

// effect prints a change in the units people read the metric in: relative
// for quantiles and means, relative or in percentage points for rates (as
// the threshold is), absolute for quality.
func effect(r *row, x float64) string {
	if math.IsInf(x, 0) {
		if x > 0 {
			return "unbounded"
		}
		return "-unbounded"
	}
	switch r.def.kind {
	case kindRateBoth:
		// In points: its threshold is not a share of the baseline's rate.
		return signed(100*x, 2) + " pts"
	case kindRate:
		if r.floorRules || r.mv.Baseline <= 0 {
			return signed(100*x, 2) + " pts"
		}
		return signedPct(x / r.mv.Baseline)
	case kindQuality:
		return signed(x, 2)
	}
	return signedPct(x)
}

func threshold(r *row) string {
	switch r.def.kind {
	case kindMean:
		return "±" + signedPct(r.mv.Threshold)[1:]
	case kindRateBoth:
		return "±" + effect(r, r.mv.Threshold)[1:]
	case kindRate:
		if !r.floorRules && r.mv.Baseline > 0 {
			return signedPct(r.relThreshold)
		}
	case kindQuantile:
		if r.floorRules {
			return "+" + strconv.FormatFloat(r.mv.ThresholdMS, 'f', -1, 64) + " ms"
		}
	}
	return effect(r, r.mv.Threshold)
}

// inMS reports whether row r's effect reads in ms: a latency row whose
// absolute floor, not its relative threshold, rules (mv.ThresholdMS).
func inMS(r *row) bool { return r.def.kind == kindQuantile && r.floorRules }

// signedMS prints a change in ms with its sign and three significant
// digits (whole ms from 100 up), as sluice rollout status prints the
// effect beside a floor ("+0.607 ms"), and more where those would put it
// on the other side of the floor thr or at it: the floor's decision is
// on the unrounded value, and a failed row's "+2 ms, threshold +2 ms"
// (of +2.0004 ms) read as a change the floor allows. An end not bounded
// yet is "unbounded".
func signedMS(x, thr float64) string {
	switch {
	case math.IsInf(x, 1):
		return "unbounded"
	case math.IsInf(x, -1):
		return "-unbounded"
	case x == 0 || math.IsNaN(x):
		return "+0 ms"
	}
	side := func(y float64) int {
		switch {
		case y > thr:
			return 1
		case y < thr:
			return -1
		}
		return 0
	}
	y := math.Round(x)
	if math.Abs(x) < 100 {
		y = roundSig(x, 3)
	}
	for digits := 4; side(y) != side(x) && digits <= 15; digits++ {
		y = roundSig(x, digits)
	}
	s := strconv.FormatFloat(y, 'f', -1, 64)
	if y >= 0 {
		s = "+" + s
	}
	return s + " ms"
}

// roundSig rounds x (not 0) to digits significant digits.
func roundSig(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits-1)-math.Floor(math.Log10(math.Abs(x))))
	return math.Round(x*p) / p
}

func pct(x float64) string {
	if x != 0 && math.Abs(x) < 0.01 {
		return strconv.FormatFloat(100*x, 'f', 2, 64) + "%"
	}
	return strconv.FormatFloat(100*x, 'f', 1, 64) + "%"
}

func signedPct(x float64) string {
	if x != 0 && math.Abs(x) < 0.1 {
		return signed(100*x, 1) + "%"
	}
	return signed(100*x, 0) + "%"
}

// signed formats x with prec decimals and always a sign, as %+.*f does.
func signed(x float64, prec int) string {
	s := strconv.FormatFloat(x, 'f', prec, 64)
	if s[0] != '-' {
		s = "+" + s
	}
	return s
}
