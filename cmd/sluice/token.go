package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

func (c *cli) tokenCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "token", Short: "Manage admin API tokens (admin role)"})
	var role, reason, expires string
	create := &cobra.Command{
		Use: "create NAME --role viewer|operator|admin [--expires 90d] --reason \"why\"", Short: "Create a token; its secret is shown once", Args: cobra.ExactArgs(1),
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
			t, err := cl.CreateTokenWith(cmd.Context(), api.TokenRequest{Name: args[0], Role: sluice.Role(role), ExpiresAt: exp, Reason: reason})
			if err != nil {
				return err
			}
			if c.output == "json" {
				return c.printJSON(t)
			}
			until := "never expires"
			if !t.ExpiresAt.IsZero() {
				until = "expires " + t.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC")
			}
			fmt.Fprintf(c.stdout, "token %s (%s) created, %s; its secret, shown only now:\n%s\n", t.Name, t.Role, until, t.Secret)
			if t.Warning != "" {
				fmt.Fprintf(c.stderr, "warning: %s\n", t.Warning)
			}
			return nil
		},
	}
	create.Flags().StringVar(&role, "role", "viewer", "viewer, operator or admin")
	create.Flags().StringVar(&expires, "expires", "none", "when it stops working: a duration from now (90d, 12h), a date or time (2027-03-01, UTC), or none")
	create.Flags().StringVar(&reason, "reason", "", "why (required; goes into the audit log)")
	list := &cobra.Command{
		Use: "list", Short: "List tokens (names, roles, expiry, last use; never secrets)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			ts, err := cl.Tokens(cmd.Context())
			if err != nil {
				return err
			}
			if c.output == "json" {
				return c.printJSON(ts)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tSOURCE\tCREATED\tEXPIRES\tLAST USED")
			for _, t := range ts {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Role, t.Source, listTime(t.CreatedAt, "-"), expiresColumn(t.ExpiresAt, t.Expired), tokenLastUsed(t))
			}
			return tw.Flush()
		},
	}
	del := c.deleteCmd("Revoke a token", "token %s deleted", (*api.Client).DeleteToken)
	cmd.AddCommand(create, list, del)
	return cmd
}

// listTime shows a time in a token list, UTC to the minute, or none.
func listTime(t time.Time, none string) string {
	if t.IsZero() {
		return none
	}
	return t.UTC().Format("2006-01-02 15:04")
}

// expiresColumn is a token's or client key's EXPIRES column: never, the
// time, or the time it expired.
func expiresColumn(at time.Time, expired bool) string {
	s := listTime(at, "never")
	if expired {
		s = "expired " + s
	}
	return s
}

// deleteCmd is the delete subcommand of sluice token and sluice key:
// NAME and a required reason, sent by del; done says what was deleted
// (a format of the name).
func (c *cli) deleteCmd(short, done string, del func(cl *api.Client, ctx context.Context, name, reason string) error) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use: "delete NAME --reason \"why\"", Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireReason(reason); err != nil {
				return err
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			if err := del(cl, cmd.Context(), args[0], reason); err != nil {
				return err
			}
			if c.output == "json" {
				return c.printJSON(map[string]string{"deleted": args[0]})
			}
			fmt.Fprintf(c.stdout, done+"\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (required; goes into the audit log)")
	return cmd
}

// tokenLastUsed is a token's LAST USED column; a config file token's use
// is not kept.
func tokenLastUsed(t api.TokenView) string {
	if t.Source == "config" {
		return "-"
	}
	return listTime(t.LastUsedAt, "never")
}
