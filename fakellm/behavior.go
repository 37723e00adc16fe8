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
	// OverloadRate is the fraction of requests refused for load before
	// any byte of the answer, as TGI's "Model is overloaded" or a hosted
	// backend's rate limit: a 429 with Retry-After and Retry-After-Ms of
	// OverloadRetryAfterMS. It takes its share of the same draw as
	// ErrorRate (the two are at most 1 together), so every other draw of
	// a seed is unchanged.
	OverloadRate float64 `yaml:"overload_rate" json:"overload_rate"`
	// OverloadRetryAfterMS is the wait an overloaded refusal asks for, in
	// milliseconds; zero means 1000.
	OverloadRetryAfterMS float64 `yaml:"overload_retry_after_ms" json:"overload_retry_after_ms"`
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
	// StreamErrorRate is the fraction of successful streamed chat,
	// completions and Responses requests whose stream, after its 200,
	// carries the backend's error event (as vLLM sends on a CUDA OOM
	// mid-generation) in place of its first event, or at StreamErrorAt.
	// Whole requests are answered as if it were zero.
	StreamErrorRate float64 `yaml:"stream_error_rate" json:"stream_error_rate"`
	// StreamErrorAt is where the error event comes: "first" (the
	// default: instead of the first event of the answer) or "middle"
	// (after half the answer's events).
	StreamErrorAt string `yaml:"stream_error_at" json:"stream_error_at"`
	// StreamErrorType is what the error event says: "server_error" (the
	// default: vLLM's event with code 500) or "overloaded", a refusal for
	// load inside the stream: TGI's {"error":"Model is overloaded",
	// "error_type":"overloaded"} in a chat or completions stream, a
	// response.failed (or mid-stream error event) whose code is
	// rate_limit_exceeded in a Responses one.
	StreamErrorType string `yaml:"stream_error_type" json:"stream_error_type"`
	// StreamCutRate is the fraction of successful streamed requests whose
	// connection the server closes after its 200, at StreamCutAt, with no
	// [DONE] or response.completed: a backend that died.
	StreamCutRate float64 `yaml:"stream_cut_rate" json:"stream_cut_rate"`
	// StreamCutAt is where the stream is cut: "first" (the default:
	// before the first event of the answer) or "middle".
	StreamCutAt string `yaml:"stream_cut_at" json:"stream_cut_at"`
	// BadAnswerRate is the fraction of successful chat, completions and
	// Responses requests, streamed or not, answered 200 with a whole body
	// that is not the answer, as BadAnswer says: what a proxy in front of
	// the backend or a backend's bug sends.
	BadAnswerRate float64 `yaml:"bad_answer_rate" json:"bad_answer_rate"`
	// BadAnswer is that body: "html" (the default: an HTML error page),
	// "cut" (the answer's JSON cut short), "json_error" (an OpenAI
	// error body) or "overloaded" (a refusal for load: TGI's
	// {"error":"Model is overloaded","error_type":"overloaded"}, which
	// some versions send whole with a 200).
	BadAnswer string `yaml:"bad_answer" json:"bad_answer"`
	// IgnoreStreamRate is the fraction of successful streamed chat,
	// completions and Responses requests answered with the whole answer
	// a request without "stream" gets (a JSON body, no events), as a
	// backend that ignores "stream" (some llama.cpp and Ollama setups,
	// a caching proxy in front of one) answers. Whole requests are
	// answered as if it were zero.
	IgnoreStreamRate float64 `yaml:"ignore_stream_rate" json:"ignore_stream_rate"`
	// IgnoreStreamEncoding is the Content-Encoding those whole answers
	// come with though the request asked for none, as a compressing
	// cache or proxy in front of the backend sends them: "gzip" or
	// "deflate"; empty sends them unencoded.
	IgnoreStreamEncoding string `yaml:"ignore_stream_encoding" json:"ignore_stream_encoding"`
}

// The encodings of an ignored stream's whole answer
// (Behavior.IgnoreStreamEncoding).
const (
	EncodingGzip    = "gzip"
	EncodingDeflate = "deflate"
)

// Where a stream fault happens (Behavior.StreamErrorAt, StreamCutAt).
const (
	FaultAtFirst  = "first"
	FaultAtMiddle = "middle"
)

// What a stream's error event says (Behavior.StreamErrorType).
const (
	StreamErrorServer     = "server_error"
	StreamErrorOverloaded = "overloaded"
)

// The bodies of a bad answer (Behavior.BadAnswer).
const (
	BadAnswerHTML      = "html"
	BadAnswerCut       = "cut"
	BadAnswerJSONError = "json_error"
	// BadAnswerOverloaded is TGI's refusal for load sent whole with a
	// 200, beside StreamErrorOverloaded, its form inside a stream.
	BadAnswerOverloaded = "overloaded"
)

// FaultKind is a way an answer fails after its 200.
type FaultKind uint8

