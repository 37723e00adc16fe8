package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/server"
	"github.com/sluicehq/sluice/sqlite"
)

// copyBatch is how many request log rows sluice store copy reads and
// writes per transaction.
const copyBatch = 2000

// copyImportTimeout bounds the calls of a copy that read or write a whole
// store, before the request log's copy (counting, deleting an interrupted
// copy's rows) and again after it (the export, the one transaction that
// writes everything but the request log, the summary's counts).
const copyImportTimeout = 30 * time.Minute

// liveBeat is how recent a replica's beat on a PostgreSQL store must be for
// sluice store copy to take the fleet for running: replicas beat every
// second and delete their beat when they stop.
const liveBeat = 10 * time.Second

func (c *cli) storeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Work on a gateway's store directly (the gateway stopped)",
	}
	cmd.AddCommand(c.storeCopyCmd())
	return cmd
}

func (c *cli) storeCopyCmd() *cobra.Command {
	var from, to, since string
	var noRequests, migrateSrc bool
	cmd := &cobra.Command{
		Use:   "copy --from SRC --to DST",
		Short: "Copy a stopped gateway's store into a new, empty one (SQLite to PostgreSQL, or back)",
		Long: `Copy everything a store holds into a new, empty store, as it is: the registry at
its revision, every rollout with its timeline, the audit with its ids and times
(so sluice audit --at answers the same), the admin tokens and client keys (their
hashes, limits, budgets, rotated and revoked secrets), users' ratings (each
answer's one score, which an A/B test's report reads), the LLM judge's
grades (which that report reads too) and the request log.
SRC and DST are what the config's store: takes: an SQLite file's path or a
postgres:// URL, with its ${NAME} and ${file:PATH} references (quote them
in single quotes), so that a password need not be typed out where ps shows
it. Stop the gateway (every replica) first: a store in use is
refused. DST must be empty (a new file, or a new database or schema).

The request log is copied first, in batches, with its progress on stderr; the
rest, users' ratings and the judge's grades with it (all of them, whatever --requests-since or
--no-requests copy of the log), is written last, in one transaction. A copy that stops half-way leaves
only request log rows in DST: run the same command again, and it deletes them
and starts over. The fleet's run-time state on PostgreSQL (replica beats,
shared observation batches, shadow pairs) is not copied: a replica makes it
anew.`,
		Example: `  sluice store copy --from /var/lib/sluice/sluice.db --to 'postgres://sluice:${file:/run/secrets/pg}@db:5432/sluice'
  sluice store copy --from /var/lib/sluice/sluice.db --to "$SLUICE_PG" --requests-since 7d
  sluice store copy --from "$SLUICE_PG" --to ./inspect.db --no-requests`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" || to == "" {
				return fmt.Errorf("name both stores: sluice store copy --from SRC --to DST (an SQLite file's path or a postgres:// URL)")
			}
			if from == to {
				return fmt.Errorf("--from and --to name the same store %s: copy into a new, empty one", describeStore(from))
			}
			if noRequests && since != "" {
				return fmt.Errorf("--no-requests copies no request log rows, so --requests-since has nothing to bound: give one of them")
			}
			var sinceT time.Time
			if since != "" {
				t, err := api.ParseTime(since, time.Now())
				if err != nil {
					return fmt.Errorf("--requests-since: %w", err)
				}
				sinceT = t
			}
			return copyStores(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), from, to, sinceT, noRequests, migrateSrc)
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "the store to copy: an SQLite file's path or a postgres:// URL (${NAME} and ${file:PATH} references expanded, as in the config)")
	f.StringVar(&to, "to", "", "the new, empty store to copy into: an SQLite file's path or a postgres:// URL (${NAME} and ${file:PATH} references expanded, as in the config)")
	f.StringVar(&since, "requests-since", "", "copy only the request log rows since this time or duration ago (7d, 2026-11-01); default all")
	f.BoolVar(&noRequests, "no-requests", false, "copy no request log rows")
	f.BoolVar(&migrateSrc, "migrate-src", false, "an SRC written by an older sluice (an SQLite file or PostgreSQL schema at an older schema version): migrate it in place to this binary's schema, as sluice serve would, and copy it (back it up first: the older sluice then refuses it)")
	return cmd
}

