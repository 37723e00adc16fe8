package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
)

func (c *cli) keyCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "key", Short: "Manage data plane client keys (API keys for the OpenAI API)"})
	var (
		models  []string
		rate    float64
		burst   int
		tpm     string
		budget  string
		period  string
		force   bool
		expires string
		reason  string
	)
	create := &cobra.Command{
		Use:   "create NAME [--models chat,embed] [--rate-limit 50 --burst 100] [--tokens-per-minute 200k] [--token-budget 50M --budget-period month] [--force-version] [--expires 90d] --reason \"why\"",
		Short: "Issue a client key (admin role); its secret is shown once, and every replica accepts it at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireReason(reason); err != nil {
				return err
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			exp, err := api.ParseExpiry(expires, time.Now())
			if err != nil {
				return fmt.Errorf("--expires: %s", sluice.ErrorMessage(err))
			}
			var tokens, perMinute int64
			if budget != "" {
				if tokens, err = tokenFlag("token-budget", budget); err != nil {
					return err
				}
			}
			if tpm != "" {
				if perMinute, err = tokenFlag("tokens-per-minute", tpm); err != nil {
					return err
				}
			}
			if err := sluice.CheckBudget("", tokens, period); err != nil {
				// The flags' names, not the API's fields.
				msg := strings.NewReplacer("token_budget", "--token-budget", "budget_period", "--budget-period").Replace(sluice.ErrorMessage(err))
				return fmt.Errorf("%s", msg)
			}
			k, err := cl.CreateKey(cmd.Context(), api.KeyRequest{Name: args[0], Models: models, RateLimit: rate, Burst: burst, TokensPerMinute: perMinute,
				TokenBudget: tokens, BudgetPeriod: period, ForceVersion: force, ExpiresAt: exp, Reason: reason})
			if err != nil {
				return err
			}
			if c.output == "json" {
				return c.printJSON(k)
			}
			limits, until := keySummary(k.KeyView)
			fmt.Fprintf(c.stdout, "client key %s created (%s, %s), %s; its secret, shown only now (the OpenAI SDKs' api_key):\n%s\n", k.Name, keyModels(k.KeyView), limits, until, k.Secret)
			if k.Warning != "" {
				fmt.Fprintf(c.stderr, "warning: %s\n", k.Warning)
			}
			for _, w := range k.Warnings {
				fmt.Fprintf(c.stderr, "warning: %s\n", w)
			}
			return nil
		},
	}
	create.Flags().StringSliceVar(&models, "models", nil, "the models the key may use (comma-separated); every model when left out")
	create.Flags().Float64Var(&rate, "rate-limit", 0, "requests per second allowed, across every replica (on PostgreSQL the live replicas share it); 0 for no limit")
	create.Flags().IntVar(&burst, "burst", 0, "requests allowed at once above the rate; default the rate rounded up")
	create.Flags().StringVar(&tpm, "tokens-per-minute", "", "tokens (prompt and answer) the key's answers may use a minute, across every replica (on PostgreSQL the live replicas share it): a number, or with k, M or G (200k); 0 for no limit")
	create.Flags().StringVar(&budget, "token-budget", "", "tokens (prompt and answer) the key may use a --budget-period, across every replica: a number, or with k, M or G (50M)")
	create.Flags().StringVar(&period, "budget-period", "", "the token budget's period: day, week or month (calendar periods in UTC: from 00:00, Monday 00:00, the 1st)")
	create.Flags().BoolVar(&force, "force-version", false, "let the key use the force-version header")
	create.Flags().StringVar(&expires, "expires", "none", "when it stops working: a duration from now (90d, 12h), a date or time (2027-03-01, UTC), or none")
	create.Flags().StringVar(&reason, "reason", "", "why (required; goes into the audit log)")
	var all bool
	list := &cobra.Command{
		Use: "list [--all]", Short: "List client keys, the config file's and those issued (never a secret)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			ks, err := cl.KeysAll(cmd.Context(), all)
			if err != nil {
				return err
			}
			if c.output == "json" {
				return c.printJSON(ks)
			}
			if !ks.Required {
				fmt.Fprintln(c.stderr, "note: this gateway does not require keys on its OpenAI API (no client_keys; require_client_keys not set)")
			}
			if n := ks.LimitReplicas; n > 1 {
				fmt.Fprintf(c.stderr, "note: %d live replicas share these LIMITS, each enforcing 1/%d of each for a key with no recent requests, else a share weighted by where the key's requests arrive: the fleet allows a key about its LIMITS in all; SHARE is that of the replica that answered%s\n", n, n, shareOf(ks.Replica))
			}
			for _, k := range ks.Keys {
				if k.Shadowed {
					fmt.Fprintf(c.stderr, "note: the config file's client_keys took the name or secret of %s issued in the store, so its secret is refused (401) and the file's key is used: revoke it (sluice key delete %s --reason …) or rename the file's key and reload\n", k.Name, k.Name)
				}
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			// A BUDGET column when a key has a token budget.
			budgeted := slices.ContainsFunc(ks.Keys, func(k api.KeyView) bool { return k.TokenBudget > 0 })
			head := "NAME\tMODELS\tLIMITS\t"
			// A SHARE column when replicas share a key's limits.
			shared := slices.ContainsFunc(ks.Keys, func(k api.KeyView) bool { return k.LimitShare > 0 })
			if shared {
				head += "SHARE\t"
			}
			if budgeted {
				head += "BUDGET\t"
			}
			fmt.Fprintln(tw, head+"SOURCE\tCREATED\tBY\tLAST USED\tEXPIRES")
			for _, k := range ks.Keys {
				by := k.CreatedBy
				if by == "" {
					by = "-"
				}
				row := k.Name + "\t" + keyModels(k) + "\t" + keyLimits(k) + "\t"
				if shared {
					row += keyShare(k) + "\t"
				}
				if budgeted {
					row += keyBudget(k) + "\t"
				}
				fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\n", row, k.Source, listTime(k.CreatedAt, "-"), by, listTime(k.LastUsedAt, "-"), keyState(k))
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&all, "all", false, "list the revoked keys too (kept 30 days after their revoke)")
	var grace string
	rotate := &cobra.Command{
		Use:   "rotate NAME [--grace 1h] --reason \"why\"",
		Short: "Give a client key issued with sluice key create a new secret (admin role), shown once; the old one works for --grace, then is refused",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireReason(reason); err != nil {
				return err
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			k, err := cl.RotateKey(cmd.Context(), args[0], api.KeyRotateRequest{Grace: grace, Reason: reason})
			if err != nil {
				return err
			}
			if c.output == "json" {
				return c.printJSON(k)
			}
			old := "its old secret no longer works"
			if !k.GraceUntil.IsZero() {
				old = "its old secret works until " + k.GraceUntil.UTC().Format("2006-01-02 15:04:05 UTC")
			}
			fmt.Fprintf(c.stdout, "client key %s rotated: %s; its new secret, shown only now (the OpenAI SDKs' api_key):\n%s\n", k.Name, old, k.Secret)
			if k.Warning != "" {
				fmt.Fprintf(c.stderr, "warning: %s\n", k.Warning)
			}
			return nil
		},
	}
	rotate.Flags().StringVar(&grace, "grace", "0", "how long the old secret keeps working beside the new one (30m, 1h, 2d; at most 7d); 0 stops it at once")
	rotate.Flags().StringVar(&reason, "reason", "", "why (required; goes into the audit log)")
	del := c.deleteCmd("Revoke a client key issued with sluice key create (admin role): every replica refuses it", "client key %s revoked", (*api.Client).DeleteKey)
	cmd.AddCommand(create, list, rotate, c.keyUpdateCmd(), del)
	return cmd
}

// tokenFlag reads the value of a flag that counts tokens (--token-budget,
// --tokens-per-minute) as the config file reads its token_budget and
// tokens_per_minute (config.ParseTokens: 50M, 1.5k, 50_000_000), so a
// value can be copied between the two.
func tokenFlag(name, value string) (int64, error) {
	n, err := config.ParseTokens(value)
	if err != nil {
		return 0, fmt.Errorf("--%s: %v", name, err)
	}
	return n, nil
}

// keyUpdateCmd is sluice key update: PATCH /admin/v1/keys/{name} with the
// flags given, each one a field of the patch; the flags left out keep the
// key's values.
func (c *cli) keyUpdateCmd() *cobra.Command {
	var (
		models   []string
		rate     float64
		burst    int
		tpm      string
		budget   string
		period   string
		force    bool
		expires  string
		noExpiry bool
		reason   string
	)
	update := &cobra.Command{
		Use: "update NAME [--models chat,embed] [--rate-limit 50 --burst 100] [--tokens-per-minute 200k] [--token-budget 50M --budget-period month] [--force-version=true|false] [--expires 90d | --no-expiry] --reason \"why\"",
		Short: "Change a client key issued with sluice key create (admin role), keeping its secret: the flags given change, the others keep their value; " +
			"0 removes a limit (--models \"\" for every model, --token-budget 0 removes the budget and its period); every replica applies it at once, and what the key used still counts",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireReason(reason); err != nil {
				return err
			}
			f := cmd.Flags()
			req := api.KeyUpdateRequest{Reason: reason}
			if f.Changed("models") {
				var ms []string
				for _, m := range models {
					if m = strings.TrimSpace(m); m != "" {
						ms = append(ms, m)
					}
				}
				req.Models = api.Some(ms)
			}
			if f.Changed("rate-limit") {
				req.RateLimit = api.Some(rate)
			}
			if f.Changed("burst") {
				req.Burst = api.Some(burst)
			}
			if f.Changed("tokens-per-minute") {
				perMinute, err := tokenFlag("tokens-per-minute", tpm)
				if err != nil {
					return err
				}
				req.TokensPerMinute = api.Some(perMinute)
			}
			if f.Changed("token-budget") {
				tokens, err := tokenFlag("token-budget", budget)
				if err != nil {
					return err
				}
				req.TokenBudget = api.Some(tokens)
			}
			if f.Changed("budget-period") {
				req.BudgetPeriod = api.Some(period)
			}
			if f.Changed("force-version") {
				req.ForceVersion = api.Some(force)
			}
			switch {
			case f.Changed("expires") && noExpiry:
				return fmt.Errorf("--expires and --no-expiry contradict each other: give one")
			case noExpiry:
				req.ExpiresAt = api.Null[time.Time]()
			case f.Changed("expires"):
				exp, err := api.ParseExpiry(expires, time.Now())
				if err != nil {
					return fmt.Errorf("--expires: %s", sluice.ErrorMessage(err))
				}
				if exp.IsZero() {
					req.ExpiresAt = api.Null[time.Time]()
				} else {
					req.ExpiresAt = api.Some(exp)
				}
			}
			if req.Models.IsZero() && req.RateLimit.IsZero() && req.Burst.IsZero() && req.TokensPerMinute.IsZero() && req.TokenBudget.IsZero() &&
				req.BudgetPeriod.IsZero() && req.ForceVersion.IsZero() && req.ExpiresAt.IsZero() {
				return fmt.Errorf("nothing to change: give one or more of --models, --rate-limit, --burst, --tokens-per-minute, --token-budget, --budget-period, --force-version, --expires or --no-expiry")
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			k, err := cl.UpdateKey(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			if c.output == "json" {
				return c.printJSON(k)
			}
			limits, until := keySummary(k.KeyView)
			if len(k.Changed) == 0 {
				fmt.Fprintf(c.stdout, "client key %s unchanged: it has these settings already (%s, %s), %s\n", k.Name, keyModels(k.KeyView), limits, until)
			} else {
				fmt.Fprintf(c.stdout, "client key %s updated (%s): %s, %s, %s; its secret is the same\n", k.Name, strings.Join(k.Changed, ", "), keyModels(k.KeyView), limits, until)
			}
			if k.Warning != "" {
				fmt.Fprintf(c.stderr, "warning: %s\n", k.Warning)
			}
			for _, w := range k.Warnings {
				fmt.Fprintf(c.stderr, "warning: %s\n", w)
			}
			return nil
		},
	}
	fl := update.Flags()
	fl.StringSliceVar(&models, "models", nil, "the models the key may use (comma-separated); \"\" for every model")
	fl.Float64Var(&rate, "rate-limit", 0, "requests per second allowed, across every replica (on PostgreSQL the live replicas share it); 0 for no limit (and no burst)")
	fl.IntVar(&burst, "burst", 0, "requests allowed at once above the rate; 0 for the rate rounded up")
	fl.StringVar(&tpm, "tokens-per-minute", "", "tokens (prompt and answer) the key's answers may use a minute, across every replica (on PostgreSQL the live replicas share it): a number, or with k, M or G (200k); 0 for no limit")
	fl.StringVar(&budget, "token-budget", "", "tokens the key may use a --budget-period, across every replica: a number, or with k, M or G (50M); 0 removes the budget and its period")
	fl.StringVar(&period, "budget-period", "", "the token budget's period: day, week or month (calendar periods in UTC)")
	fl.BoolVar(&force, "force-version", false, "let the key use the force-version header (--force-version=false to stop it)")
	fl.StringVar(&expires, "expires", "", "when it stops working: a duration from now (90d, 12h), a date or time (2027-03-01, UTC), or none")
	fl.BoolVar(&noExpiry, "no-expiry", false, "the key never expires")
	fl.StringVar(&reason, "reason", "", "why (required; goes into the audit log)")
	return update
}

// keyModels is a key's MODELS column.
func keyModels(k api.KeyView) string {
	if len(k.Models) == 0 {
		return "every model"
	}
	return strings.Join(k.Models, ",")
}

// keyLimits is a key's LIMITS column.
// keySummary returns a key's limits (with its budget) and when it
// expires, as create and update print them.
func keySummary(k api.KeyView) (limits, until string) {
	until = "never expires"
	if !k.ExpiresAt.IsZero() {
		until = "expires " + k.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC")
	}
	limits = keyLimits(k)
	if k.TokenBudget > 0 {
		limits += ", budget " + sluice.FormatTokens(k.TokenBudget) + " tokens a " + k.BudgetPeriod
	}
	return limits, until
}

func keyLimits(k api.KeyView) string {
	var parts []string
	if k.RateLimit > 0 {
		p := strconv.FormatFloat(k.RateLimit, 'f', -1, 64) + "/s"
		if k.Burst > 0 {
			p += " burst " + strconv.Itoa(k.Burst)
		}
		parts = append(parts, p)
	}
	if k.TokensPerMinute > 0 {
		parts = append(parts, strconv.FormatInt(k.TokensPerMinute, 10)+" tokens/min")
	}
	if k.ForceVersion {
		parts = append(parts, "force-version")
	}
	if len(parts) == 0 {
		return "no limit"
	}
	return strings.Join(parts, ", ")
}

// shareOf names, in the key list's note, the replica whose share the
// SHARE column gives, when the answer names it.
func shareOf(replica string) string {
	if replica == "" {
		return ""
	}
	return ", " + replica
}

// keyShare is a key's SHARE column: the answering replica's share of its
// limits, as a percentage ("<1%" for a share that rounds to none); "-"
// for a key without one.
func keyShare(k api.KeyView) string {
	switch {
	case k.LimitShare <= 0:
		return "-"
	case k.LimitShare < 0.005:
		return "<1%"
	}
	return strconv.FormatFloat(100*k.LimitShare, 'f', 0, 64) + "%"
}

// keyBudget is a key's BUDGET column: what it used of its token budget
// in the current period, such as "12.3M/50M month", "?" for a use the
// gateway has not summed yet, SPENT once it reached the budget; "-" for
// a key without a budget.
func keyBudget(k api.KeyView) string {
	if k.TokenBudget <= 0 {
		return "-"
	}
	used := "?"
	if k.BudgetUsed != nil {
		used = sluice.FormatTokens(*k.BudgetUsed)
	}
	out := used + "/" + sluice.FormatTokens(k.TokenBudget) + " " + k.BudgetPeriod
	if k.BudgetUsed != nil && *k.BudgetUsed >= k.TokenBudget {
		out += " SPENT until " + listTime(k.BudgetResetsAt, "")
	}
	return out
}

// keyState is a key's EXPIRES column: when it expires (or expired), or
// when it was revoked.
func keyState(k api.KeyView) string {
	if k.Revoked {
		return "REVOKED " + listTime(k.RevokedAt, "")
	}
	if k.Shadowed {
		return "SHADOWED by config"
	}
	if !k.GraceUntil.IsZero() {
		// After a rotation with a grace: the old secret works too, until then.
		return expiresColumn(k.ExpiresAt, k.Expired) + " (old secret until " + listTime(k.GraceUntil, "") + ")"
	}
	return expiresColumn(k.ExpiresAt, k.Expired)
}
