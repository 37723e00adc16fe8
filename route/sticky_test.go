package route

import (
	"math"
	"strconv"
	"testing"
)

// withinBinomial fails the test unless count successes out of n trials is
// within 4.5 standard deviations of probability p: a correct router fails
// about once in 150,000 runs.
func withinBinomial(t *testing.T, what string, count, n int, p float64) {
	t.Helper()
	mean := float64(n) * p
	sd := math.Sqrt(float64(n) * p * (1 - p))
	if math.Abs(float64(count)-mean) > 4.5*sd {
		t.Errorf("%s: %d of %d, want %.0f ± %.0f (4.5 sigma)", what, count, n, mean, 4.5*sd)
	}
}

func user(i int) string { return "user-" + strconv.Itoa(i) }

func TestTable_Decide_Sticky(t *testing.T) {
	reg := MustSplit(t, "", 50, 50)
	a := Build(reg, nil, Options{})
	b := Build(MustSplit(t, "", 50, 50), nil, Options{})
	for i := range 10000 {
		r := Request{Model: "chat", StickyKey: user(i)}
		first, err := a.Decide(&r)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if again, _ := a.Decide(&r); again.Target != first.Target || again.Bucket != first.Bucket {
				t.Fatalf("%s moved from %s to %s on a repeated call", user(i), first.Target.ID, again.Target.ID)
			}
		}
		if other, _ := b.Decide(&r); other.Target.ID != first.Target.ID || other.StickyHash != first.StickyHash {
			t.Fatalf("%s got %s from one table and %s from another built from the same registry", user(i), first.Target.ID, other.Target.ID)
		}
	}
}

func TestTable_Decide_SplitRealised(t *testing.T) {
	for _, tt := range []struct {
		name   string
		canary float64
		keyed  bool
		n      int
	}{
		{"Keyed95to5", 5, true, 10000},
		{"Keyed50to50", 50, true, 10000},
		{"Unkeyed95to5", 5, false, 100000},
		{"Unkeyed50to50", 50, false, 100000},
		{"Keyed99.99to0.01", 0.01, true, 100000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tab := Build(MustSplit(t, "", 100-tt.canary, tt.canary), nil, Options{})
			got := 0
			for i := range tt.n {
				r := Request{Model: "chat"}
				if tt.keyed {
					r.StickyKey = user(i)
				}
				d, err := tab.Decide(&r)
				if err != nil {
					t.Fatal(err)
				}
				if d.Target.ID == "chat:v2" {
					got++
				}
				// The arm is the bucket's range: v1 owns the first buckets.
				if inCanary := d.Bucket >= Buckets-int(tt.canary*100); inCanary != (d.Target.ID == "chat:v2") {
					t.Fatalf("bucket %d went to %s", d.Bucket, d.Target.ID)
				}
			}
			withinBinomial(t, "requests on the canary", got, tt.n, tt.canary/100)
		})
	}
}

// TestTable_Decide_SaltRotates checks that a new salt draws a new cohort:
// the canary arm keeps its size, but who is in it is independent of before.
func TestTable_Decide_SaltRotates(t *testing.T) {
	const n = 100000
	before := Build(MustSplit(t, "", 95, 5), nil, Options{})
	after := Build(MustSplit(t, "2026-11-20", 95, 5), nil, Options{})
	inBefore, inAfter, inBoth, moved := 0, 0, 0, 0
	for i := range n {
		r := Request{Model: "chat", StickyKey: user(i)}
		b, _ := before.Decide(&r)
		a, _ := after.Decide(&r)
		cb, ca := b.Target.ID == "chat:v2", a.Target.ID == "chat:v2"
		if cb {
			inBefore++
		}
		if ca {
			inAfter++
		}
		if cb && ca {
			inBoth++
		}
		if cb != ca {
			moved++
		}
	}
	withinBinomial(t, "canary users before the new salt", inBefore, n, 0.05)
	withinBinomial(t, "canary users after the new salt", inAfter, n, 0.05)
	// Independent cohorts: 5% of the old canary users stay, 2·5%·95% of all
	// users change version.
	withinBinomial(t, "old canary users still on the canary", inBoth, inBefore, 0.05)
	withinBinomial(t, "users who changed version", moved, n, 2*0.05*0.95)
}

