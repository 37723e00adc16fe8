package fakellm

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/textproto"
	"sort"
	"strconv"
	"strings"
)

// Defaults applied by New (and WithDefaults) to zero Config fields.
const (
	// DefaultModel is the model name served when Config.Model is empty.
	DefaultModel = "fake-model"
	// DefaultCategoryHeader is the request header naming the category.
	DefaultCategoryHeader = "X-Request-Category"
	// DefaultEmbeddingDims is the embedding length when neither the
	// configuration nor the request sets one.
	DefaultEmbeddingDims = 64
)

// maxEmbeddingDims bounds embedding_dims and a request's dimensions.
const maxEmbeddingDims = 8192

// Config is the whole behaviour of a fake model server.
type Config struct {
	// Model is the name listed by /v1/models and used in responses to
	// requests that name no model; empty means DefaultModel.
	Model string `yaml:"model" json:"model"`
	// StrictModel makes requests for any model other than Model fail with
	// 404 model_not_found, as vLLM does; false echoes any requested name.
	StrictModel bool `yaml:"strict_model" json:"strict_model"`
	// Default is the behaviour of requests whose category has no entry in
	// Categories (including requests without a category).
	Default Behavior `yaml:"default" json:"default"`
	// Categories maps a category, as sent in CategoryHeader, to its
	// behaviour. An entry replaces Default wholesale; nil means every
	// request behaves as Default.
	Categories map[string]Behavior `yaml:"categories" json:"categories"`
	// Seed seeds the server's random draws; zero is a seed like any other,
	// so runs are reproducible unless a seed is chosen per run.
	Seed uint64 `yaml:"seed" json:"seed"`
	// CategoryHeader is the request header that names the category; empty
	// means DefaultCategoryHeader.
	CategoryHeader string `yaml:"category_header" json:"category_header"`
	// EmbeddingDims is the length of embeddings when the request sets no
	// dimensions; zero means DefaultEmbeddingDims.
	EmbeddingDims int `yaml:"embedding_dims" json:"embedding_dims"`
	// KeepAlive makes every event stream (chat, completions, Responses, a
	// response streamed by id, speech as events) send a keep-alive, a
	// block of one comment (": keep-alive", then a blank line), before
	// each write of its events, as sse-starlette's ping and OpenRouter
	// send them while a model thinks. False sends none.
	KeepAlive bool `yaml:"keep_alive" json:"keep_alive"`
	// TranscriptionStream is the shape of a streamed transcription:
	// "openai" (or empty: gpt-4o-transcribe's transcript.text.delta and
	// transcript.text.done events, usage in the last) or "vllm" (vLLM's
	// transcription.chunk objects, a word each, then data: [DONE], with a
	// last chunk of usage and no choices only when the form asks
	// stream_include_usage=true, as vLLM sends it).
	TranscriptionStream string `yaml:"transcription_stream" json:"transcription_stream"`
}

// WithDefaults returns a copy of c with zero fields set to their defaults
// and CategoryHeader in canonical form.
func (c Config) WithDefaults() Config {
	if c.Model == "" {
		c.Model = DefaultModel
	}
	if c.CategoryHeader == "" {
		c.CategoryHeader = DefaultCategoryHeader
	}
	c.CategoryHeader = textproto.CanonicalMIMEHeaderKey(c.CategoryHeader)
	if c.EmbeddingDims == 0 {
		c.EmbeddingDims = DefaultEmbeddingDims
	}
	return c
}

// Behavior returns the behaviour of a category: its entry in Categories, or
// Default.
func (c *Config) Behavior(category string) Behavior {
	if b, ok := c.Categories[category]; ok {
		return b
	}
	return c.Default
}

// Sample draws the outcome of one request of the given category. It is pure:
// the result depends only on c, category and the state of rng, and no clock
// is read, so simulators can run it on virtual time.
func (c *Config) Sample(rng *rand.Rand, category string) Outcome {
	if b, ok := c.Categories[category]; ok {
		return b.Sample(rng)
	}
	return c.Default.Sample(rng)
}

// Validate checks every field and returns all problems found, each naming
// its key as written in YAML (for example "categories.code.error_rate").
func (c *Config) Validate() error {
	var errs []error
	if c.CategoryHeader != "" && !validHeaderName(c.CategoryHeader) {
		errs = append(errs, fmt.Errorf("category_header: %q is not a valid HTTP header name", c.CategoryHeader))
	}
	if c.EmbeddingDims < 0 || c.EmbeddingDims > maxEmbeddingDims {
		errs = append(errs, fmt.Errorf("embedding_dims: must be between 0 and %d, got %d", maxEmbeddingDims, c.EmbeddingDims))
	}
	if c.TranscriptionStream != "" && c.TranscriptionStream != "openai" && c.TranscriptionStream != "vllm" {
		errs = append(errs, fmt.Errorf("transcription_stream: %q is not a shape of stream: use openai (transcript.text events) or vllm (transcription.chunk objects)", c.TranscriptionStream))
	}
	errs = c.Default.validate("default", errs)
	names := make([]string, 0, len(c.Categories))
	for name := range c.Categories {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "" {
			errs = append(errs, errors.New("categories: a category name is empty"))
			continue
		}
		b := c.Categories[name]
		errs = b.validate("categories."+name, errs)
	}
	return errors.Join(errs...)
}

// Validate checks b's fields; errors name keys relative to the behaviour.
func (b *Behavior) Validate() error {
	return errors.Join(b.validate("", nil)...)
}

