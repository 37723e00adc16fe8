package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice"
)

func (c *cli) tokenCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "token", Short: "Manage admin API tokens (admin role)"})
	var role, reason string
	create := &cobra.Command{
		Use: "create NAME --role viewer|operator|admin --reason \"why\"", Short: "Create a token; its secret is shown once", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireReason(reason); err != nil {
				return err
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			t, err := cl.CreateToken(cmd.Context(), args[0], sluice.Role(role), reason)
			if err != nil {
				return err
			}
			if c.output == "json" {
				return c.printJSON(t)
			}
			fmt.Fprintf(c.stdout, "token %s (%s) created; its secret, shown only now:\n%s\n", t.Name, t.Role, t.Secret)
			if t.Warning != "" {
				fmt.Fprintf(c.stderr, "warning: %s\n", t.Warning)
			}
			return nil
		},
	}
	create.Flags().StringVar(&role, "role", "viewer", "viewer, operator or admin")
	create.Flags().StringVar(&reason, "reason", "", "why (required; goes into the audit log)")
	list := &cobra.Command{
		Use: "list", Short: "List tokens (names and roles; never secrets)", Args: cobra.NoArgs,
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
			fmt.Fprintln(tw, "NAME\tROLE\tSOURCE\tCREATED")
			for _, t := range ts {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Role, t.Source, t.CreatedAt.Format("2006-01-02 15:04"))
			}
			return tw.Flush()
		},
	}
	var dreason string
	del := &cobra.Command{
		Use: "delete NAME --reason \"why\"", Short: "Revoke a token", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireReason(dreason); err != nil {
				return err
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			if err := cl.DeleteToken(cmd.Context(), args[0], dreason); err != nil {
				return err
			}
			if c.output == "json" {
				return c.printJSON(map[string]string{"deleted": args[0]})
			}
			fmt.Fprintf(c.stdout, "token %s deleted\n", args[0])
			return nil
		},
	}
	del.Flags().StringVar(&dreason, "reason", "", "why (required; goes into the audit log)")
	cmd.AddCommand(create, list, del)
	return cmd
}