const (
	// FaultNone is an answer that does not fail after its 200.
	FaultNone FaultKind = iota
	// FaultStreamError sends the backend's error event in a stream.
	FaultStreamError
	// FaultStreamCut closes a stream's connection without its end.
	FaultStreamCut
	// FaultBadAnswer answers 200 with a body that is not the answer.
	FaultBadAnswer
	// FaultIgnoreStream answers a streamed request with the whole answer
	// (IgnoreStreamRate): an answer, which a gateway may relay as a
	// stream, but no stream.
	FaultIgnoreStream
)

// String returns the behaviour key of the fault's rate's stem.
func (k FaultKind) String() string {
	switch k {
	case FaultStreamError:
		return "stream_error"
	case FaultStreamCut:
		return "stream_cut"
	case FaultBadAnswer:
		return "bad_answer"
	case FaultIgnoreStream:
		return "ignore_stream"
	}
	return "none"
}

// Fault is how a request drawn to succeed fails after its 200, if it does.
type Fault struct {
	Kind FaultKind
	// Middle says a stream fault comes after half the answer's events
	// rather than in place of the first.
	Middle bool
	// Body is a bad answer's body: BadAnswerHTML, BadAnswerCut,
	// BadAnswerJSONError or BadAnswerOverloaded; for an ignored stream, the Content-Encoding of
	// its whole answer (IgnoreStreamEncoding), "" for none; for a stream
	// error, StreamErrorOverloaded or "" (StreamErrorType).
	Body string
}

// faults reports whether b has any fault after the 200.
func (b *Behavior) faults() bool {
	return b.StreamErrorRate > 0 || b.StreamCutRate > 0 || b.BadAnswerRate > 0 || b.IgnoreStreamRate > 0
}

// fault returns the fault at uniform value u: the four rates share [0, 1)
// in turn (bad answer, stream error, stream cut, ignored stream), so each
// is the fraction it says of the requests it applies to.
func (b *Behavior) fault(u float64) Fault {
	switch {
	case u < b.BadAnswerRate:
		body := b.BadAnswer
		if body == "" {
			body = BadAnswerHTML
		}
		return Fault{Kind: FaultBadAnswer, Body: body}
	case u < b.BadAnswerRate+b.StreamErrorRate:
		f := Fault{Kind: FaultStreamError, Middle: b.StreamErrorAt == FaultAtMiddle}
		if b.StreamErrorType == StreamErrorOverloaded {
			f.Body = StreamErrorOverloaded
		}
		return f
	case u < b.BadAnswerRate+b.StreamErrorRate+b.StreamCutRate:
		return Fault{Kind: FaultStreamCut, Middle: b.StreamCutAt == FaultAtMiddle}
	case u < b.BadAnswerRate+b.StreamErrorRate+b.StreamCutRate+b.IgnoreStreamRate:
		return Fault{Kind: FaultIgnoreStream, Body: b.IgnoreStreamEncoding}
	}
	return Fault{}
}

// Sample draws the outcome of one request. It consumes exactly five values
// from rng in a fixed order (error, refusal, latency, time to first token,
// length) whatever the behaviour, so two behaviours sampled with equally
// seeded generators differ only where their parameters do (the error
// draw decides ErrorRate's failures, then OverloadRate's refusals); a behaviour
// with ReportCache draws a sixth, the cache hit, one with a ToolCallRate
// another, the tool call, and one with a StreamErrorRate, StreamCutRate,
// BadAnswerRate or IgnoreStreamRate another, the fault after the 200, last. A request that
// fails before its 200 (ErrorRate) has no fault after it.
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
	case uErr < b.ErrorRate+b.OverloadRate:
		o.Fail(http.StatusTooManyRequests)
		o.RetryAfter = DefaultOverloadRetryAfter
		if b.OverloadRetryAfterMS > 0 {
			o.RetryAfter = time.Duration(b.OverloadRetryAfterMS * float64(time.Millisecond))
		}
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
	if b.faults() {
		f := b.fault(rng.Float64())
		if o.OK() {
			o.Fault = f
		}
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
	// Fault is how the answer fails after its 200 status, if it does;
	// the zero Fault on failures. A stream fault applies to streamed
	// requests only: FailsAfter200 says whether it applies to one.
	Fault Fault
	// RetryAfter is the wait a refusal for load (Behavior.OverloadRate)
	// asks for in Retry-After and Retry-After-Ms; zero on any other
	// outcome.
	RetryAfter time.Duration
}

// DefaultOverloadRetryAfter is the wait a refusal for load asks for when
// Behavior.OverloadRetryAfterMS is zero.
const DefaultOverloadRetryAfter = time.Second

// OK reports whether the request got a successful status (a fault after
// it aside: see FailsAfter200).
func (o *Outcome) OK() bool { return o.Status < 400 }

// FailsAfter200 reports whether the request, streamed or not, fails after
// its 200: a bad answer always, a stream fault when streamed. A stream
// answered whole (FaultIgnoreStream) does not: it is an answer, which a
// gateway relays as a stream.
func (o *Outcome) FailsAfter200(stream bool) bool {
	switch o.Fault.Kind {
	case FaultBadAnswer:
		return true
	case FaultStreamError, FaultStreamCut:
		return stream
	}
	return false
}

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
	o.Fault = Fault{}
	o.RetryAfter = 0
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
