package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/server"
)

// TestCLI_KeyListSharedLimits: on two replicas sharing PostgreSQL, sluice
// key list shows a key's limits as configured and notes that the live
// replicas share them (each enforcing its share), so an SRE reading 10/s
// knows it is the fleet's, and its SHARE column gives the answering
// replica's share of each limited key (the note names that replica);
// once one replica stops, the note and the column go.
func TestCLI_KeyListSharedLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two gateways on PostgreSQL (skipped under -short)")
	}
	dsn := pgtest.Schema(t)
	const admin = "cli-fleet-admin-0123456789abcdef"
	start := func() *server.Server {
		cfg := config.Default()
		cfg.Listen = "127.0.0.1:0"
		cfg.Store = dsn
		cfg.Tokens = []config.TokenConfig{{Name: "ci", Role: sluice.RoleAdmin, Secret: admin}}
		cfg.ClientKeys = []config.ClientKey{
			{Name: "web-app", Secret: "sk-cli-fleet-0123456789abcdef", RateLimit: 10, Burst: 2},
			{Name: "batch", Secret: "sk-cli-fleet-batch-0123456789ab"},
		}
		s, err := server.New(context.Background(), server.Options{Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Shutdown(context.Background()) })
		return s
	}
	a, b := start(), start()
	wait := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	wait("both replicas to count two", func() bool { return a.LimitReplicas() == 2 && b.LimitReplicas() == 2 })
	list := func() (string, string) {
		t.Helper()
		out, errOut, code := run(t, "key", "list", "--server", a.AdminURL(), "--token", admin)
		if code != 0 {
			t.Fatalf("key list: exit %d: %s", code, errOut)
		}
		return out, errOut
	}
	out, errOut := list()
	if row := keyRow(t, out, "web-app"); !strings.Contains(row, "10/s burst 2") {
		t.Errorf("web-app's row %q, want its limits as configured, 10/s burst 2", row)
	}
	if want := "note: 2 live replicas share these LIMITS, each enforcing 1/2 of each"; !strings.Contains(errOut, want) {
		t.Errorf("key list on two replicas wrote %q to stderr, want %q", errOut, want)
	}
	// No request yet: the even half, under a SHARE column that the key
	// without a limit leaves at "-".
	if f := strings.Fields(keyRow(t, out, "NAME")); len(f) < 4 || f[3] != "SHARE" {
		t.Errorf("key list on two replicas: header %q, want SHARE after LIMITS", keyRow(t, out, "NAME"))
	}
	if f := strings.Fields(keyRow(t, out, "web-app")); len(f) < 7 || f[6] != "50%" { // web-app, every model, 10/s burst 2, SHARE
		t.Errorf("web-app's row %q, want a's share of its limits, 50%%", keyRow(t, out, "web-app"))
	}
	if f := strings.Fields(keyRow(t, out, "batch")); len(f) < 6 || f[5] != "-" { // batch, every model, no limit, SHARE
		t.Errorf("batch's row %q, want no share (-) for a key without a limit", keyRow(t, out, "batch"))
	}
	if want := "SHARE is that of the replica that answered, " + a.Replica() + "\n"; !strings.Contains(errOut, want) {
		t.Errorf("key list on two replicas wrote %q to stderr, want it to name the replica whose share it shows: %q", errOut, want)
	}
	b.Shutdown(context.Background())
	wait("a to count itself alone", func() bool { return a.LimitReplicas() == 1 })
	if out, errOut = list(); strings.Contains(errOut, "share these LIMITS") || !strings.Contains(keyRow(t, out, "web-app"), "10/s burst 2") {
		t.Errorf("key list on one replica: stderr %q, row %q; want no note and the limits as configured", errOut, keyRow(t, out, "web-app"))
	}
	if strings.Contains(out, "SHARE") {
		t.Errorf("key list on one replica has a SHARE column:\n%s", out)
	}
}