func TestBuild_Unhealthy(t *testing.T) {
	reg := MustSplit(t, "", 90, 5, 5)
	t.Run("ExcludedAndRenormalised", func(t *testing.T) {
		tab := Build(reg, map[string]bool{"chat:v3": true}, Options{})
		split := tab.Models()[0].Split
		wantEff := []float64{94.74, 5.26, 0}
		for i, sv := range split {
			if sv.Effective != wantEff[i] || sv.Healthy != (sv.Version != "v3") {
				t.Errorf("split[%d] = %+v, want effective %v", i, sv, wantEff[i])
			}
		}
		count := map[string]int{}
		const n = 10000
		for i := range n {
			d, err := tab.Decide(&Request{Model: "chat", StickyKey: user(i)})
			if err != nil {
				t.Fatal(err)
			}
			count[d.Target.ID]++
		}
		if count["chat:v3"] != 0 {
			t.Errorf("%d users went to the unhealthy chat:v3", count["chat:v3"])
		}
		withinBinomial(t, "users on chat:v2", count["chat:v2"], n, 5.0/95)
		// Pins still reach the unhealthy version: the caller asked for it.
		if d, err := tab.Decide(&Request{Model: "chat:v3"}); err != nil || d.Target.ID != "chat:v3" || d.Target.Healthy {
			t.Errorf("pin to unhealthy = %+v, %v", d, err)
		}
	})
	t.Run("StableIsHealthy", func(t *testing.T) {
		tab := Build(reg, map[string]bool{"chat:v1": true}, Options{})
		d, _ := tab.Decide(&Request{Model: "chat", StickyKey: "x"})
		if id(d.Stable) != "chat:v2" {
			t.Errorf("stable = %s, want chat:v2 (the largest healthy member, first of equals)", id(d.Stable))
		}
		if d.Target.ID == "chat:v1" {
			t.Errorf("went to the unhealthy chat:v1")
		}
	})
	t.Run("AllUnhealthyKeptAsIs", func(t *testing.T) {
		all := map[string]bool{"chat:v1": true, "chat:v2": true, "chat:v3": true}
		tab := Build(reg, all, Options{})
		for i, sv := range tab.Models()[0].Split {
			if sv.Effective != sv.Percent {
				t.Errorf("split[%d] = %+v, want as configured", i, sv)
			}
		}
		healthy := Build(reg, nil, Options{})
		for i := range 1000 {
			r := Request{Model: "chat", StickyKey: user(i)}
			a, _ := tab.Decide(&r)
			b, _ := healthy.Decide(&r)
			if a.Target.ID != b.Target.ID {
				t.Fatalf("%s got %s with every member unhealthy, %s with none", user(i), a.Target.ID, b.Target.ID)
			}
		}
	})
	t.Run("HealthyUsersStay", func(t *testing.T) {
		// Ejecting the last member moves only its users: the others keep
		// their version, since the ranges grow in place.
		tab := Build(reg, map[string]bool{"chat:v3": true}, Options{})
		healthy := Build(reg, nil, Options{})
		moved := 0
		for i := range 10000 {
			r := Request{Model: "chat", StickyKey: user(i)}
			a, _ := tab.Decide(&r)
			b, _ := healthy.Decide(&r)
			if b.Target.ID != "chat:v3" && a.Target.ID != b.Target.ID {
				moved++
			}
		}
		if moved > 0 {
			t.Errorf("%d users of healthy versions moved when chat:v3 was ejected", moved)
		}
	})
}
