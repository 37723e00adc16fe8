package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// TestCLI_KeyListShadowed: a key issued through the API whose name (or
// secret) a config file key took since is refused on the data plane (401),
// the file's key winning; sluice key list listed it as a live key with its
// limits and expiry, nothing saying its secret no longer works. Its row now
// says so, and a note says what to do.
func TestCLI_KeyListShadowed(t *testing.T) {
	created := time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC)
	list := api.KeyList{Required: true, Keys: []api.KeyView{
		{StoredKey: sluice.StoredKey{Name: "team-c"}, Source: "config"},
		{StoredKey: sluice.StoredKey{Name: "team-c", RateLimit: 20, CreatedAt: created, CreatedBy: "alice"}, Source: "store", Shadowed: true},
		{StoredKey: sluice.StoredKey{Name: "team-d", CreatedAt: created, CreatedBy: "alice"}, Source: "store"},
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/admin/v1/keys" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(list)
	}))
	t.Cleanup(srv.Close)
	out, errOut, code := run(t, "key", "list", "--server", srv.URL, "--token", "t")
	if code != 0 {
		t.Fatalf("sluice key list: exit %d: %s", code, errOut)
	}
	var rows []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "team-") {
			rows = append(rows, l)
		}
	}
	if len(rows) != 3 {
		t.Fatalf("rows %q, want 3", rows)
	}
	if !strings.Contains(rows[1], "store") || !strings.Contains(rows[1], "SHADOWED by config") {
		t.Errorf("the stored team-c's row %q does not say the config file's key shadows it", rows[1])
	}
	if strings.Contains(rows[0], "SHADOWED") || strings.Contains(rows[2], "SHADOWED") {
		t.Errorf("rows %q: only the stored team-c is shadowed", rows)
	}
	if !strings.Contains(errOut, "team-c") || !strings.Contains(errOut, "sluice key delete team-c") {
		t.Errorf("stderr %q: want a note naming team-c and how to clear it (sluice key delete team-c, or rename the file's key)", errOut)
	}
}
