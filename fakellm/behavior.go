package fakellm

import (
	"math"
	"math/rand/v2"
	"net/http"
	"time"
)

// DefaultOutputTokens is the answer length, in tokens, of a Behavior whose
// OutputTokens.Mean is zero.
const DefaultOutputTokens = 8

// DefaultRefusal is the answer of a refused request when
// Behavior.RefusalText is empty.
const DefaultRefusal = "I cannot help with that request."

// z99 is the 0.99 quantile of the standard normal distribution.
const z99 = 2.3263478740408408

// maxDrawMS caps drawn durations (one day) so a wide distribution cannot
// overflow time.Duration.
const maxDrawMS = 24 * 60 * 60 * 1000

// Distribution is a random duration given by its median and 99th percentile
// in milliseconds. With P99MS above MedianMS it is lognormal; with P99MS zero
// (or equal to the median) every draw is exactly MedianMS. The zero value is
// always zero. In YAML and JSON a bare number is shorthand for a fixed
// duration: `latency: 150`.
type Distribution struct {
	// MedianMS is the median in milliseconds; zero means no delay.
	MedianMS float64 `yaml:"median_ms" json:"median_ms"`
	// P99MS is the 99th percentile in milliseconds; zero means fixed at
	// MedianMS. It must not be below MedianMS.
	P99MS float64 `yaml:"p99_ms" json:"p99_ms"`
}

// IsZero reports whether d is the zero Distribution.
func (d Distribution) IsZero() bool { return d.MedianMS == 0 && d.P99MS == 0 }

// sigma is the standard deviation of log(duration).
func (d Distribution) sigma() float64 {
	if d.MedianMS <= 0 || d.P99MS <= d.MedianMS {
		return 0
	}
	return math.Log(d.P99MS/d.MedianMS) / z99
}

// at returns the duration at standard normal deviate z.
func (d Distribution) at(z float64) time.Duration {
	if d.MedianMS <= 0 {
		return 0
	}
	ms := d.MedianMS * math.Exp(d.sigma()*z)
	if ms > maxDrawMS || math.IsNaN(ms) {
		ms = maxDrawMS
	}
	return time.Duration(ms * float64(time.Millisecond))
}

// Sample draws one duration. It always consumes exactly one normal deviate
// from rng, fixed distributions included, so that behaviours differing only
// in their numbers see the same random stream.
func (d Distribution) Sample(rng *rand.Rand) time.Duration {
	return d.at(rng.NormFloat64())
}

// Quantile returns the duration below which a fraction q of draws fall;
// q is clamped to [0.000001, 0.999999].
func (d Distribution) Quantile(q float64) time.Duration {
	q = min(max(q, 1e-6), 1-1e-6)
	return d.at(math.Sqrt2 * math.Erfinv(2*q-1))
}

// TokenCount is the distribution of answer lengths in tokens: uniform over
// [Mean-Spread, Mean+Spread], never below one. A zero Mean means
// DefaultOutputTokens. In YAML and JSON a bare number is shorthand for a
// fixed length: `output_tokens: 100`.
type TokenCount struct {
	// Mean is the average answer length; zero means DefaultOutputTokens.
	Mean int `yaml:"mean" json:"mean"`
	// Spread is the half-width of the uniform range; zero means fixed.
	Spread int `yaml:"spread" json:"spread"`
}

// Sample draws one answer length, consuming exactly one uniform value.
func (t TokenCount) Sample(rng *rand.Rand) int {
	return t.at(rng.Float64())
}

// at returns the length at uniform value u in [0, 1).
func (t TokenCount) at(u float64) int {
	mean := t.Mean
	if mean <= 0 {
		mean = DefaultOutputTokens
	}
	n := mean
	if t.Spread > 0 {
		n = mean - t.Spread + int(u*float64(2*t.Spread+1))
	}
	return max(n, 1)
}

// Behavior is how the fake model answers one category of requests. The zero
// Behavior answers instantly, never fails or refuses, and produces
// DefaultOutputTokens tokens.
type Behavior struct {
	// Latency is the time a non-streamed request takes before the whole
	// answer (or error) is sent. Zero means instant.
	Latency Distribution `yaml:"latency" json:"latency"`
	// TTFT is the time to the first chunk of a streamed answer. The zero
	// value means: use a draw from Latency instead.
	TTFT Distribution `yaml:"ttft" json:"ttft"`
	// TokensPerSecond paces streamed chunks after the first; zero sends
	// them back to back.
	TokensPerSecond float64 `yaml:"tokens_per_second" json:"tokens_per_second"`
	// OutputTokens is the distribution of answer lengths.
	OutputTokens TokenCount `yaml:"output_tokens" json:"output_tokens"`
	// ErrorRate is the fraction of requests that fail with ErrorStatus and
	// an OpenAI-shaped error body.
	ErrorRate float64 `yaml:"error_rate" json:"error_rate"`
	// ErrorStatus is the HTTP status of failed requests; zero means 500.
	ErrorStatus int `yaml:"error_status" json:"error_status"`
	// RefusalRate is the fraction of successful requests whose answer is
	// RefusalText instead of generated text.
	RefusalRate float64 `yaml:"refusal_rate" json:"refusal_rate"`
	// RefusalText is the refused answer; empty means DefaultRefusal.
	RefusalText string `yaml:"refusal_text" json:"refusal_text"`
	// Quality is an optional hint in [0, 1] of how good this version's
	// answers are, for simulators and fake judges; the server reports a
	// non-zero value in the X-Fake-Quality response header.
	Quality float64 `yaml:"quality" json:"quality"`
	// ReportCache makes usage carry prompt_tokens_details.cached_tokens, as
	// vLLM with prefix caching and OpenAI do; CacheHitRate is the fraction
	// of answered requests whose whole prompt is then reported as cached
	// (the others report 0).
	ReportCache  bool    `yaml:"report_cache" json:"report_cache"`
	CacheHitRate float64 `yaml:"cache_hit_rate" json:"cache_hit_rate"`
	// ToolCallRate is the fraction of successful, non-refused answers to
	// chat and Responses requests that offer tools (a non-empty tools or functions array
	// not turned off by tool_choice or function_call "none") that call the
	// first tool offered instead of answering in text. Requests without
	// tools are answered in text whatever it says.
	ToolCallRate float64 `yaml:"tool_call_rate" json:"tool_call_rate"`
}

