package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (c *cli) alertCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "alert", Short: "Check the rollouts' alert webhooks (rollouts.alerts in the gateway's config): test"})
	var severity, reason string
	test := &cobra.Command{
		Use:   "test [--severity info|warning|critical]",
		Short: "Send a test alert to every alert webhook through the gateway; say which took it (admin role)",
		Long: "Send a test alert, marked as a test, to every webhook of rollouts.alerts in the running gateway's config, whatever its severity and events filters, " +
			"one attempt each (no retries), and print what each did: delivered, or the receiver's status and error. " +
			"A pagerduty webhook opens an incident (dedup key sluice:test) that you resolve in PagerDuty, an opsgenie one an alert (alias sluice-test) that you close in Opsgenie. Exits 1 when any webhook did not take it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			res, err := cl.TestAlerts(cmd.Context(), severity, reason)
			if err != nil {
				return err
			}
			if c.output == "json" {
				if err := c.printJSON(res); err != nil {
					return err
				}
			}
			if len(res.Deliveries) == 0 {
				return fmt.Errorf("the gateway has no alert webhooks: add them under rollouts.alerts in its config (see the README's Rollouts section), then reload it (SIGHUP)")
			}
			failed := 0
			for _, d := range res.Deliveries {
				what := fmt.Sprintf("delivered (%d)", d.Status)
				if !d.Delivered {
					failed++
					what = "NOT delivered: " + d.Error
				}
				if c.output != "json" {
					fmt.Fprintf(c.stdout, "rollouts.alerts[%d] %-10s %s  %s\n", d.Index, d.Format, d.Where, what)
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d alert webhooks did not take the test alert: check their url (and a pagerduty webhook's routing_key, an opsgenie one's api_key) in the gateway's config and the gateway's log", failed, len(res.Deliveries))
			}
			return nil
		},
	}
	test.Flags().StringVar(&severity, "severity", "info", "the test alert's severity: info, warning or critical")
	test.Flags().StringVar(&reason, "reason", "", "why (default: test of the alert webhooks; goes into the audit log)")
	cmd.AddCommand(test)
	return cmd
}
