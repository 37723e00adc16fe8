package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// jsonlOutput is the annotation of a command that prints -o jsonl.
const jsonlOutput = "jsonl"

// rolloutPairsCmd lists, filters and exports the shadow pairs of a model: the
// answer users got and the candidate's mirrored answer, as the replica the
// CLI reaches kept them.
func (c *cli) rolloutPairsCmd() *cobra.Command {
	var q sluice.ShadowPairQuery
	var all bool
	cmd := &cobra.Command{
		Use:   "pairs MODEL",
		Short: "Show a shadow run's answer pairs (the live answer and the candidate's mirrored one); -o jsonl exports them",
		Long: `Show the shadow pairs a shadow run (strategy shadow, or a pipeline's shadow phase) left on the
gateway reached: the answer users got and the candidate's mirrored answer, newest first, with
their differences. On PostgreSQL the fleet's pairs are kept in the store, the newest
shadow.pairs_kept (500) across replicas; on SQLite, or with shadow.store_pairs: false, each
replica keeps the newest shadow.pairs_kept of the requests it mirrored, in memory.

The CALLS column shows each side's tool calls as name(arguments), the live answer's then the
candidate's; TOOL CALL says which side called a tool and, when both did, whether they called
other tools or the same ones with other arguments (compared as JSON). --differ lists those too.

Prompts, answer texts and tool call arguments are shown to operator and admin tokens only;
-o json or -o jsonl prints them (one pair a line with jsonl, to feed an offline eval or a judge).`,
		Example: `  sluice rollout pairs chat --differ
  sluice rollout pairs chat --category code --refusal shadow_only
  sluice rollout pairs chat --all -o jsonl > pairs.jsonl`,
		Args:        cobra.ExactArgs(1),
		Annotations: map[string]string{jsonlOutput: "yes"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkLimit(q.Limit, api.DefaultPairLimit); err != nil {
				return err
			}
			for _, side := range []*string{&q.Refusal, &q.Error, &q.ToolCall} {
				*side = sideValue(*side)
			}
			if err := q.Check(); err != nil {
				return fmt.Errorf("--%s", strings.Replace(sluice.ErrorMessage(err), "tool_call", "tool-call", 1))
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			list, err := cl.ShadowPairs(cmd.Context(), args[0], q)
			if err != nil {
				return err
			}
			for all && list.Truncated {
				page := q
				page.Before = list.NextBefore
				next, err := cl.ShadowPairs(cmd.Context(), args[0], page)
				if err != nil {
					return err
				}
				list.Pairs = append(list.Pairs, next.Pairs...)
				list.Truncated, list.NextBefore = next.Truncated, next.NextBefore
			}
			c.notePairs(list)
			switch c.output {
			case "json":
				return c.printJSON(list)
			case jsonlOutput:
				enc := json.NewEncoder(c.stdout)
				for _, p := range list.Pairs {
					if err := enc.Encode(p); err != nil {
						return err
					}
				}
				return nil
			}
			// Pairs from several replicas (the fleet's, on PostgreSQL) say
			// which one mirrored each request, as -o jsonl does.
			replicas := severalReplicas(list.Pairs)
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			head := "SEQ\tWHEN (UTC)\tREQUEST ID\tCATEGORY\tVERSIONS\tLATENCY MS\tCHARS\tTEXT\tREFUSAL\tERROR\tTOOL CALL\tCALLS"
			if replicas {
				head += "\tREPLICA"
			}
			fmt.Fprintln(tw, head)
			for _, p := range list.Pairs {
				text := "same"
				if !p.Diff.SameText {
					text = "differs"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s → %s\t%.0f → %.0f\t%d → %d\t%s\t%s\t%s\t%s\t%s",
					p.Seq, p.At.UTC().Format("2006-01-02 15:04:05.000"), p.RequestID, dash(p.Category), p.Primary.Version, p.Shadow.Version,
					p.Primary.LatencyMS, p.Shadow.LatencyMS, p.Primary.Chars, p.Shadow.Chars, text, sideText(p.Diff.Refusal), sideText(p.Diff.Error),
					toolCallText(p.Diff), callsPair(p, list.TextsWithheld))
				if replicas {
					fmt.Fprintf(tw, "\t%s", dash(p.Replica))
				}
				fmt.Fprintln(tw)
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.IntVar(&q.Limit, "limit", api.DefaultPairLimit, fmt.Sprintf("at most this many pairs, newest first (1 to %d); with --all, the size of each page", api.MaxLimit))
	f.StringVar(&q.Category, "category", "", "only pairs of this request category")
	f.BoolVar(&q.Differ, "differ", false, "only pairs whose answers differ: other text, one side alone refused, failed or called a tool, or both called other tools or the same tools with other arguments")
	f.StringVar(&q.Refusal, "refusal", "", "only pairs where this side refused: primary_only (the live answer; or stable_only, as the table says), shadow_only (the candidate's; or candidate_only), both, none, one_side (either alone) or any (either)")
	f.StringVar(&q.Error, "error", "", "only pairs where this side failed (the same values as --refusal)")
	f.StringVar(&q.ToolCall, "tool-call", "", "only pairs where this side called a tool (the same values as --refusal; one_side when one side alone did; --differ --tool-call both for calls that differ in tool or arguments)")
	f.Int64Var(&q.Before, "before", 0, "the next page: only pairs older than this SEQ (the last one shown)")
	f.BoolVar(&all, "all", false, "every matching pair the gateway keeps, page after page")
	return cmd
}

// notePairs says on stderr what a page of pairs leaves out: the pairs past
// the limit, the texts a viewer does not get, and the other replicas'.
func (c *cli) notePairs(list api.ShadowPairList) {
	if len(list.Pairs) == 0 {
		fmt.Fprintf(c.stderr, "no shadow pairs of %s match: loosen the filters", list.Model)
		if list.Shadowing != "" {
			fmt.Fprintf(c.stderr, ", or wait: %s%% of its requests are mirrored to %s", sluice.FormatPercent(100*list.Fraction), list.Shadowing)
		}
		fmt.Fprintln(c.stderr)
	}
	if list.Truncated {
		fmt.Fprintf(c.stderr, "showing the newest %d matching pairs; more match: the next page is --before %s, or --all for every one\n", len(list.Pairs), strconv.FormatInt(list.NextBefore, 10))
	}
	if list.TextsWithheld && len(list.Pairs) > 0 {
		fmt.Fprintln(c.stderr, "prompts, tool call arguments and answer texts are withheld: they are shown to operator and admin tokens only")
	}
	if list.Replica != "" {
		fmt.Fprintf(c.stderr, "pairs kept by replica %s: each replica keeps the pairs of the requests it mirrored\n", list.Replica)
	}
}

// severalReplicas reports whether pairs name more than one replica.
func severalReplicas(pairs []sluice.ShadowPair) bool {
	for _, p := range pairs {
		if p.Replica != pairs[0].Replica {
			return true
		}
	}
	return false
}

// sideValue is a side given to --refusal, --error or --tool-call as the API
// takes it: the table's words (stable_only, candidate_only) are the API's
// primary_only and shadow_only.
func sideValue(v string) string {
	switch v {
	case "stable_only":
		return "primary_only"
	case "candidate_only":
		return "shadow_only"
	}
	return v
}

// toolCallText is a pair's TOOL CALL column: which side called a tool and,
// when both did, whether the calls differ.
func toolCallText(d sluice.ShadowDiff) string {
	s := sideText(d.ToolCall)
	if d.ToolCall == "both" {
		switch d.Calls {
		case sluice.CallsNames:
			s += ", other tools"
		case sluice.CallsArguments:
			s += ", other arguments"
		case sluice.CallsSame:
			s += ", same calls"
		case sluice.CallsCut:
			s += ", same as far as kept (arguments cut)"
		}
	}
	return s
}

// pairCallArgs is how much of a call's arguments the CALLS column shows.
const pairCallArgs = 48

// callsPair is a pair's CALLS column: each side's calls as
// name(arguments), the arguments cut to pairCallArgs characters (and left
// out when withheld), "-" for none.
func callsPair(p sluice.ShadowPair, withheld bool) string {
	if len(p.Primary.ToolCalls) == 0 && len(p.Shadow.ToolCalls) == 0 {
		return "-"
	}
	return callsText(p.Primary.ToolCalls, withheld) + " → " + callsText(p.Shadow.ToolCalls, withheld)
}

func callsText(calls []sluice.ShadowToolCall, withheld bool) string {
	if len(calls) == 0 {
		return "-"
	}
	parts := make([]string, len(calls))
	for i, c := range calls {
		args := c.Arguments
		if withheld {
			args = "…"
		} else if r := []rune(args); len(r) > pairCallArgs {
			args = string(r[:pairCallArgs-1]) + "…"
		} else if c.Cut {
			args += "…"
		}
		// One line a pair: a newline in the arguments would break the table.
		parts[i] = c.Name + "(" + strings.Join(strings.Fields(args), " ") + ")"
	}
	return strings.Join(parts, ", ")
}

// sideText is a pair's REFUSAL, ERROR or TOOL CALL column: which side, or
// "-" for neither.
func sideText(which string) string {
	switch which {
	case "", "none":
		return "-"
	case "primary_only":
		return "stable only"
	case "shadow_only":
		return "candidate only"
	}
	return which
}