// Sample draws the outcome of one request. It consumes exactly five values
// from rng in a fixed order (error, refusal, latency, time to first token,
// length) whatever the behaviour, so two behaviours sampled with equally
// seeded generators differ only where their parameters do; a behaviour
// with ReportCache draws a sixth, the cache hit, and one with a ToolCallRate
// another, the tool call, last.
func (b *Behavior) Sample(rng *rand.Rand) Outcome {
	uErr, uRef := rng.Float64(), rng.Float64()
	zLat, zTTFT := rng.NormFloat64(), rng.NormFloat64()
	uTok := rng.Float64()

	o := Outcome{
		Status:  http.StatusOK,
		Latency: b.Latency.at(zLat),
		Quality: b.Quality,
	}
	if b.TTFT.IsZero() {
		o.TTFT = o.Latency
	} else {
		o.TTFT = b.TTFT.at(zTTFT)
	}
	if b.TokensPerSecond > 0 {
		o.TokenInterval = time.Duration(float64(time.Second) / b.TokensPerSecond)
	}
	switch {
	case uErr < b.ErrorRate:
		status := b.ErrorStatus
		if status == 0 {
			status = http.StatusInternalServerError
		}
		o.Fail(status)
	case uRef < b.RefusalRate:
		o.Refusal = true
		o.Content = b.RefusalText
		if o.Content == "" {
			o.Content = DefaultRefusal
		}
		o.OutputTokens = CountTokens(o.Content)
		o.FinishReason = "stop"
	default:
		o.SetTokens(b.OutputTokens.at(uTok))
	}
	if b.ReportCache {
		hit := rng.Float64() < b.CacheHitRate
		o.CacheReported, o.CacheHit = o.OK(), o.OK() && hit
	}
	if b.ToolCallRate > 0 {
		call := rng.Float64() < b.ToolCallRate
		o.ToolCall = call && o.OK() && !o.Refusal
	}
	return o
}

// Outcome is what one request experiences, as drawn by Sample.
type Outcome struct {
	// Status is the HTTP status: 200, or the error status of a failure.
	Status int
	// ErrorClass is the OpenAI error type of a failure ("server_error",
	// "rate_limit_error", "invalid_request_error"); empty on success.
	ErrorClass string
	// Latency is the time before a non-streamed answer or any error.
	Latency time.Duration
	// TTFT is the time from the request to the first streamed chunk.
	TTFT time.Duration
	// TokenInterval is the time between streamed chunks after the first.
	TokenInterval time.Duration
	// OutputTokens is the length of Content in tokens (words).
	OutputTokens int
	// Refusal reports that Content is a refusal.
	Refusal bool
	// Content is the answer text; empty on failure.
	Content string
	// FinishReason is "stop", or "length" when cut by max_tokens; empty on
	// failure.
	FinishReason string
	// Quality is the behaviour's quality hint, copied through.
	Quality float64
	// CacheReported says usage reports cached prompt tokens; CacheHit that
	// the whole prompt is reported cached (else none of it).
	CacheReported, CacheHit bool
	// ToolCall says the answer calls a tool instead of the text in Content,
	// if its request offers tools: the server answers a chat request that
	// offers none with Content, and a simulator decides which of its
	// requests offer tools.
	ToolCall bool
}

// OK reports whether the request succeeded.
func (o *Outcome) OK() bool { return o.Status < 400 }

// StreamDuration is how long a streamed answer takes from the request to its
// last chunk: the time to first token plus one interval per further token.
func (o *Outcome) StreamDuration() time.Duration {
	if !o.OK() {
		return o.Latency
	}
	return o.TTFT + time.Duration(max(o.OutputTokens-1, 0))*o.TokenInterval
}

// Fail turns the outcome into a failure with the given HTTP status.
func (o *Outcome) Fail(status int) {
	o.Status = status
	o.ErrorClass = errorClass(status)
	o.OutputTokens = 0
	o.Refusal = false
	o.Content = ""
	o.FinishReason = ""
	o.ToolCall = false
}

// SetTokens makes a successful, non-refused outcome answer with exactly n
// generated tokens; failures and refusals are left alone.
func (o *Outcome) SetTokens(n int) {
	if !o.OK() || o.Refusal {
		return
	}
	n = max(n, 0)
	o.OutputTokens = n
	o.Content = GeneratedText(n)
	o.FinishReason = "stop"
}

// Limit cuts the answer to at most maxTokens tokens, as a request's
// max_tokens does, and then reports finish reason "length". A maxTokens of
// zero or less means no limit.
func (o *Outcome) Limit(maxTokens int) {
	if maxTokens <= 0 || !o.OK() || o.OutputTokens <= maxTokens {
		return
	}
	o.Content = truncateTokens(o.Content, maxTokens)
	o.OutputTokens = maxTokens
	o.FinishReason = "length"
}

// errorClass maps an HTTP status to the OpenAI error type clients expect.
func errorClass(status int) string {
	switch {
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status >= 500:
		return "server_error"
	default:
		return "invalid_request_error"
	}
}
