package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/route"
)

func (c *cli) getCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "get models|versions|routes", Short: "Show models, versions or the live routing table"})
	cmd.AddCommand(&cobra.Command{
		Use: "models", Short: "List models with their policy and labels",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("sluice get models takes no model: for one model's routing use sluice get routes %[1]s, for its versions sluice get versions %[1]s", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			list, err := cl.Models(cmd.Context())
			if err != nil {
				return err
			}
			if c.output == "json" {
				return c.printJSON(list)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "MODEL\tPOLICY\tSERVING\tLABELS\tVERSIONS")
			for _, m := range list.Models {
				var labels []string
				for l, v := range m.Labels {
					labels = append(labels, l+"="+v)
				}
				sort.Strings(labels)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", m.Name, m.PolicyText, strings.Join(m.Serving, ","), dash(strings.Join(labels, ",")), len(m.Versions))
			}
			return tw.Flush()
		},
	})
	var model string
	vc := &cobra.Command{
		Use: "versions [MODEL]", Short: "List versions with their stage and metadata", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				model = args[0]
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			list, err := cl.Versions(cmd.Context(), model)
			if err != nil {
				return err
			}
			if c.output == "json" {
				return c.printJSON(list)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tSTAGE\tUPSTREAM\tFAMILY\tBASE\tWEIGHTS\tCREATED\tENDPOINTS")
			for _, v := range list.Versions {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.ID, v.Stage, v.Upstream(), dash(v.Family), dash(v.BaseModel), dash(short(v.WeightHash)), v.CreatedAt.Format("2006-01-02 15:04"), dash(redactedEndpoints(v.Endpoints)))
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(vc)
	cmd.AddCommand(&cobra.Command{
		Use: "routes [MODEL]", Short: "Show the live routing table (of every model, or of MODEL): policy, effective split after health, labels, rules", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			var raw []byte
			if len(args) == 1 {
				// One model's entry only (an unknown model is the server's
				// 404), kept a list of one so that -o json reads as the
				// whole table's does.
				one, err := cl.ModelRoutes(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				raw, err = json.Marshal([]json.RawMessage{one})
				if err != nil {
					return fmt.Errorf("decode routes: %w", err)
				}
			} else if raw, err = cl.Routes(cmd.Context()); err != nil {
				return err
			}
			if c.output == "json" {
				_, err := c.stdout.Write(append(raw, '\n'))
				return err
			}
			var views []route.ModelView
			if err := json.Unmarshal(raw, &views); err != nil {
				return fmt.Errorf("decode routes: %w", err)
			}
			for _, m := range views {
				pinned := ""
				if m.Kind == sluice.PolicyLatest || m.Kind == "" || m.Kind == sluice.PolicyAll {
					pinned = "  (unpinned: follows the newest production version)"
				}
				fmt.Fprintf(c.stdout, "%s  policy: %s%s\n", m.Name, m.Policy, pinned)
				if m.Serving != "" {
					health := ""
					for _, v := range m.Versions {
						if v.Version == m.Serving && !v.Healthy {
							health = "  UNHEALTHY: its health checks fail (sluice get versions lists its endpoints)"
						}
					}
					fmt.Fprintf(c.stdout, "  serving: %s:%s%s\n", m.Name, m.Serving, health)
				}
				for _, s := range m.Split {
					health := ""
					switch {
					case !s.Healthy && s.Effective > 0:
						// Every member is down: the split is served as set,
						// there being nowhere else to send it.
						health = "  UNHEALTHY: still served (no member of the split is healthy)"
					case !s.Healthy:
						health = "  UNHEALTHY: left out"
					}
					fmt.Fprintf(c.stdout, "  split  %-14s %6s%%  effective %6s%%  %s%s\n", s.Version, sluice.FormatPercent(s.Percent), sluice.FormatPercent(s.Effective), bar(s.Effective, 30), health)
				}
				for _, l := range m.Labels {
					fmt.Fprintf(c.stdout, "  label  %s@%s -> %s\n", m.Name, l.Label, l.Version)
				}
				for _, r := range m.Rules {
					fmt.Fprintf(c.stdout, "  rule   %s in [%s] -> %s\n", r.Header, strings.Join(r.Values, ","), r.Version)
				}
				if m.Stable != "" {
					fmt.Fprintf(c.stdout, "  stable (retries): %s\n", m.Stable)
				}
			}
			return nil
		},
	})
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func short(h string) string {
	if len(h) > 19 {
		return h[:19]
	}
	return h
}

// bar draws a percentage as a bar of width cells.
func bar(percent float64, width int) string {
	// Clamped both ways: a share from two clocks (the bake's, from the
	// terminal's against the server's) can be below 0.
	n := min(max(int(percent/100*float64(width)+0.5), 0), width)
	return strings.Repeat("█", n) + strings.Repeat("░", width-n)
}

// redactedEndpoints joins endpoints for a table, each without its
// credentials or secret query values (sluice.RedactEndpoint): an admin's
// answer holds them, and a table ends up on screens, in terminals' scroll
// back and in CI logs; -o json still gives them whole.
func redactedEndpoints(eps []string) string {
	out := make([]string, len(eps))
	for i, e := range eps {
		out[i] = sluice.RedactEndpoint(e)
	}
	return strings.Join(out, ",")
}
