package observe

import (
	"cmp"
	"math"
	"reflect"
	"slices"
	"time"
)

// Union reads the windows of several Recorders as one: typically a
// gateway's own Recorder first and, second, the one that Ingests the other
// replicas' Batches, so that the rollout controller analyses the whole
// fleet's traffic. It has the methods the controller reads (Window and
// Categories). A Union of one Recorder answers as that Recorder does.
type Union []*Recorder

// Window returns the observations of a version of a model that arrived at
// or after since in any of the Recorders, as Recorder.Window does for one.
// The union is bounded as one window is, by the first Recorder's
// Options.WindowSize (VersionWindowSize for category ""): when the
// Recorders hold more, only the most recent are kept. So that the Sample
// covers one span of time for every Recorder, observations no later than
// the newest one any Recorder has overwritten are left out too; Truncated
// is then set when that point is at or after since, and the Sample covers
// every Recorder's observations from First on. Total sums the Recorders'
// Totals.
func (u Union) Window(model, version, category string, since time.Time) Sample {
	return u.Between(model, version, category, since, time.Time{})
}

// Between is Window with an end, as Recorder.Between.
func (u Union) Between(model, version, category string, since, until time.Time) Sample {
	return u.between(model, version, category, since, until, false)
}

// Randomized is Window over the randomly assigned requests only, as
// Recorder.Randomized.
func (u Union) Randomized(model, version, category string, since time.Time) Sample {
	return u.between(model, version, category, since, time.Time{}, true)
}

// RandomizedBetween is Randomized with an end, as
// Recorder.RandomizedBetween.
func (u Union) RandomizedBetween(model, version, category string, since, until time.Time) Sample {
	return u.between(model, version, category, since, until, true)
}

// between is Between, and Randomized when randomOnly is set.
func (u Union) between(model, version, category string, since, until time.Time, randomOnly bool) Sample {
	if len(u) == 1 {
		return u[0].between(model, version, category, since, until, randomOnly)
	}
	if len(u) == 0 {
		return Sample{}
	}
	sinceNs, untilNs := unixNanos(since), untilNanos(until)
	var (
		merged  = snapshot{evicted: math.MinInt64}
		classes []string
		parts   int
	)
	for _, r := range u {
		snap, ok := r.snapshot(model, version, category)
		if !ok {
			continue
		}
		parts++
		// The error classes are each Recorder's own; renumber them into
		// the first's list, extended.
		own := *r.errClasses.Load()
		idx := make([]uint8, len(own))
		for i, c := range own {
			j := slices.Index(classes, c)
			if j < 0 {
				j = len(classes)
				classes = append(classes, c)
			}
			idx[i] = uint8(min(j, maxErrClasses))
		}
		for i := range snap.buf {
			snap.buf[i].errIdx = idx[snap.buf[i].errIdx]
		}
		merged.buf = append(merged.buf, snap.buf...)
		merged.evicted = max(merged.evicted, snap.evicted)
		addCounts(&merged.total, &snap.total)
	}
	var s Sample
	if parts > 0 {
		size := u[0].opt.WindowSize
		if category == "" {
			size = u[0].opt.VersionWindowSize
		}
		merged.bound(size)
		s = merged.sample(sinceNs, untilNs, classes, randomOnly)
	}
	mergeQuality(u, &s, model, version, category, sinceNs, untilNs, randomOnly)
	return s
}

// bound keeps the size most recent entries and those after the newest
// overwritten one, raising evicted to the newest it drops.
func (snap *snapshot) bound(size int) {
	buf := snap.buf
	if len(buf) > size {
		slices.SortFunc(buf, func(a, b entry) int { return cmp.Compare(a.at, b.at) })
		snap.evicted = max(snap.evicted, buf[len(buf)-size-1].at)
		buf = buf[len(buf)-size:]
	}
	if snap.evicted != math.MinInt64 {
		buf = slices.DeleteFunc(buf, func(e entry) bool { return e.at <= snap.evicted })
	}
	snap.buf = buf
}

// addCounts adds each count of b to a. It walks the fields by reflection,
// so a count added to Counts is summed without a change here.
func addCounts(a, b *Counts) {
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for i := range va.NumField() {
		if f := va.Field(i); f.CanInt() {
			f.SetInt(f.Int() + vb.Field(i).Int())
		}
	}
}

// mergeQuality sets the quality scores of s: those of every Recorder given
// at or after since, in time order, as addQuality does for one.
func mergeQuality(u Union, s *Sample, model, version, category string, since, until int64, randomOnly bool) {
	var got []qentry
	for _, r := range u {
		got = append(got, r.qualitySince(model, version, category, since, until, randomOnly)...)
	}
	setQuality(s, got)
}

// Versions returns the versions of a model any of the Recorders has a
// window for, sorted.
func (u Union) Versions(model string) []string {
	var out []string
	for _, r := range u {
		out = append(out, r.Versions(model)...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Categories returns the categories any of the Recorders has seen for a
// model, sorted.
func (u Union) Categories(model string) []string {
	var out []string
	for _, r := range u {
		out = append(out, r.Categories(model)...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
