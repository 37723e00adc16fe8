package proxy

import (
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/internal/cowmap"
)

// RetryWindow is the span, in seconds, over which the retry budget weighs
// retries against requests: the current second and the nine before it, as
// Linkerd's retry budget keeps its deposits for 10 s (ttl).
const RetryWindow = 10

// Retry budget defaults (Options.RetryBudgetPercent, RetryMinPerSecond):
// Linkerd's and Envoy's retry budgets' 20%, and Linkerd's floor of 10
// retries a second.
const (
	DefaultRetryBudgetPercent = 20
	DefaultRetryMinPerSecond  = 10
)

// RetryBudget is how many retries a gateway may send (Options.RetryBudget,
// the config's retries): Percent of the requests it forwarded in the last
// RetryWindow seconds, plus MinPerSecond a second whatever the traffic, so
// that a gateway with little traffic retries every failure.
type RetryBudget struct {
	Percent      float64
	MinPerSecond float64
}

// retryBudget bounds the retries one gateway sends (to the stable version,
// and to another endpoint of a version that refused a request for load) to
// minPerSec×RetryWindow plus pct% of the requests it forwarded in the last
// RetryWindow seconds, as Linkerd's and Finagle's retry budgets do: when
// both versions refuse, or stable is near capacity while the canary fails,
// retrying every failure would double the load on the version that holds
// the service up.
//
// Each second has a slot of RetryWindow, a word holding the second's low
// 32 bits and its count, so that moving a slot on to a new second and
// counting in it are one CAS with no lock: the request path (request)
// pays one atomic load and one atomic add (a CAS the first time in each
// second). take runs on the error path alone.
type retryBudget struct {
	// pct is the budget in hundredths of a percent of the requests;
	// reserve the retries allowed in any window (minPerSec×RetryWindow).
	pct, reserve uint64
	reqs         [RetryWindow]atomic.Uint64
	retries      [RetryWindow]atomic.Uint64
}

// newRetryBudget returns a budget of percent of the requests plus
// minPerSec retries a second. Negative values are taken as 0, and values
// past maxRetryPercent and maxRetryMinPerSecond as those.
func newRetryBudget(percent, minPerSec float64) *retryBudget {
	percent, minPerSec = min(max(percent, 0), maxRetryPercent), min(max(minPerSec, 0), maxRetryMinPerSecond)
	return &retryBudget{pct: uint64(percent*100 + 0.5), reserve: uint64(minPerSec*RetryWindow + 0.5)}
}

// The largest budget newRetryBudget keeps: no bound on any traffic, and
// allowed's arithmetic in uint64 stays exact (a window's RetryWindow×2³²
// requests times maxRetryPercent×100 is under 2⁶³). A budget_percent
// given as "no bound" (1e300) was converted out of uint64's range and its
// product with the requests wrapped: no retries past the minimum's.
const (
	maxRetryPercent      = 1e6
	maxRetryMinPerSecond = 1e9
)

func slotWord(sec int64, n uint64) uint64 { return uint64(uint32(sec))<<32 | n }

// age is how many seconds before sec the slot word v was last counted in;
// negative when after (a caller that read the clock a moment earlier).
func age(v uint64, sec int64) int32 { return int32(uint32(sec) - uint32(v>>32)) }

// maxAhead bounds how far after sec a slot's second may be and be taken as
// a later second's (ahead), counted in by a caller whose clock read before
// another moved the slot on: one stalled that long is not waited for.
// Beyond it the slot is stale. A slot never counted in holds second 0,
// which from 2038-01-19 on (a Unix second's low 32 bits past 2³¹) reads as
// ahead of any second: taken so, the slots never moved on, so no request
// counted and every retry past the minimum's was refused.
const maxAhead = 1 << 20 // 12 days

// ahead reports whether a slot of age a counts a second after the
// caller's (see maxAhead).
func ahead(a int32) bool { return a < 0 && a > -maxAhead }

