package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
)

func (c *cli) applyCmd() *cobra.Command {
	var file, reason string
	var dry bool
	var ifRevision int64
	cmd := &cobra.Command{
		Use:   "apply -f models.yaml --reason \"why\"",
		Short: "Register models and versions and set their routing from a file (idempotent)",
		Long: `Apply a declarative model file: versions are registered (immutable: the same
id with other content is refused), existing versions move to the stage given,
and each model's policy, labels and rules are set when the file gives them.
Applying the same file again changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return fmt.Errorf("pass the model file with -f models.yaml (or -f - for standard input)")
			}
			doc, err := config.LoadApplyFile(file)
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
			res, err := cl.ApplyIf(cmd.Context(), doc, reason, dry, ifRevision)
			if err != nil {
				return err
			}
			// The gateway's warnings (ApplyResult.Warnings), once each;
			// a gateway older than them sends none (nil, not []), and the
			// CLI works them out itself as a newer gateway does, for the
			// text and -o json alike (which printed "warnings": null).
			if res.Warnings == nil {
				res.Warnings = api.ApplyWarnings(doc, res.Result)
			}
			warnings := res.Warnings
			// The notes on the rollouts started (or, on a dry run, that
			// would start) are printed beside them below, as the gateway
			// words them (api.RolloutNotes): not twice.
			inPlace := map[string]bool{}
			if c.output != "json" {
				for _, n := range api.ApplyRolloutNotes(doc, res.Result) {
					inPlace[n] = true
				}
			}
			for _, w := range warnings {
				if !inPlace[w] {
					fmt.Fprintf(c.stderr, "warning: %s\n", w)
				}
			}
			if c.output == "json" {
				return c.printJSON(res)
			}
			held := map[string]bool{}
			for _, h := range res.HeldTargets {
				held[h.Model] = true
			}
			starts := len(res.Rollouts) > 0 || dry && len(targets(doc, held)) > 0
			switch {
			case !res.Changed && !starts:
				fmt.Fprintf(c.stdout, "unchanged (revision %d)\n", res.Revision)
			case !res.Changed:
				fmt.Fprintf(c.stdout, "no change to the registry (revision %d)\n", res.Revision)
			case dry:
				fmt.Fprintf(c.stdout, "dry run at revision %d: would make %d change(s) (apply them only if no one changed the registry since with --if-revision %d):\n", res.Revision, len(res.Audit), res.Revision)
			default:
				fmt.Fprintf(c.stdout, "applied: revision %d, %d change(s):\n", res.Revision, len(res.Audit))
			}
			for _, a := range res.Audit {
				line := fmt.Sprintf("  %-17s %-10s %s", a.Action, a.Model, a.Subject)
				if d := changeDetail(a); d != "" {
					line += "  " + d
				}
				fmt.Fprintln(c.stdout, strings.TrimRight(line, " "))
			}
			for _, m := range res.Kept {
				fmt.Fprintf(c.stdout, "routing of %s left to its live rollout: the file's policy and its stable and preview labels were not applied (any other labels in it were); apply the file again once the rollout has ended\n", m)
			}
			for _, k := range res.KeptStages {
				fmt.Fprintf(c.stdout, "%s: a stage does not go back (write the new stage in the file, or leave stage out)\n", k)
			}
			for _, r := range res.Rollouts {
				fmt.Fprintf(c.stdout, "rollout %s started: %s from %s to %s (%s); follow it with: sluice rollout watch %s\n", r.ID, r.Spec.Strategy, r.Spec.Baseline, r.Spec.Candidate, r.Phase, r.Spec.Model)
				for _, n := range api.RolloutNotes("rollout "+r.ID, api.DocRollout(doc, r.Spec.Model), r.Spec.Strategy) {
					fmt.Fprintln(c.stdout, n)
				}
			}
			for _, h := range res.HeldTargets {
				fmt.Fprintln(c.stdout, h.Message)
			}
			if dry {
				if ts := targets(doc, held); len(ts) > 0 {
					fmt.Fprintf(c.stdout, "would start a rollout for each model whose target is not its stable version: %s\n", strings.Join(ts, ", "))
				}
				// As sluice apply says once it has started them: the
				// planner's rolling leaves the file's guards out.
				for _, spec := range res.WouldStart {
					for _, n := range api.RolloutNotes("rollout of "+spec.Model+" to "+spec.Candidate, api.DocRollout(doc, spec.Model), spec.Strategy) {
						fmt.Fprintln(c.stdout, n)
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "model file (YAML), - for standard input")
	cmd.Flags().StringVar(&reason, "reason", "", "why (required; goes into the audit log)")
	cmd.Flags().BoolVar(&dry, "dry-run", false, "validate and show the changes without making them")
	cmd.Flags().Int64Var(&ifRevision, "if-revision", -1, "apply only if the registry is still at this revision (as a --dry-run showed); a change made since is refused, not overwritten")
	return cmd
}

// targets lists the models of doc that declare a target, as model→version,
// leaving out the held ones (their last rollout to it ended unpromoted).
func targets(doc sluice.ApplyDoc, held map[string]bool) []string {
	var out []string
	for _, m := range doc.Models {
		if m.Target != "" && !held[m.Name] {
			out = append(out, m.Name+"→"+m.Target)
		}
	}
	return out
}