// describeStore names a store without the password a URL may carry: in
// its user info, or as the query's password parameter, which pgx takes
// too. A URL that does not parse is named by its scheme alone.
func describeStore(store string) string {
	if !server.IsPostgresDSN(store) {
		return store
	}
	u, err := url.Parse(store)
	if err != nil {
		return store[:strings.Index(store, "://")+3] + "… (a URL that does not parse)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// writesPassword reports whether store, a store setting with its
// references taken out, still holds a password written out: in a URL's
// userinfo (as pgconn reads it, to the first '@' before any '/', or as
// net/url does) or a password= or sslpassword= parameter. A URL that
// does not parse may hold one.
func writesPassword(store string) bool {
	if !server.IsPostgresDSN(store) {
		return false
	}
	rest := store[strings.Index(store, "://")+3:]
	if i := strings.IndexAny(rest, "@/"); i >= 0 && rest[i] == '@' {
		if _, pw, ok := strings.Cut(rest[:i], ":"); ok && pw != "" {
			return true
		}
	}
	u, err := url.Parse(store)
	if err != nil {
		return true
	}
	if pw, ok := u.User.Password(); ok && pw != "" {
		return true
	}
	q, err := url.ParseQuery(u.RawQuery)
	return err != nil || q.Get("password") != "" || q.Get("sslpassword") != ""
}

// because is err's text for a message of sluice store copy's own: the
// command line prints a sluice.Error by its message alone, which dropped
// the side (SRC or DST) and the advice wrapped around it.
func because(err error) string { return sluice.ErrorMessage(err) }

// copyable is a store sluice store copy can read and write whole.
type copyable interface {
	sluice.Store
	sluice.Importer
}

// openCopyStore opens one side of a copy: a store no gateway uses.
func openCopyStore(ctx context.Context, role, store string, mustExist bool) (copyable, func(), error) {
	name := describeStore(store)
	if !server.IsPostgresDSN(store) && mustExist {
		if _, err := os.Stat(store); err != nil {
			return nil, nil, fmt.Errorf("%s %s: %v: name the file the gateway's store: setting names", role, name, err)
		}
	}
	open := server.OpenStore
	if role == "SRC" {
		open = server.OpenSourceStore
	}
	st, err := open(ctx, store)
	if err != nil {
		if strings.Contains(err.Error(), "is in use by") {
			return nil, nil, fmt.Errorf("%s %s is in use: stop the gateway first (sluice store copy works on a stopped gateway's store): %s", role, name, because(err))
		}
		return nil, nil, fmt.Errorf("%s %s: %s", role, name, because(err))
	}
	inner := st
	if u, ok := st.(interface{ Unwrap() sluice.Store }); ok {
		inner = u.Unwrap()
	}
	im, ok := inner.(copyable)
	if !ok {
		st.Close()
		return nil, nil, fmt.Errorf("%s %s: this store cannot be copied (%T)", role, name, inner)
	}
	if pg, ok := inner.(*postgres.Store); ok {
		beats, err := pg.ReplicaBeats(ctx, "", liveBeat)
		if err != nil {
			st.Close()
			return nil, nil, fmt.Errorf("%s %s: read its replicas: %s", role, name, because(err))
		}
		if len(beats) > 0 {
			var names []string
			for _, b := range beats {
				names = append(names, b.Replica)
			}
			st.Close()
			return nil, nil, inUseErr(role, name, names)
		}
	}
	return im, func() { st.Close() }, nil
}

// checkSrcSchema reads SRC's schema version before it is opened, as
// opening a store migrates it: an SRC at an older schema than this
// binary's is refused unless migrateSrc, and a PostgreSQL one with live
// replicas is refused as in use before anything is migrated under them.
// It returns what the copy's summary says of SRC.
func checkSrcSchema(ctx context.Context, from string, migrateSrc bool) (string, error) {
	name := describeStore(from)
	var have, latest int
	backup := "back the file up (cp, with its gateway stopped)"
	if server.IsPostgresDSN(from) {
		v, live, err := postgres.SchemaAt(ctx, from, liveBeat)
		if err != nil {
			return "", fmt.Errorf("SRC %s: %s", name, because(err))
		}
		have, latest = v, postgres.LatestSchema()
		if have > 0 && have < latest && len(live) > 0 {
			return "", inUseErr("SRC", name, live)
		}
		backup = "take its pg_dump"
	} else {
		if _, err := os.Stat(from); err != nil {
			return "", nil // openCopyStore says what is wrong with it
		}
		// A file that is no store is refused by openCopyStore, which says
		// why; one in use too, before anything is migrated (the lock).
		v, err := sqlite.SchemaAt(ctx, from)
		if err != nil {
			return "SRC is left as it was.", nil
		}
		have, latest = v, sqlite.LatestSchema()
	}
	if have == 0 || have >= latest {
		return "SRC is left as it was.", nil
	}
	if !migrateSrc {
		return "", fmt.Errorf("SRC %s is at schema version %d, older than this sluice's %d (sluice version), and copying it would migrate it in place, after which the sluice that wrote it refuses it: %s, then run the same command with --migrate-src", name, have, latest, backup)
	}
	return fmt.Sprintf("SRC was migrated in place from schema version %d to %d (--migrate-src): the sluice that wrote it no longer opens it, its backup does.", have, latest), nil
}

// inUseErr refuses a PostgreSQL store with live replicas.
func inUseErr(role, name string, replicas []string) error {
	return fmt.Errorf("%s %s is in use by %d running gateway replica(s) (%s): stop the gateway first, every replica (if they stopped just now, try again in %s)", role, name, len(replicas), strings.Join(replicas, ", "), liveBeat)
}

// runStoreCopy is copyStores of an SRC at this binary's schema.
func runStoreCopy(ctx context.Context, stdout, stderr io.Writer, from, to string, since time.Time, noRequests bool) error {
	return copyStores(ctx, stdout, stderr, from, to, since, noRequests, false)
}

// copyStores copies from into to (sluice store copy). An SQLite SRC at an
// older schema than this binary's is refused unless migrateSrc: opening a
// store migrates it, and the copy said "SRC is left as it was" of a file
// it had migrated in place, which the release that wrote it (the way back
// of an operator moving to a fleet while upgrading) then refused.
func copyStores(ctx context.Context, stdout, stderr io.Writer, from, to string, since time.Time, noRequests, migrateSrc bool) error {
	// --from and --to take the config's ${NAME} and ${file:PATH}
	// references, so that a password need not be typed where ps shows it
	// (single-quoted, or the shell expands ${NAME} first).
	toGiven := to
	var err error
	if from, err = config.ExpandRefs(from); err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	if to, err = config.ExpandRefs(to); err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	if sameFile(from, to) {
		// Else DST would read as held by another gateway: the copy's
		// own lock on SRC.
		return fmt.Errorf("--from %s and --to %s name the same store (one file): copy into a new, empty one", from, to)
	}
	srcLeft, err := checkSrcSchema(ctx, from, migrateSrc)
	if err != nil {
		return err
	}
	src, closeSrc, err := openCopyStore(ctx, "SRC", from, true)
	if err != nil {
		return err
	}
	defer closeSrc()
	dst, closeDst, err := openCopyStore(ctx, "DST", to, false)
	if err != nil {
		return err
	}
	defer closeDst()
	dstName := describeStore(to)
	// What the config's store: takes: --to as given when its references
	// hold every secret of it, else DST named without its password.
	storeSetting := dstName
	if toGiven != to && !writesPassword(config.StripRefs(toGiven)) {
		storeSetting = toGiven
	}
	// The calls that read or write a whole store get a long deadline: a
	// store call without one gets PostgreSQL's 15 s, made for a
	// gateway's changes. Request log batches keep theirs.
	before, cancelBefore := context.WithTimeout(ctx, copyImportTimeout)
	defer cancelBefore()

	held, err := dst.Counts(before)
	if err != nil {
		return fmt.Errorf("DST %s: %s", dstName, because(err))
	}
	if h := held.Held(); h != "" {
		return sluice.NotEmpty(dstName, h)
	}
	if held.Requests > 0 || held.Ratings > 0 || held.Grades > 0 {
		// Only request log rows (and ratings and judge grades, which go
		// with them): what a copy that stopped before its last
		// transaction leaves (a gateway started on the empty store writes
		// its bootstrap token or its models file's change). Start the
		// request log again.
		ratings := ""
		if held.Ratings > 0 {
			ratings = fmt.Sprintf(", %d users' ratings", held.Ratings)
		}
		if held.Grades > 0 {
			ratings += fmt.Sprintf(", %d judge grades", held.Grades)
		}
		fmt.Fprintf(stderr, "DST %s holds %d request log rows%s and nothing else, as a copy that stopped half-way leaves it: deleting them and copying again\n", dstName, held.Requests, ratings)
		if _, err := dst.PruneRequests(before, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
			return fmt.Errorf("DST %s: delete the request log rows an earlier copy left: %s", dstName, because(err))
		}
	}

	var copied int64
	if !noRequests {
		p := newCopyProgress(stderr)
		err := src.ExportRequests(ctx, since, copyBatch, func(rows []sluice.Observation) error {
			if err := dst.AppendRequests(ctx, rows); err != nil {
				return fmt.Errorf("DST %s: write request log rows: %s", dstName, because(err))
			}
			copied += int64(len(rows))
			p.tick(copied, false)
			return nil
		})
		p.tick(copied, true)
		if err != nil {
			return fmt.Errorf("copy the request log (%d rows copied; run the same command again to start over): %s", copied, because(err))
		}
	}

	// The request log may have taken longer: a deadline of its own for
	// the rest.
	long, cancel := context.WithTimeout(ctx, copyImportTimeout)
	defer cancel()
	dump, err := src.Export(long)
	if err != nil {
		return fmt.Errorf("SRC %s: %s", describeStore(from), because(err))
	}
	if err := dst.Import(long, dump); err != nil {
		if sluice.ErrorCode(err) == sluice.CodeConflict {
			// Empty when the copy began: written into since.
			return fmt.Errorf("DST %s: %s: something wrote into it during the copy (a gateway started on it?); stop what uses it and copy into a new, empty store", dstName, because(err))
		}
		return fmt.Errorf("DST %s: %s (the request log rows copied stay: run the same command again to start over)", dstName, because(err))
	}

	sc, err := src.Counts(long)
	if err != nil {
		return fmt.Errorf("SRC %s: %s", describeStore(from), because(err))
	}
	dc, err := dst.Counts(long)
	if err != nil {
		return fmt.Errorf("DST %s: %s", dstName, because(err))
	}
	want := sc
	if noRequests || !since.IsZero() {
		want.Requests = copied
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tSRC\tDST\t")
	var differ []string
	sk, dk, wk := sc.Kinds(), dc.Kinds(), want.Kinds()
	for i := range sk {
		mark := "equal"
		switch {
		case dk[i].Count != wk[i].Count:
			mark = "DIFFERENT"
			differ = append(differ, sk[i].Name)
		case sk[i].Name == "requests" && noRequests:
			mark = "not copied (--no-requests)"
		case sk[i].Name == "requests" && !since.IsZero():
			mark = fmt.Sprintf("%d since %s", copied, since.UTC().Format(time.RFC3339))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", sk[i].Name, sk[i].Count, dk[i].Count, mark)
	}
	tw.Flush()
	if len(differ) > 0 {
		return fmt.Errorf("the copy differs from SRC in %s: do not use DST; report this with both stores", strings.Join(differ, ", "))
	}
	next := "in its config (as a ${NAME} or ${file:PATH} reference for a URL with a password)"
	if storeSetting != dstName {
		next = "in its config"
	}
	fmt.Fprintf(stdout, "\nCopied %s to %s. %s\nNext: set the gateway's store: to %s %s and start it with sluice serve.\n", describeStore(from), dstName, srcLeft, storeSetting, next)
	return nil
}

// sameFile reports whether SQLite paths a and b name one existing file.
func sameFile(a, b string) bool {
	if server.IsPostgresDSN(a) || server.IsPostgresDSN(b) {
		return false
	}
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

// copyProgress writes the request log's copy progress, a line a second.
type copyProgress struct {
	w          io.Writer
	start      time.Time
	last       time.Time
	lastRows   int64
	wroteFinal bool
}

func newCopyProgress(w io.Writer) *copyProgress {
	now := time.Now()
	return &copyProgress{w: w, start: now, last: now}
}

func (p *copyProgress) tick(rows int64, final bool) {
	now := time.Now()
	if !final && now.Sub(p.last) < time.Second {
		return
	}
	if final && p.wroteFinal {
		return
	}
	rate := float64(rows-p.lastRows) / max(now.Sub(p.last).Seconds(), 1e-3)
	if final {
		rate = float64(rows) / max(now.Sub(p.start).Seconds(), 1e-3)
		p.wroteFinal = true
		fmt.Fprintf(p.w, "requests: %d rows copied in %s (%.0f rows/s)\n", rows, now.Sub(p.start).Round(time.Millisecond), rate)
		return
	}
	fmt.Fprintf(p.w, "requests: %d rows copied (%.0f rows/s)\n", rows, rate)
	p.last, p.lastRows = now, rows
}
