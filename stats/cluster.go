package stats

import "math"

// Cluster is the events and trials of one cluster of trials that are not
// independent of each other: the turns of one conversation, which a
// candidate that mishandles the conversation fails together.
type Cluster struct {
	X, N int
}

// EffectiveRate is a rate's counts corrected for clustering, for the rate
// tests that take independent trials (MixtureSPRT.Proportions,
// TwoProportion).
type EffectiveRate struct {
	// X and N are the effective events and trials: N is the trials over
	// the design effect, rounded (at least 1 when there were trials), and
	// X is the rate times N, rounded, so X/N is the observed rate up to
	// the rounding.
	X, N int
	// Units is the independent units: the clusters with a trial, each
	// trial in no cluster counting as one.
	Units int
	// DesignEffect is the cluster-robust variance of the rate over its
	// binomial variance, at least 1; N is the trials over it.
	DesignEffect float64
}

// ClusteredRate returns the effective counts of x events in n trials,
// where the trials of each of clusters (conversations of two turns or
// more) are correlated and every other trial is a cluster of its own.
//
// The variance of the rate p = x/n is the cluster-robust (sandwich)
// variance of a ratio estimator, C/(C−1) · Σ_c (x_c − p·n_c)² / n², over
// the C clusters; its ratio to the binomial p(1−p)/n is the design effect
// (Kish's deff; the Rao–Scott correction divides the counts by it). A
// design effect under 1 (events spread more evenly over the clusters than
// chance would) is held at 1: the tests never count more trials than
// there are. With no event (or no non-event) nothing measures the
// correlation, and the clusters are counted once each (N = Units), as if
// every cluster's trials were one; with one cluster, N is 1.
//
// Clusters claiming more events or trials than x and n, or impossible
// counts, are ignored: the counts are returned as given.
func ClusteredRate(x, n int, clusters []Cluster) EffectiveRate {
	plain := EffectiveRate{X: x, N: n, Units: n, DesignEffect: 1}
	if n <= 0 || x < 0 || x > n {
		return plain
	}
	xs, ns, units := x, n, 0
	for _, c := range clusters {
		if c.N < 0 || c.X < 0 || c.X > c.N {
			return plain
		}
		xs, ns = xs-c.X, ns-c.N
		if c.N > 0 {
			units++
		}
	}
	if xs < 0 || ns < 0 || xs > ns {
		return plain
	}
	units += ns
	if units == n {
		return plain
	}
	p := float64(x) / float64(n)
	if x == 0 || x == n {
		return EffectiveRate{X: x / n * units, N: units, Units: units, DesignEffect: float64(n) / float64(units)}
	}
	if units == 1 {
		return EffectiveRate{X: int(math.Round(p)), N: 1, Units: 1, DesignEffect: float64(n)}
	}
	// The trials in no cluster: xs events of residual 1−p, ns−xs of −p.
	s := float64(xs)*(1-p)*(1-p) + float64(ns-xs)*p*p
	for _, c := range clusters {
		r := float64(c.X) - p*float64(c.N)
		s += r * r
	}
	fn, fc := float64(n), float64(units)
	vcl := fc / (fc - 1) * s / (fn * fn)
	deff := math.Max(1, vcl/(p*(1-p)/fn))
	ne := max(1, int(math.Round(fn/deff)))
	return EffectiveRate{X: int(math.Round(p * float64(ne))), N: ne, Units: units, DesignEffect: deff}
}
