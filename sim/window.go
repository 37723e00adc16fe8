package sim

import (
	"slices"

	"github.com/sluicehq/sluice/analysis"
	"github.com/sluicehq/sluice/fakellm"
)

// sortedSeries is a growing sample kept in ascending order. New values wait
// in pending and are merged in at the next read, so an analysis every few
// seconds costs one linear merge instead of a sort of the whole sample.
type sortedSeries struct {
	s, pending []float64
}

func (x *sortedSeries) add(v float64) { x.pending = append(x.pending, v) }

// sorted merges the pending values in and returns the whole sample. It
// works from the back: each pending value finds its place by binary search
// and the run of larger values above it moves up in one copy, so the cost
// is one memmove of the sample plus a search per new value.
func (x *sortedSeries) sorted() []float64 {
	m := len(x.pending)
	if m == 0 {
		return x.s
	}
	slices.Sort(x.pending)
	n := len(x.s)
	x.s = slices.Grow(x.s, m)[:n+m]
	hi := n // x.s[:hi] holds the old values not yet moved
	for j := m - 1; j >= 0; j-- {
		v := x.pending[j]
		pos := upperBound(x.s[:hi], v)
		copy(x.s[pos+j+1:hi+j+1], x.s[pos:hi])
		x.s[pos+j] = v
		hi = pos
	}
	x.pending = x.pending[:0]
	return x.s
}