// count adds one to the slot of second sec, moving the slot on to sec when
// it last counted an older second.
func count(s *[RetryWindow]atomic.Uint64, sec int64) {
	w := &s[uint64(sec)%RetryWindow]
	for {
		v := w.Load()
		if a := age(v, sec); a == 0 || ahead(a) {
			// This second's, or (read the clock a moment before another
			// goroutine moved it on) the next's: counted there.
			w.Add(1)
			return
		}
		if w.CompareAndSwap(v, slotWord(sec, 1)) {
			return
		}
	}
}

// sum is the count of the slots within the window ending at second sec.
func sum(s *[RetryWindow]atomic.Uint64, sec int64) uint64 {
	var n uint64
	for i := range s {
		if v := s[i].Load(); age(v, sec) < RetryWindow && age(v, sec) >= 0 {
			n += v & 0xffffffff
		}
	}
	return n
}

// request counts a request forwarded at second sec (Unix time).
func (b *retryBudget) request(sec int64) { count(&b.reqs, sec) }

// allowed is how many retries the window ending at sec allows.
func (b *retryBudget) allowed(sec int64) uint64 {
	return b.reserve + sum(&b.reqs, sec)*b.pct/10000
}

// take spends one retry at second sec and reports whether the budget had
// it. Concurrent takes never spend more than the budget: each is a CAS on
// the second's slot, tried again with the sums read anew if another
// retry took the slot first.
func (b *retryBudget) take(sec int64) bool {
	w := &b.retries[uint64(sec)%RetryWindow]
	for {
		v := w.Load()
		spent, next := sum(&b.retries, sec), slotWord(sec, 1)
		switch a := age(v, sec); {
		case ahead(a):
			// Moved on to the next second by a caller whose clock read
			// later: spent there, and not within sum's window yet.
			spent += v & 0xffffffff
			next = v + 1
		case a == 0:
			next = v + 1
		}
		if spent >= b.allowed(sec) {
			return false
		}
		if w.CompareAndSwap(v, next) {
			return true
		}
	}
}

// Retry counts for /metrics, per model (sluice_retries_total): the error
// path alone writes them.
type retryCounts struct {
	stable, endpoint, stableRefused, endpointRefused atomic.Int64
	// unlogged is the retries refused since the model's last log line
	// (logRetryRefused); loggedAt that line's time in Unix nanoseconds, 0
	// before the first.
	unlogged, loggedAt atomic.Int64
}

// RetryBudgetLogEvery is the least time between two of a model's log lines
// saying the retry budget refused its retries: during a storm every
// failure past the budget is refused, and a line each would bury the log.
const RetryBudgetLogEvery = time.Minute

// logRetryRefused counts a retry of model the budget refused, and logs a
// warning if the model's last one is RetryBudgetLogEvery old (or there was
// none), saying how many were refused since, the budget's settings and
// where to change them: sluice_retries_total says it on /metrics, but an
// SRE reading the logs during a storm saw nothing of it. On the error path
// alone; concurrent refusals elect one writer with a CAS, and a refusal
// counted as the line is written goes in this line or the next.
func (p *Proxy) logRetryRefused(model string, c *retryCounts) {
	c.unlogged.Add(1)
	now := p.opt.Now().UnixNano()
	last := c.loggedAt.Load()
	if last != 0 && now-last < int64(RetryBudgetLogEvery) || !c.loggedAt.CompareAndSwap(last, now) {
		return
	}
	since := "none (the first since the gateway started)"
	if last != 0 {
		since = time.Duration(now - last).Round(time.Second).String()
	}
	p.opt.Logger.Warn("retry budget spent: failed attempts went to clients unretried",
		"model", model, "retries_refused", c.unlogged.Swap(0), "since_last_line", since,
		"budget_percent", p.retryConf.Percent, "min_per_second", p.retryConf.MinPerSecond,
		"window", time.Duration(RetryWindow)*time.Second,
		"change", "retries.budget_percent and retries.min_per_second in sluice.yaml (a restart applies them); sluice_retries_total{outcome=\"budget_exhausted\"} counts every refusal")
}

type retryStats struct {
	cowmap.Map[string, retryCounts]
}
