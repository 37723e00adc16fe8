package main

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/server"
)

// TestCLI_TokenExpires, through a real gateway: token create --expires
// takes a duration, a date or none; token list shows EXPIRES and LAST
// USED; once the gateway's clock passes the expiry the token's commands
// fail saying it expired and what to do, while the bootstrap admin token
// (which never expires) keeps working and lists it as expired.
func TestCLI_TokenExpires(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
	gw, err := server.New(context.Background(), server.Options{Config: cfg, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	admin, err := gw.EnsureBootstrapToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	as := func(secret string, args ...string) []string {
		return append(append([]string{}, args...), "--server", gw.AdminURL(), "--token", secret)
	}
	secretOf := func(out string) string {
		t.Helper()
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if s := lines[len(lines)-1]; strings.HasPrefix(s, "slk_") {
			return s
		}
		t.Fatalf("no secret in %q", out)
		return ""
	}

	out := mustRun(t, as(admin, "token", "create", "contractor", "--role", "operator", "--expires", "90d", "--reason", "a quarter's help")...)
	want := now.Add(90 * 24 * time.Hour).UTC().Format("2006-01-02 15:04")
	if !strings.Contains(out, "expires "+want+" UTC") {
		t.Errorf("token create --expires 90d said %q, want it to say it expires %s UTC", out, want)
	}
	contractor := secretOf(out)
	out = mustRun(t, as(admin, "token", "create", "auditor", "--role", "viewer", "--expires", "2099-03-01", "--reason", "review")...)
	if !strings.Contains(out, "expires 2099-03-01 00:00 UTC") {
		t.Errorf("token create --expires 2099-03-01 said %q", out)
	}
	out = mustRun(t, as(admin, "token", "create", "ci", "--role", "viewer", "--expires", "none", "--reason", "CI reads")...)
	if !strings.Contains(out, "never expires") {
		t.Errorf("token create --expires none said %q", out)
	}
	if _, errOut, code := run(t, as(admin, "token", "create", "x", "--expires", "soon", "--reason", "r")...); code == 0 || !strings.Contains(errOut, "--expires") || !strings.Contains(errOut, "90d") {
		t.Errorf("token create --expires soon: exit %d, %s; want an error naming the flag and the forms", code, errOut)
	}
	if _, errOut, code := run(t, as(admin, "token", "create", "x", "--expires", "2020-01-01", "--reason", "r")...); code == 0 || !strings.Contains(errOut, "not in the future") {
		t.Errorf("token create --expires 2020-01-01: exit %d, %s; want it refused as past", code, errOut)
	}

	mustRun(t, as(contractor, "get", "models")...)
	list := mustRun(t, as(admin, "token", "list")...)
	row := func(list, name string) []string {
		t.Helper()
		for _, l := range strings.Split(list, "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] == name {
				return f
			}
		}
		t.Fatalf("no row %s in:\n%s", name, list)
		return nil
	}
	if !strings.Contains(list, "EXPIRES") || !strings.Contains(list, "LAST USED") {
		t.Fatalf("token list has no EXPIRES or LAST USED column:\n%s", list)
	}
	// NAME ROLE SOURCE CREATED(2) EXPIRES(2) LAST USED(2)
	if f := row(list, "contractor"); len(f) != 9 || strings.Join(f[5:7], " ") != want || f[7] != now.UTC().Format("2006-01-02") {
		t.Errorf("contractor's row = %q, want it to expire %s and to have been used today", f, want)
	}
	if f := row(list, "ci"); len(f) != 7 || f[5] != "never" || f[6] != "never" {
		t.Errorf("ci's row = %q, want it never to expire and never used", f)
	}

	mu.Lock()
	now = now.Add(91 * 24 * time.Hour)
	mu.Unlock()
	_, errOut, code := run(t, as(contractor, "get", "models")...)
	if code == 0 || !strings.Contains(errOut, "token contractor expired at") || !strings.Contains(errOut, "ask an admin for a new one") || strings.Contains(errOut, contractor) {
		t.Errorf("an expired token: exit %d, %s; want it to say it expired and to ask an admin, without the secret", code, errOut)
	}
	list = mustRun(t, as(admin, "token", "list")...)
	if f := row(list, "contractor"); len(f) < 6 || f[5] != "expired" {
		t.Errorf("contractor's row after its expiry = %q, want it marked expired", f)
	}
	mustRun(t, as(admin, "token", "delete", "contractor", "--reason", "expired")...)
	out = mustRun(t, as(admin, "audit", "--action", "token.", "-o", "json")...)
	if !strings.Contains(out, `\"expires_at\"`) && !strings.Contains(out, `"expires_at"`) {
		t.Errorf("audit of the token changes holds no expires_at:\n%s", out)
	}
}