func (b *Behavior) validate(prefix string, errs []error) []error {
	key := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	errs = b.Latency.validate(key("latency"), errs)
	errs = b.TTFT.validate(key("ttft"), errs)
	if !finite(b.TokensPerSecond) || b.TokensPerSecond < 0 {
		errs = append(errs, fmt.Errorf("%s: must be zero or positive, got %v", key("tokens_per_second"), b.TokensPerSecond))
	}
	if b.OutputTokens.Mean < 0 {
		errs = append(errs, fmt.Errorf("%s: must be zero or positive, got %d", key("output_tokens.mean"), b.OutputTokens.Mean))
	}
	if b.OutputTokens.Spread < 0 {
		errs = append(errs, fmt.Errorf("%s: must be zero or positive, got %d", key("output_tokens.spread"), b.OutputTokens.Spread))
	}
	errs = validRate(key("error_rate"), b.ErrorRate, errs)
	errs = validRate(key("overload_rate"), b.OverloadRate, errs)
	if sum := b.ErrorRate + b.OverloadRate; finite(sum) && sum > 1+1e-9 {
		errs = append(errs, fmt.Errorf("%s + %s: must be at most 1 together (each is a share of the same requests), got %v", key("error_rate"), key("overload_rate"), sum))
	}
	if !finite(b.OverloadRetryAfterMS) || b.OverloadRetryAfterMS < 0 {
		errs = append(errs, fmt.Errorf("%s: must be zero (1000) or positive, got %v", key("overload_retry_after_ms"), b.OverloadRetryAfterMS))
	}
	errs = validRate(key("refusal_rate"), b.RefusalRate, errs)
	errs = validRate(key("cache_hit_rate"), b.CacheHitRate, errs)
	errs = validRate(key("quality"), b.Quality, errs)
	errs = validRate(key("tool_call_rate"), b.ToolCallRate, errs)
	errs = validRate(key("stream_error_rate"), b.StreamErrorRate, errs)
	errs = validRate(key("stream_cut_rate"), b.StreamCutRate, errs)
	errs = validRate(key("bad_answer_rate"), b.BadAnswerRate, errs)
	errs = validRate(key("ignore_stream_rate"), b.IgnoreStreamRate, errs)
	if sum := b.StreamErrorRate + b.StreamCutRate + b.BadAnswerRate + b.IgnoreStreamRate; finite(sum) && sum > 1+1e-9 {
		errs = append(errs, fmt.Errorf("%s + %s + %s + %s: must be at most 1 together (each is a share of the same requests), got %v", key("stream_error_rate"), key("stream_cut_rate"), key("bad_answer_rate"), key("ignore_stream_rate"), sum))
	}
	errs = validChoice(key("stream_error_at"), b.StreamErrorAt, errs, FaultAtFirst, FaultAtMiddle)
	errs = validChoice(key("stream_error_type"), b.StreamErrorType, errs, StreamErrorServer, StreamErrorOverloaded)
	errs = validChoice(key("stream_cut_at"), b.StreamCutAt, errs, FaultAtFirst, FaultAtMiddle)
	errs = validChoice(key("bad_answer"), b.BadAnswer, errs, BadAnswerHTML, BadAnswerCut, BadAnswerJSONError, BadAnswerOverloaded)
	if e := b.IgnoreStreamEncoding; e != "" && e != EncodingGzip && e != EncodingDeflate {
		errs = append(errs, fmt.Errorf("%s: must be \"gzip\" or \"deflate\" (or left out for none), got %q", key("ignore_stream_encoding"), e))
	}
	if b.ErrorStatus != 0 && (b.ErrorStatus < 400 || b.ErrorStatus > 599) {
		errs = append(errs, fmt.Errorf("%s: must be an HTTP error status (400-599), got %d", key("error_status"), b.ErrorStatus))
	}
	return errs
}

func (d Distribution) validate(key string, errs []error) []error {
	if !finite(d.MedianMS) || d.MedianMS < 0 {
		errs = append(errs, fmt.Errorf("%s.median_ms: must be zero or positive, got %v", key, d.MedianMS))
	}
	if !finite(d.P99MS) || d.P99MS < 0 {
		errs = append(errs, fmt.Errorf("%s.p99_ms: must be zero or positive, got %v", key, d.P99MS))
	} else if d.P99MS != 0 && d.P99MS < d.MedianMS {
		errs = append(errs, fmt.Errorf("%s.p99_ms: must be at least median_ms (%v), got %v; use 0 for a fixed duration", key, d.MedianMS, d.P99MS))
	}
	return errs
}

func validRate(key string, v float64, errs []error) []error {
	if !finite(v) || v < 0 || v > 1 {
		errs = append(errs, fmt.Errorf("%s: must be between 0 and 1, got %v", key, v))
	}
	return errs
}

// validChoice checks that v is empty (the first choice) or one of choices.
func validChoice(key, v string, errs []error, choices ...string) []error {
	if v == "" {
		return errs
	}
	quoted := make([]string, len(choices))
	for i, c := range choices {
		if v == c {
			return errs
		}
		quoted[i] = strconv.Quote(c)
	}
	quoted[0] += " (the default)"
	last := len(quoted) - 1
	return append(errs, fmt.Errorf("%s: must be %s or %s, got %q", key, strings.Join(quoted[:last], ", "), quoted[last], v))
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// validHeaderName reports whether s is an RFC 7230 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == '!' || c == '#' || c == '$' ||
			c == '%' || c == '&' || c == '\'' || c == '*' || c == '+' || c == '^' ||
			c == '`' || c == '|' || c == '~':
		default:
			return false
		}
	}
	return true
}
