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
embeddings, streaming) with configurable latency, time to first token, output
length, error rate and refusal rate per request category. It stands in for
vLLM when trying Sluice out.`,
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