// upperBound returns the number of values in the ascending s that are at
// most v (no NaNs, so plain comparisons do).
func upperBound(s []float64, v float64) int {
	lo, hi := 0, len(s)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if s[mid] <= v {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

func (x *sortedSeries) reset() {
	x.s, x.pending = x.s[:0], x.pending[:0]
}

// series is what one version did on one slice of traffic since the
// candidate went live, as the observation windows would give it to the
// analysis: every request counted, the distributions of the answers kept.
type series struct {
	requests, errors, refusals int
	canceled                   int
	// toolAnswers counts the successful answers to requests that offered
	// tools, toolCalls those that called one.
	toolAnswers, toolCalls int
	latency, ttft          sortedSeries
	tokens, chars          []float64
	// running carries the sums behind the means of tokens and chars from
	// one analysis to the next (they only grow at the end).
	running analysis.Running
}

func (s *series) reset() {
	s.requests, s.errors, s.refusals, s.canceled = 0, 0, 0, 0
	s.toolAnswers, s.toolCalls = 0, 0
	s.latency.reset()
	s.ttft.reset()
	s.tokens, s.chars = s.tokens[:0], s.chars[:0]
	s.running = analysis.Running{}
}

// record counts o and, when keep is set and o succeeded, keeps its
// latency, time to first token (streams only) and lengths. The latency of
// every request, streamed or not, is the behaviour's latency draw: the
// time to the last byte, which the scenario sets directly rather than
// through a token rate. tools says the request offered tools.
func (s *series) record(o *fakellm.Outcome, stream, keep, canceled, tools bool) {
	s.requests++
	if canceled {
		s.canceled++
		return
	}
	if !o.OK() {
		s.errors++
		return
	}
	if o.Refusal {
		s.refusals++
	}
	if tools {
		s.toolAnswers++
		if o.ToolCall {
			s.toolCalls++
		}
	}
	if !keep {
		return
	}
	s.latency.add(ms(o.Latency))
	if stream {
		s.ttft.add(ms(o.TTFT))
	}
	s.tokens = append(s.tokens, float64(o.OutputTokens))
	s.chars = append(s.chars, float64(len(o.Content)))
}

// arm returns the series as the analysis takes it. The slices are the
// series' own: they stay valid until the next record.
func (s *series) arm() analysis.Arm {
	return analysis.Arm{
		Requests: s.requests, Errors: s.errors, Refusals: s.refusals, Canceled: s.canceled,
		ToolAnswers: s.toolAnswers, ToolCalls: s.toolCalls,
		Latency: s.latency.sorted(), TTFT: s.ttft.sorted(),
		OutputTokens: s.tokens, ResponseChars: s.chars,
		Sorted: true, Running: &s.running,
	}
}

// versionWindow is one version's observations: over all traffic and per
// category (by the scenario's category index).
type versionWindow struct {
	all  series
	cats []series
}

func (w *versionWindow) reset(categories int) {
	w.all.reset()
	if cap(w.cats) < categories {
		w.cats = make([]series, categories)
	}
	w.cats = w.cats[:categories]
	for i := range w.cats {
		w.cats[i].reset()
	}
}

func (w *versionWindow) record(cat int, o *fakellm.Outcome, stream, keep, canceled, tools bool) {
	w.all.record(o, stream, keep, canceled, tools)
	w.cats[cat].record(o, stream, keep, canceled, tools)
}

// timeline keeps the candidate's observations in arrival order with the
// totals at the end of each virtual second, so that a fixed gate can look
// at the last minute as a PromQL range query does.
type timeline struct {
	requests, errors, refusals []int // running totals at the end of each second
	canceled                   []int
	toolAnswers, toolCalls     []int
	latencyEnd                 []int // len(latency) at the end of each second
	latency                    []float64
	// cur are the running totals of the second in progress.
	curRequests, curErrors, curRefusals, curCanceled int
	curToolAnswers, curToolCalls                     int
	// win is latency[winFrom:winTo] in ascending order, the window last
	// asked for, kept so that the next window, which has moved on by a few
	// seconds, costs a merge instead of a sort; spare is the buffer the
	// next merge writes to.
	win, spare, gone, come []float64
	winFrom, winTo         int
}

func (l *timeline) reset() {
	l.requests, l.errors, l.refusals, l.latencyEnd = l.requests[:0], l.errors[:0], l.refusals[:0], l.latencyEnd[:0]
	l.canceled = l.canceled[:0]
	l.toolAnswers, l.toolCalls = l.toolAnswers[:0], l.toolCalls[:0]
	l.latency = l.latency[:0]
	l.curRequests, l.curErrors, l.curRefusals, l.curCanceled = 0, 0, 0, 0
	l.curToolAnswers, l.curToolCalls = 0, 0
	l.win, l.winFrom, l.winTo = l.win[:0], 0, 0
}

// sortedWindow returns latency[from:to] in ascending order (no NaNs). It
// updates the window it returned last time: the values that left it are
// taken out and the new ones merged in, in one pass. The slice is valid
// until the next call.
func (l *timeline) sortedWindow(from, to int) []float64 {
	if from < l.winFrom || to < l.winTo || from > l.winTo {
		// Not a window that moved forward over the last one: start over.
		l.win, l.winFrom, l.winTo = l.win[:0], from, from
	}
	gone := append(l.gone[:0], l.latency[l.winFrom:from]...)
	come := append(l.come[:0], l.latency[l.winTo:to]...)
	slices.Sort(gone)
	slices.Sort(come)
	out := l.spare[:0]
	g, c := 0, 0
	for _, v := range l.win {
		if g < len(gone) && gone[g] == v {
			g++ // left the window
			continue
		}
		for c < len(come) && come[c] < v {
			out = append(out, come[c])
			c++
		}
		out = append(out, v)
	}
	out = append(out, come[c:]...)
	l.spare, l.win = l.win, out
	l.gone, l.come = gone, come
	l.winFrom, l.winTo = from, to
	return l.win
}

func (l *timeline) record(o *fakellm.Outcome, canceled, tools bool) {
	l.curRequests++
	switch {
	case canceled:
		l.curCanceled++
		return
	case !o.OK():
		l.curErrors++
		return
	case o.Refusal:
		l.curRefusals++
	}
	if tools {
		l.curToolAnswers++
		if o.ToolCall {
			l.curToolCalls++
		}
	}
	l.latency = append(l.latency, ms(o.Latency))
}

// tick closes a second.
func (l *timeline) tick() {
	l.requests = append(l.requests, l.curRequests)
	l.errors = append(l.errors, l.curErrors)
	l.refusals = append(l.refusals, l.curRefusals)
	l.canceled = append(l.canceled, l.curCanceled)
	l.toolAnswers = append(l.toolAnswers, l.curToolAnswers)
	l.toolCalls = append(l.toolCalls, l.curToolCalls)
	l.latencyEnd = append(l.latencyEnd, len(l.latency))
}

// last returns the candidate's arm over its last seconds closed seconds
// (all of them when seconds is zero or more than there are).
func (l *timeline) last(seconds int) analysis.Arm {
	n := len(l.requests)
	if n == 0 {
		return analysis.Arm{}
	}
	from := 0
	if seconds > 0 && seconds < n {
		from = n - seconds
	}
	at := func(totals []int, i int) int {
		if i < 0 {
			return 0
		}
		return totals[i]
	}
	return analysis.Arm{
		Requests: l.requests[n-1] - at(l.requests, from-1),
		Errors:   l.errors[n-1] - at(l.errors, from-1),
		Refusals: l.refusals[n-1] - at(l.refusals, from-1),
		Canceled: l.canceled[n-1] - at(l.canceled, from-1),
		// The answers to requests that offered tools, and the calls.
		ToolAnswers: l.toolAnswers[n-1] - at(l.toolAnswers, from-1),
		ToolCalls:   l.toolCalls[n-1] - at(l.toolCalls, from-1),
		Latency:     l.sortedWindow(at(l.latencyEnd, from-1), l.latencyEnd[n-1]),
		Sorted:      true,
	}
}
