// Package fakellm is a simulated LLM server that stands in for vLLM, TGI or
// Ollama in tests, the demo, benchmarks and simulations.
//
// It has two halves. The behaviour model (Config, Behavior, Outcome) is pure:
// Config.Sample draws what one request would experience (status, latency,
// time to first token, output length, refusal, tool call) from a caller-supplied
// *rand.Rand and never looks at a clock, so the simulator can drive it on a
// virtual clock. The Server wraps that model in an OpenAI-compatible HTTP API
// (/v1/chat/completions, /v1/completions, /v1/responses, /v1/embeddings,
// vLLM's /v1/rerank and /v1/score, /v1/moderations, /v1/images/generations,
// edits and variations, /v1/audio/speech, transcriptions and translations,
// /v1/models, /health), with server-sent-event streaming
// paced by
// tokens_per_second, and fault controls for tests: SetHealthy, SetHang, Kill
// and live SetBehavior. /v1/responses answers in the Responses shape and
// keeps the responses it answered (unless "store": false), so a
// previous_response_id it never answered gets a 404, as on a real backend.
//
// The Server waits on the wall clock (it stands in for a real backend);
// only Sample and the types it returns are clock-free.
//
// The fake tokenizer counts one output token per word (streams send one word
// per chunk) and estimates prompt tokens as one per four bytes of prompt
// text, OpenAI's rule of thumb.
//
// A configuration file looks like this (every key is optional):
//
//	model: llama-3-8b-v2
//	seed: 42
//	category_header: X-Request-Category
//	keep_alive: true   # event streams send ": keep-alive" blocks first and between events
//	transcription_stream: vllm   # streamed transcriptions as vLLM sends them (default openai)
//	default: &default
//	  latency: {median_ms: 120, p99_ms: 900}   # lognormal; a bare number is fixed
//	  ttft: {median_ms: 80, p99_ms: 400}       # streams only; omitted means use latency
//	  tokens_per_second: 60
//	  output_tokens: {mean: 120, spread: 60}   # uniform in [mean-spread, mean+spread]
//	  error_rate: 0.002
//	  refusal_rate: 0.01
//	  tool_call_rate: 0.8   # of the answers to chat and Responses requests that offer tools
//	  stream_error_rate: 0.01   # streams whose first event is the error event (stream_error_at: first|middle)
//	  stream_cut_rate: 0.01     # streams closed without their end (stream_cut_at: first|middle)
//	  bad_answer_rate: 0.01     # whole 200 bodies that are no answer (bad_answer: html|cut|json_error|overloaded)
//	  ignore_stream_rate: 0.01  # streams answered whole (JSON, no events), as a backend ignoring "stream"
//	  ignore_stream_encoding: gzip  # those whole answers encoded, unasked (gzip|deflate), as a compressing cache sends them
//	categories:
//	  code:
//	    <<: *default        # YAML merge: a category replaces the default wholesale
//	    error_rate: 0.05
//	    quality: 0.7
//
// Request headers let a single call override the draw: X-Fake-Tokens forces
// the number of output tokens, X-Fake-Latency-Ms fixes latency and time to
// first token, and X-Fake-Status forces an error status.
package fakellm
