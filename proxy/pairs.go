package proxy

import (
	"sync"

	"github.com/sluicehq/sluice"
)

// ShadowPair, ShadowSide and ShadowDiff are the root package's: the admin
// API and its client read them too.
type (
	ShadowPair = sluice.ShadowPair
	ShadowSide = sluice.ShadowSide
	ShadowDiff = sluice.ShadowDiff
)

// sideOf describes an answer from its observation, text and tool calls.
// Its OutputTokens is the backend's count: the live answer's estimate
// (o.TokensEstimated, for the key's limits) is left out, as the
// candidate's answer is never estimated and the pair would show a
// difference neither backend reported.
func sideOf(o *sluice.Observation, text string, calls []sluice.ShadowToolCall) ShadowSide {
	out := o.OutputTokens
	if o.TokensEstimated {
		out = 0
	}
	s := ShadowSide{
		Version: o.Version, Status: o.Status, LatencyMS: ms(o.Latency), OutputTokens: out,
		Chars: int(o.ResponseChars), Refusal: o.Refusal, ToolCall: o.ToolCall, Error: o.ErrorClass, FinishReason: o.FinishReason, Text: text,
		ToolCalls: calls,
	}
	if o.Stream {
		s.TTFTMS = ms(o.TTFT)
	}
	return s
}

// newPair compares the live answer kept in j with the candidate's.
func newPair(j *shadowJob, o *sluice.Observation, prompt, text string, calls []sluice.ShadowToolCall) ShadowPair {
	pr, sh := j.primary, sideOf(o, text, calls)
	d := ShadowDiff{
		LatencyMS: sh.LatencyMS - pr.LatencyMS, OutputTokens: sh.OutputTokens - pr.OutputTokens,
		Chars: sh.Chars - pr.Chars, Refusal: which(pr.Refusal, sh.Refusal), Error: which(pr.Error != "", sh.Error != ""),
		ToolCall: which(pr.ToolCall, sh.ToolCall),
		SameText: pr.Text == sh.Text, Calls: sluice.CompareToolCalls(pr.ToolCalls, sh.ToolCalls),
	}
	if pr.LatencyMS > 0 {
		d.LatencyRatio = sh.LatencyMS / pr.LatencyMS
	}
	return ShadowPair{
		RequestID: j.reqID, At: o.At, Model: o.Model, Category: j.category, Endpoint: j.path,
		Stream: o.Stream, Prompt: prompt, Primary: pr, Shadow: sh, Diff: d,
	}
}

func which(primary, shadow bool) string {
	switch {
	case primary && shadow:
		return "both"
	case primary:
		return "primary_only"
	case shadow:
		return "shadow_only"
	}
	return "none"
}

// DefaultShadowPairs is how many shadow answer pairs a proxy keeps when
// Options.ShadowPairs is not set (config shadow.pairs_kept).
const DefaultShadowPairs = 500

// pairRing keeps the most recent pairs, across models.
type pairRing struct {
	mu   sync.Mutex
	buf  []ShadowPair
	next int
	size int
	seq  int64 // the last pair's Seq
}

// add keeps p, numbered, and returns it as kept.
func (r *pairRing) add(p ShadowPair) ShadowPair {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	p.Seq = r.seq
	if len(r.buf) < r.size {
		r.buf = append(r.buf, p)
		return p
	}
	r.buf[r.next] = p
	r.next = (r.next + 1) % len(r.buf)
	return p
}

// ShadowPairs returns the most recent shadow pairs of model (every model
// when model is ""), newest first, at most limit of them (all that are kept
// when limit is 0 or less). Options.ShadowPairs bounds how many are kept.
func (p *Proxy) ShadowPairs(model string, limit int) []ShadowPair {
	out, _ := p.FindShadowPairs(sluice.ShadowPairQuery{Model: model, Limit: limit})
	return out
}

// FindShadowPairs returns the kept shadow pairs that match q, newest first,
// at most q.Limit of them (all when 0), and whether more match after them
// (a next page, with Before set to the last pair's Seq). A pair scanned
// here is copied under the ring's lock, which only the shadow workers
// take: the request path never waits on it.
func (p *Proxy) FindShadowPairs(q sluice.ShadowPairQuery) (pairs []ShadowPair, more bool) {
	r := &p.shadow.pairs
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []ShadowPair{}
	n := len(r.buf)
	for i := range n {
		// Newest first: the slot before next, going back.
		pr := &r.buf[((r.next-1-i)%n+n)%n]
		if !q.Match(pr) {
			continue
		}
		if q.Limit > 0 && len(out) == q.Limit {
			return out, true
		}
		out = append(out, *pr)
	}
	return out, false
}

// ShadowPairsKept is how many shadow pairs this proxy keeps at most, across
// models (Options.ShadowPairs).
func (p *Proxy) ShadowPairsKept() int { return p.shadow.pairs.size }
