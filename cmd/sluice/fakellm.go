package main

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/fakellm"
)

func (c *cli) fakellmCmd() *cobra.Command {
	var listen, cfgPath, model string
	var latency, latencyP99 time.Duration
	cmd := &cobra.Command{
		Use:   "fakellm",
		Short: "Run a simulated OpenAI-compatible model server (for tests, demos and benchmarks)",
		Long: `Run a simulated model server that speaks the OpenAI API (chat, completions,
the Responses API, embeddings, streaming, and vLLM's rerank and score,
moderations, image generation, edits and variations, speech, and audio
transcription and translation) with configurable latency, time to first
token, output length, error rate and refusal rate per request category.
It stands in for vLLM when trying Sluice out.

With -c, a behaviour file (YAML, every key optional) sets how it answers; a
candidate that fails or refuses, to see a rollout roll back, is a line or two:

` + fakellmExample + `
A backend that fails after its 200 (vLLM sends an error event when a GPU
runs out of memory mid-generation; a proxy in front of it may answer 200
with an HTML page), which the gateway counts as the version's failed
attempt, is a line or two too. The gateway retries it on stable when it
chose the version and none of the answer has reached the client: a fault
at first or a bad answer; one mid-way reaches the client. Each rate is
a share of the answers (the three together at most 1); the stream faults
apply to streamed chat, completions and Responses requests, a bad answer
to any of them:

` + fakellmFaultsExample + `
Request headers override one call: X-Fake-Status: 503 fails it, X-Fake-Latency-Ms: 2000 delays it,
X-Fake-Tokens: 50 sets its length.

Without -c or --latency it answers at once, which no model server does: a
canary of two such servers on a busy machine is then judged on the
machine's millisecond noise (a first canary of an identical version was
rolled back on "latency p95: 19 ms vs 8.6 ms"). To try a rollout, give
both versions a model server's latency: --latency 60ms (every answer), or
--latency 60ms --latency-p99 250ms (lognormal).`,
		Example: `  sluice fakellm --listen 127.0.0.1:8001 --latency 60ms --latency-p99 250ms   # a healthy backend
  sluice fakellm --listen 127.0.0.1:8002 -c failing.yaml                      # a bad candidate
  sluice fakellm --listen 127.0.0.1:8002 -c faults.yaml --latency 60ms        # one failing after its 200`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var cfg fakellm.Config
			if cfgPath != "" {
				var err error
				if cfg, err = fakellm.LoadConfig(cfgPath); err != nil {
					return err
				}
			}
			if model != "" {
				cfg.Model = model
			}
			switch {
			case latency < 0 || latencyP99 < 0:
				return fmt.Errorf("--latency and --latency-p99 must not be negative: give a model server's answer time, such as --latency 60ms --latency-p99 250ms")
			case latencyP99 > 0 && latencyP99 <= latency:
				return fmt.Errorf("--latency-p99 %s must be above --latency %s (the median): such as --latency 60ms --latency-p99 250ms, or --latency alone for the same time every answer", latencyP99, latency)
			case latencyP99 > 0 && latency == 0:
				return fmt.Errorf("--latency-p99 needs --latency, the median: such as --latency 60ms --latency-p99 250ms")
			}
			if latency > 0 {
				// The flags set the default behaviour's latency, over the
				// file's; a category the file gives its own entry keeps it.
				cfg.Default.Latency = fakellm.Distribution{MedianMS: float64(latency) / float64(time.Millisecond), P99MS: float64(latencyP99) / float64(time.Millisecond)}
			}
			s := fakellm.New(cfg)
			if err := s.Start(listen); err != nil {
				if errors.Is(err, syscall.EADDRINUSE) {
					return fmt.Errorf("%w: another process is using the port; stop it, or pass another --listen (such as 127.0.0.1:8002)", err)
				}
				return err
			}
			fmt.Fprintf(c.stderr, "fakellm %q serving the OpenAI API at %s/v1\n", s.Config().Model, s.URL())
			<-cmd.Context().Done()
			s.Close()
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8001", "address to listen on")
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "behaviour file (YAML): latency, ttft, tokens_per_second, output_tokens, error_rate, overload_rate, refusal_rate, tool_call_rate, stream_error_rate, stream_cut_rate, bad_answer_rate, ignore_stream_rate, ignore_stream_encoding, per category; keep_alive")
	cmd.Flags().StringVar(&model, "model", "", "model name to report")
	cmd.Flags().DurationVar(&latency, "latency", 0, "time to answer, the median (such as 60ms); over the behaviour file's default latency; 0 answers at once")
	cmd.Flags().DurationVar(&latencyP99, "latency-p99", 0, "the answer time's 99th percentile, above --latency (lognormal); without it every answer takes --latency")
	return cmd
}

// fakellmExample is the behaviour file shown in sluice fakellm --help
// (TestCLI_FakellmHelpExampleLoads loads it).
const fakellmExample = `  # failing.yaml
  model: llama-3-8b-ft2          # the name /v1/models reports
  default: &default
    latency: {median_ms: 120, p99_ms: 900}   # lognormal; a bare number is fixed
    ttft: {median_ms: 80, p99_ms: 400}       # streams only
    tokens_per_second: 60
    output_tokens: {mean: 120, spread: 60}
    error_rate: 0.2              # a fifth of requests answer 500 (error_status)
    overload_rate: 0.1           # a tenth refused 429 "Model is overloaded", Retry-After 1 s (overload_retry_after_ms)
    refusal_rate: 0.3            # "I cannot help with that request."
    tool_call_rate: 0.8          # of the answers to requests that offer tools
  categories:
    payments:                    # requests with X-Request-Category: payments
      <<: *default               # an entry replaces default whole: merge it in
      refusal_rate: 0.5
`

// fakellmFaultsExample is the behaviour file of faults after the 200 shown
// in sluice fakellm --help (TestCLI_FakellmHelpExampleLoads loads it).
const fakellmFaultsExample = `  # faults.yaml
  keep_alive: true               # event streams send ": keep-alive" blocks first and between events
  default:
    stream_error_rate: 0.3       # the stream's first event is the backend's error event
    stream_error_at: first       # or middle: after half the answer's events
    stream_error_type: server_error # or overloaded: TGI's "Model is overloaded" event (rate_limit_exceeded in a Responses stream)
    stream_cut_rate: 0.1         # the connection closed, no [DONE] (stream_cut_at: first or middle)
    bad_answer_rate: 0.05        # a whole 200 that is no answer, streamed or not:
    bad_answer: html             # an HTML page; cut: the JSON cut short; json_error: an OpenAI error; overloaded: TGI's refusal for load
    ignore_stream_rate: 0.05     # a stream answered whole (JSON, no events), as a backend ignoring "stream"
    ignore_stream_encoding: gzip # those whole answers gzipped, unasked, as a compressing cache sends them (or deflate)
`
