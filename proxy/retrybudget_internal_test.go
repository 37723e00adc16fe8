package proxy

import (
	"sync"
	"sync/atomic"
	"testing"
)

// The retry budget's arithmetic: minPerSec×10 retries in any window, plus
// pct% of the requests of the current second and the nine before it.
func TestRetryBudget_Take(t *testing.T) {
	const t0 = 1_760_000_000 // a Unix second
	type step struct {
		sec      int64
		requests int // counted at sec before the takes
		takes    int // retries asked at sec
		want     int // of which the budget has
	}
	cases := []struct {
		name           string
		pct, minPerSec float64
		steps          []step
	}{
		{"MinimumAlone", 0, 1, []step{{t0, 0, 12, 10}}},
		{"MinimumIsPerWindowNotPerSecond", 0, 1, []step{{t0, 0, 6, 6}, {t0 + 5, 0, 6, 4}}},
		{"PercentOfRequests", 20, 0, []step{{t0, 100, 30, 20}}},
		{"PercentRoundsDown", 20, 0, []step{{t0, 14, 5, 2}}},
		{"PercentAndMinimumAdd", 20, 1, []step{{t0, 100, 40, 30}}},
		{"FractionalPercent", 2.5, 0, []step{{t0, 400, 20, 10}}},
		{"RequestsOfTheLastNineSecondsCount", 10, 0, []step{{t0, 100, 0, 0}, {t0 + 9, 0, 20, 10}}},
		{"RequestsTenSecondsOldDoNot", 10, 0, []step{{t0, 100, 0, 0}, {t0 + 10, 0, 20, 0}}},
		{"RetriesTenSecondsOldAreForgotten", 0, 1, []step{{t0, 0, 10, 10}, {t0 + 9, 0, 1, 0}, {t0 + 10, 0, 10, 10}}},
		{"SlotReusedAfterAWindow", 50, 0, []step{{t0, 10, 5, 5}, {t0 + 20, 10, 5, 5}, {t0 + 20, 0, 1, 0}}},
		{"Zero", 0, 0, []step{{t0, 1000, 5, 0}}},
		{"NegativeIsZero", -5, -1, []step{{t0, 1000, 5, 0}}},
		// A budget past any need is no bound, whatever the count: the
		// arithmetic does not wrap (1e300% was read as 0%).
		{"HugePercent", 1e300, 0, []step{{t0, 2, 50, 50}}},
		{"HugeMinimum", 0, 1e300, []step{{t0, 0, 50, 50}}},
		// From 2038-01-19 a Unix second's low 32 bits read as a
		// negative int32: the slots' zero words (second 0) must still
		// read as long past, not as seconds ahead that keep every count.
		{"After2038", 20, 1, []step{{1 << 31, 100, 40, 30}, {1<<31 + 5, 0, 5, 0}, {1<<31 + 10, 100, 40, 30}}},
		{"SlowStartOverAWindow", 20, 0, []step{
			{t0, 10, 1, 1}, {t0 + 1, 10, 2, 2}, {t0 + 2, 10, 3, 3}, {t0 + 3, 10, 3, 2},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newRetryBudget(tc.pct, tc.minPerSec)
			for i, s := range tc.steps {
				for range s.requests {
					b.request(s.sec)
				}
				got := 0
				for range s.takes {
					if b.take(s.sec) {
						got++
					}
				}
				if got != s.want {
					t.Fatalf("step %d (second t0+%d, %d requests): %d of %d retries taken, want %d", i, s.sec-t0, s.requests, got, s.takes, s.want)
				}
			}
		})
	}
}

// Callers whose clocks read either side of a second's end count in their
// own seconds; one that read its clock a whole window before the slot it
// counts in moved on (stalled 10 s in between) counts in the newer second
// rather than wiping it.
func TestRetryBudget_ClockOrder(t *testing.T) {
	const t0 = 1_760_000_000
	b := newRetryBudget(100, 0)
	b.request(t0 + 1)
	b.request(t0)
	if got := sum(&b.reqs, t0+1); got != 2 {
		t.Errorf("requests in the window: %d, want 2", got)
	}
	if !b.take(t0+1) || !b.take(t0) || b.take(t0+1) {
		t.Errorf("with 2 requests at 100%%, want two retries and no third")
	}
	b.request(t0 + 10) // slot 0 moves on from t0
	b.request(t0)      // stalled a window: counted in t0+10's slot
	if got := sum(&b.reqs, t0+10); got != 3 {
		t.Errorf("requests in the window ending at t0+10: %d, want 3 (t0+1's, and two in t0+10's slot)", got)
	}
}

// Concurrent requests and retries (with -race): the budget never gives
// more retries than it allows.
func TestRetryBudget_Concurrent(t *testing.T) {
	const t0 = 1_760_000_000
	b := newRetryBudget(10, 0)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				b.request(t0)
			}
		})
	}
	wg.Wait()
	var taken atomic.Int64
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if b.take(t0) {
					taken.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := taken.Load(); got != 800 {
		t.Errorf("%d retries taken by 8 goroutines, want exactly 800 (10%% of 8000 requests)", got)
	}
}

// The request path's count allocates nothing.
func TestRetryBudget_RequestAllocs(t *testing.T) {
	b := newRetryBudget(20, 10)
	sec := int64(1_760_000_000)
	if n := testing.AllocsPerRun(1000, func() { b.request(sec) }); n != 0 {
		t.Errorf("request: %v allocations, want 0", n)
	}
}

func BenchmarkRetryBudget_Request(b *testing.B) {
	rb := newRetryBudget(20, 10)
	sec := int64(1_760_000_000)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rb.request(sec)
		}
	})
}
