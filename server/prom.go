package server

import (
	"fmt"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/promgate"
	"github.com/sluicehq/sluice/rollout"
)

// prometheusGates returns the evaluator of rollouts' Prometheus gates, or
// nil when no Prometheus is configured (the controller then refuses
// rollouts that have gates, saying to set prometheus.url).
func prometheusGates(cfg config.Prometheus) (rollout.GateEvaluator, error) {
	if cfg.URL == "" {
		return nil, nil // a nil interface, not a nil *promgate.Client
	}
	c, err := promgate.New(promgate.Options{URL: cfg.URL, Timeout: cfg.Timeout})
	if err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	return c, nil
}
