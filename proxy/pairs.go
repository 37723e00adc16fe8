package proxy

import (
	"sync"
	"time"

	"github.com/sluicehq/sluice"
)

// ShadowPair is one mirrored request: the live answer (Primary) and the
// candidate's discarded answer (Shadow), with their differences.
type ShadowPair struct {
	// RequestID is the X-Request-Id the client got with the live answer.
	RequestID string `json:"request_id"`
	// At is when the candidate was sent the request.
	At time.Time `json:"at"`
	// Model is the model name.
	Model string `json:"model"`
	// Category is the request category, "" if none.
	Category string `json:"category,omitempty"`
	// Endpoint is the API path, such as /v1/chat/completions.
	Endpoint string `json:"endpoint"`
	// Stream is true when both answers were streamed.
	Stream bool `json:"stream,omitempty"`
	// Primary is the live answer; Shadow the candidate's.
	Primary ShadowSide `json:"primary"`
	Shadow  ShadowSide `json:"shadow"`
	// Diff compares them.
	Diff ShadowDiff `json:"diff"`
}

// ShadowSide is one answer of a ShadowPair.
type ShadowSide struct {
	// Version is the version tag that answered.
	Version string `json:"version"`
	// Status is the HTTP status of the answer.
	Status int `json:"status"`
	// LatencyMS is the time to the last byte; TTFTMS the time to the first
	// content chunk of a stream (0 otherwise), in milliseconds.
	LatencyMS float64 `json:"latency_ms"`
	TTFTMS    float64 `json:"ttft_ms,omitempty"`
	// OutputTokens is the backend's count of generated tokens.
	OutputTokens int `json:"output_tokens"`
	// Chars is the length of the generated text, in bytes.
	Chars int `json:"chars"`
	// Refusal is true when the text matched a refusal phrase.
	Refusal bool `json:"refusal"`
	// Error is the error class, "" on success.
	Error string `json:"error,omitempty"`
	// FinishReason is the first choice's finish reason.
	FinishReason string `json:"finish_reason,omitempty"`
	// Text is the first 1000 bytes or so of the generated text, cut at a
	// character boundary.
	Text string `json:"text"`
}

// ShadowDiff is how the candidate's answer differs from the live one.
type ShadowDiff struct {
	// LatencyMS is the candidate's latency minus the live one.
	LatencyMS float64 `json:"latency_ms"`
	// LatencyRatio is the candidate's latency over the live one; 0 when
	// the live latency is 0.
	LatencyRatio float64 `json:"latency_ratio"`
	// OutputTokens and Chars are the candidate's minus the live ones.
	OutputTokens int `json:"output_tokens"`
	Chars        int `json:"chars"`
	// Refusal and Error say which side refused or failed: "none", "both",
	// "primary_only" or "shadow_only".
	Refusal string `json:"refusal"`
	Error   string `json:"error"`
	// SameText is true when the kept texts are equal.
	SameText bool `json:"same_text"`
}

// sideOf describes an answer from its observation and text.
func sideOf(o *sluice.Observation, text string) ShadowSide {
	s := ShadowSide{
		Version: o.Version, Status: o.Status, LatencyMS: ms(o.Latency), OutputTokens: o.OutputTokens,
		Chars: o.ResponseChars, Refusal: o.Refusal, Error: o.ErrorClass, FinishReason: o.FinishReason, Text: text,
	}
	if o.Stream {
		s.TTFTMS = ms(o.TTFT)
	}
	return s
}

// newPair compares the live answer kept in j with the candidate's.
func newPair(j *shadowJob, o *sluice.Observation, text string) ShadowPair {
	pr, sh := j.primary, sideOf(o, text)
	d := ShadowDiff{
		LatencyMS: sh.LatencyMS - pr.LatencyMS, OutputTokens: sh.OutputTokens - pr.OutputTokens,
		Chars: sh.Chars - pr.Chars, Refusal: which(pr.Refusal, sh.Refusal), Error: which(pr.Error != "", sh.Error != ""),
		SameText: pr.Text == sh.Text,
	}
	if pr.LatencyMS > 0 {
		d.LatencyRatio = sh.LatencyMS / pr.LatencyMS
	}
	return ShadowPair{
		RequestID: j.reqID, At: o.At, Model: o.Model, Category: j.category, Endpoint: j.path,
		Stream: o.Stream, Primary: pr, Shadow: sh, Diff: d,
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

// pairRing keeps the most recent pairs, across models.
type pairRing struct {
	mu   sync.Mutex
	buf  []ShadowPair
	next int
	size int
}

func (r *pairRing) add(p ShadowPair) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) < r.size {
		r.buf = append(r.buf, p)
		return
	}
	r.buf[r.next] = p
	r.next = (r.next + 1) % len(r.buf)
}

// ShadowPairs returns the most recent shadow pairs of model (every model
// when model is ""), newest first, at most limit of them (all that are kept
// when limit is 0 or less). Options.ShadowPairs bounds how many are kept.
func (p *Proxy) ShadowPairs(model string, limit int) []ShadowPair {
	r := &p.shadow.pairs
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []ShadowPair{}
	n := len(r.buf)
	for i := range n {
		// Newest first: the slot before next, going back.
		pr := &r.buf[((r.next-1-i)%n+n)%n]
		if model != "" && pr.Model != model {
			continue
		}
		out = append(out, *pr)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out
}
