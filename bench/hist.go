package bench

import (
	"math"
	"math/bits"
	"time"
)

// histSub is the number of sub-buckets per power of two: values are kept
// within 1/64 (1.6 %) of their true value, in 4,096 counters.
const (
	histSubBits = 6
	histSub     = 1 << histSubBits
	histBuckets = 64 * histSub
)

// hist is a log-linear histogram of durations in nanoseconds, cheap enough
// to record every request and every stream chunk of a run. It is not safe
// for concurrent use: each load worker keeps its own and they are merged.
type hist struct {
	counts [histBuckets]uint32
	n      uint64
	sum    int64
	max    int64
}

func histIndex(v int64) int {
	if v < histSub {
		if v < 0 {
			return 0
		}
		return int(v)
	}
	e := bits.Len64(uint64(v)) - histSubBits - 1
	return (e+1)*histSub + int(v>>uint(e)) - histSub
}

// histValue returns the middle of bucket i.
func histValue(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	e := i/histSub - 1
	m := int64(i%histSub + histSub)
	return m<<uint(e) + (int64(1)<<uint(e))/2
}

func (h *hist) add(v int64) {
	if v < 0 {
		v = 0
	}
	h.counts[histIndex(v)]++
	h.n++
	h.sum += v
	if v > h.max {
		h.max = v
	}
}

func (h *hist) merge(o *hist) {
	if o == nil {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile returns the q-quantile (0 < q ≤ 1); the exact maximum for q = 1.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	if q >= 1 {
		return time.Duration(h.max)
	}
	// The nearest-rank quantile: the smallest value with at least q·n
	// values at or below it.
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += uint64(c)
		if seen >= rank {
			return time.Duration(min(histValue(i), h.max))
		}
	}
	return time.Duration(h.max)
}

func (h *hist) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / int64(h.n))
}
