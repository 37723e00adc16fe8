package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/server"
)

// versionCmd says which binary this is: the question an upgrade starts
// with (which release is installed, which one replaces it) and one a
// downgrade's refusal ("knows only up to 29") is answered by, since
// releases are told apart by the store schemas they know.
func (c *cli) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Show this binary's release and the newest store schemas it knows (no gateway needed)",
		Long: "Show this binary's release, its source revision when the build recorded one, the Go toolchain, and the newest " +
			"SQLite and PostgreSQL store schemas it knows: started on a store at an older schema it migrates it to these, and " +
			"a store at a newer one (migrated by a newer sluice) it refuses. A running gateway says the same in its " +
			"sluice_build_info metric and its `sluice listening` log line.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b := server.BuildInfo()
			if c.output == "json" {
				return c.printJSON(b)
			}
			rev := "no revision recorded"
			if b.Revision != "" {
				rev = "revision " + b.Revision
				if b.Modified {
					rev += " with uncommitted changes"
				}
			}
			fmt.Fprintf(c.stdout, "sluice %s (%s), %s %s\n", b.Release, rev, b.Go, b.Platform)
			fmt.Fprintf(c.stdout, "store schemas: SQLite %d, PostgreSQL %d (a store at an older schema is migrated to these at start; one at a newer schema is refused)\n",
				b.SQLiteSchema, b.PostgresSchema)
			return nil
		},
	}
}
