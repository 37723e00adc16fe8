package main

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/fakellm"
)

func (c *cli) fakellmCmd() *cobra.Command {
	var listen, cfgPath, model string
	cmd := &cobra.Command{
		Use:   "fakellm",
		Short: "Run a simulated OpenAI-compatible model server (for tests, demos and benchmarks)",
		Long: `Run a simulated model server that speaks the OpenAI API (chat, completions,
the Responses API, embeddings, streaming, and vLLM's rerank and score,
moderations, image generation and speech) with configurable latency, time to
first token, output length, error rate and refusal rate per request category.
It stands in for vLLM when trying Sluice out.

With -c, a behaviour file (YAML, every key optional) sets how it answers; a
candidate that fails or refuses, to see a rollout roll back, is a line or two:

` + fakellmExample + `
Request headers override one call: X-Fake-Status: 503 fails it, X-Fake-Latency-Ms: 2000 delays it,
X-Fake-Tokens: 50 sets its length.`,
		Example: `  sluice fakellm --listen 127.0.0.1:8001                    # a healthy backend
  sluice fakellm --listen 127.0.0.1:8002 -c failing.yaml    # a bad candidate`,
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
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "behaviour file (YAML): latency, ttft, tokens_per_second, output_tokens, error_rate, refusal_rate, tool_call_rate, per category")
	cmd.Flags().StringVar(&model, "model", "", "model name to report")
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
    refusal_rate: 0.3            # "I cannot help with that request."
    tool_call_rate: 0.8          # of the answers to requests that offer tools
  categories:
    payments:                    # requests with X-Request-Category: payments
      <<: *default               # an entry replaces default whole: merge it in
      refusal_rate: 0.5
`
