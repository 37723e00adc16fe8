package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

func (c *cli) setCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "set", Short: "Change a model's routing"})
	var reason, salt string
	split := &cobra.Command{
		Use:   "split MODEL VERSION=PERCENT... --reason \"why\"",
		Short: "Split a model's traffic between versions (weights sum to 100)",
		Example: `  sluice set split chat v1.1.0=95 v1.2.0=5 --reason "canary the new fine-tune"
  sluice set split chat v1.1.0=95 v1.2.0=5 --salt 2026-11 --reason "rotate the canary cohort"`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, err := sluice.ParseWeights(args[1:])
			if err != nil {
				return err
			}
			if err := requireReason(reason); err != nil {
				return err
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			res, err := cl.SetSplit(cmd.Context(), args[0], ws, salt, reason)
			if err != nil {
				return err
			}
			if err := c.printResult(res, "split of "+args[0]+" set to "+strings.Join(args[1:], " ")); err != nil {
				return err
			}
			// After a promotion stable names the new version; a split set
			// by hand that gives it the smaller share leaves its failures
			// retried on itself.
			if m, err := cl.Model(cmd.Context(), args[0]); err == nil {
				if note := sluice.SplitStableNote(args[0], ws, m.Labels["stable"]); note != "" {
					fmt.Fprintf(c.stderr, "warning: %s\n", note)
				}
			}
			return nil
		},
	}
	split.Flags().StringVar(&reason, "reason", "", "why (required; goes into the audit log)")
	split.Flags().StringVar(&salt, "salt", "", "new sticky salt: rotates which users land on which version")
	var preason string
	policy := &cobra.Command{
		Use:   "policy MODEL latest|all|specific VERSION|off --reason \"why\"",
		Short: "Set a model's policy: latest (unpinned), all, specific VERSION, or off (out of service)",
		Args:  cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := sluice.Policy{Kind: sluice.PolicyKind(args[1])}
			switch p.Kind {
			case sluice.PolicyLatest, sluice.PolicyAll, sluice.PolicySpecific, sluice.PolicyOff:
			case sluice.PolicySplit:
				// A split needs its weights, which this command has no
				// place for.
				return fmt.Errorf("a split is set with its own command: sluice set split %s VERSION=PERCENT... --reason \"why\" (such as v1.1.0=95 v1.2.0=5)", args[0])
			default:
				return fmt.Errorf("policy %q is not known: use latest, all, specific VERSION or off; for a split, sluice set split %s VERSION=PERCENT...", args[1], args[0])
			}
			if p.Kind == sluice.PolicySpecific {
				if len(args) != 3 {
					return fmt.Errorf("policy specific needs a version: sluice set policy %s specific v1.2.0", args[0])
				}
				p.Version = args[2]
			} else if len(args) == 3 {
				return fmt.Errorf("policy %s takes no version", args[1])
			}
			if err := requireReason(preason); err != nil {
				return err
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			res, err := cl.SetPolicy(cmd.Context(), args[0], p, preason)
			if err != nil {
				return err
			}
			return c.printResult(res, "policy of "+args[0]+" set to "+p.String())
		},
	}
	policy.Flags().StringVar(&preason, "reason", "", "why (required; goes into the audit log)")
	cmd.AddCommand(split, policy)
	return cmd
}

func (c *cli) printResult(res api.Result, what string) error {
	if c.output == "json" {
		return c.printJSON(res)
	}
	if !res.Changed {
		fmt.Fprintf(c.stdout, "unchanged (revision %d)\n", res.Revision)
		return nil
	}
	fmt.Fprintf(c.stdout, "%s (revision %d)\n", what, res.Revision)
	return nil
}

func (c *cli) labelCmd() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "label MODEL LABEL=VERSION|LABEL- ... --reason \"why\"",
		Short: "Point labels at versions (clients send MODEL@LABEL); LABEL- removes one",
		Example: `  sluice label chat canary=v1.2.0 --reason "preview the fine-tune"
  sluice label chat canary- --reason "preview over"`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireReason(reason); err != nil {
				return err
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			labels, err := parseLabels(args[1:])
			if err != nil {
				return err
			}
			// All in one transaction: a mistake in any argument changes
			// nothing.
			res, err := cl.SetLabels(cmd.Context(), args[0], labels, reason)
			if err != nil {
				return err
			}
			return c.printResult(res, "labels "+args[0]+" "+strings.Join(args[1:], " "))
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (required; goes into the audit log)")
	return cmd
}

func (c *cli) stageCmd() *cobra.Command {
	var reason, sunset string
	cmd := &cobra.Command{
		Use:   "stage MODEL:VERSION STAGE --reason \"why\"",
		Short: "Move a version through its lifecycle: development, staging, production, deprecated, retired",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireReason(reason); err != nil {
				return err
			}
			var sunsetAt time.Time
			if sunset != "" {
				// The forms --expires and audit --at take: a date is its
				// day's start, a time without a zone is UTC.
				for _, layout := range sluice.TimeLayouts {
					if t, err := time.Parse(layout, strings.TrimSpace(sunset)); err == nil {
						sunsetAt = t.UTC()
						break
					}
				}
				if sunsetAt.IsZero() {
					return fmt.Errorf("--sunset %q: use a date or time such as 2027-03-01 or 2027-03-01T12:00:00Z (UTC unless a zone is given)", sunset)
				}
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			res, err := cl.SetStage(cmd.Context(), args[0], sluice.Stage(args[1]), sunsetAt, reason)
			if err != nil {
				return err
			}
			return c.printResult(res, args[0]+" is now "+args[1])
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (required; goes into the audit log)")
	cmd.Flags().StringVar(&sunset, "sunset", "", "for deprecated: the announced retirement, a date or time such as 2027-03-01 or 2027-03-01T12:00:00Z (UTC unless a zone is given), sent as the Sunset header")
	return cmd
}

// parseLabels reads LABEL=VERSION and LABEL- arguments into the labels
// map of api.LabelsRequest ("" removes a label).
func parseLabels(args []string) (map[string]string, error) {
	labels := map[string]string{}
	for _, a := range args {
		l, v, ok := strings.Cut(a, "=")
		if !ok {
			if l, ok = strings.CutSuffix(a, "-"); !ok || l == "" {
				return nil, fmt.Errorf("invalid label %q: write LABEL=VERSION (such as canary=v1.2.0) or LABEL- to remove", a)
			}
		} else if v == "" {
			return nil, fmt.Errorf("invalid label %q: name the version after = (such as canary=v1.2.0), or write %s- to remove it", a, l)
		}
		if _, dup := labels[l]; dup {
			return nil, fmt.Errorf("label %s is given twice: give each label once", l)
		}
		labels[l] = v
	}
	return labels, nil
}
