package api_test

// The test here came from a review, with the bug it found; its comment
// says what the code did before the fix.

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// mustPGEnv is MustEnv on a PostgreSQL store.
func mustPGEnv(tb testing.TB) (*api.Client, *api.Client, *clock, sluice.Store) {
	tb.Helper()
	st, err := postgres.Open(context.Background(), pgtest.Schema(tb))
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	clk := &clock{t: t0}
	ctl, err := control.New(context.Background(), st, clk.Now)
	if err != nil {
		tb.Fatalf("control: %v", err)
	}
	auth := api.NewAuth(st, []sluice.Token{
		{Name: "vera", Role: sluice.RoleViewer, Hash: sluice.HashSecret(viewerSecret)},
		{Name: "ada", Role: sluice.RoleAdmin, Hash: sluice.HashSecret(adminSecret)},
	})
	srv := api.New(api.Options{Control: ctl, Auth: auth})
	hs := httptest.NewServer(srv.Handler())
	tb.Cleanup(hs.Close)
	return &api.Client{BaseURL: hs.URL, Token: adminSecret, HTTP: hs.Client()},
		&api.Client{BaseURL: hs.URL, Token: viewerSecret, HTTP: hs.Client()}, clk, st
}

// On PostgreSQL, "sluice audit --at T" with T exactly the time of a change
// (as `sluice audit` prints it) answers with the routing from before the
// change: routingAt asks for entries before at+1ns, and PostgreSQL keeps
// microseconds, so the bound is truncated to at and the entry made at T is
// left out. SQLite answers the new routing (TestServer_AuditAt/AtChange).
func TestAuditAt_AuditAtExactChangePostgres(t *testing.T) {
	ctx := context.Background()
	admin, viewer, clk, st := mustPGEnv(t)
	for _, v := range []sluice.Version{version("v1.0.0", sluice.StageProduction), version("v1.1.0", sluice.StageStaging)} {
		if _, err := admin.RegisterVersion(ctx, v, "setup"); err != nil {
			t.Fatal(err)
		}
	}
	change := t0.Add(time.Hour) // 11:00:00Z
	clk.Set(change)
	if _, err := admin.SetSplit(ctx, "chat", []sluice.Weight{{Version: "v1.0.0", Percent: 90}, {Version: "v1.1.0", Percent: 10}}, "", "canary"); err != nil {
		t.Fatal(err)
	}
	// A request served exactly at the end of the count window.
	if err := st.AppendRequests(ctx, []sluice.Observation{{RequestID: "edge", At: change.Add(5 * time.Minute), Model: "chat", Version: "v1.1.0", Route: "split", Status: 200}}); err != nil {
		t.Fatal(err)
	}
	clk.Set(change.Add(time.Hour)) // asked later, the window over
	res, err := viewer.AuditAt(ctx, "chat", change)
	if err != nil {
		t.Fatal(err)
	}
	if want := "split v1.0.0=90 v1.1.0=10"; res.PolicyText != want {
		t.Errorf("routing at %s (the change's own time) = %q set at %s, want %q (SQLite answers it)", change.Format(time.RFC3339), res.PolicyText, res.Since.Format(time.RFC3339Nano), want)
	}
	var got []string
	for _, c := range res.Requests {
		got = append(got, c.Version)
	}
	if strings.Join(got, ",") != "v1.1.0" {
		t.Errorf("requests in [%s, %s] (inclusive end) = %v, want the one at the window end", res.WindowStart.Format(time.RFC3339), res.WindowEnd.Format(time.RFC3339), res.Requests)
	}
}
