package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/sluicehq/sluice"
)

// webAppSecret is the secret of MustEnv's config file key, web-app.
const webAppSecret = "web-app-file-secret-0123456789"

// What the user does: issues team-c with sluice key create, then adds a
// team-c to the config file (or a key with team-c's secret under another
// name) and reloads. The file's key wins and the gateway refuses the stored
// key's secret (401), logging it once.
// What happened: sluice key list and GET /admin/v1/keys still listed the
// stored key as a live key with its limits and expiry, nothing saying that
// its secret no longer works; the 401 its clients get says "not known".
// What should happen: the listing marks it (shadowed), so the CLI can say
// why its secret is refused and what to do.
func TestServer_ListKeysShadowed(t *testing.T) {
	e := MustEnv(t)
	ctx := t.Context()
	for _, k := range []sluice.StoredKey{
		{Name: "web-app", Hash: sluice.HashSecret("sk-sluice-old-web-app"), CreatedAt: t0}, // the file took its name
		{Name: "team-x", Hash: sluice.HashSecret(webAppSecret), CreatedAt: t0},             // the file took its secret
		{Name: "team-y", Hash: sluice.HashSecret("sk-sluice-team-y"), CreatedAt: t0},       // in force
	} {
		if err := e.Store.PutClientKey(ctx, k, sluice.AuditEntry{At: t0, Actor: "ada", Action: "key.create", Subject: k.Name, Reason: "r"}); err != nil {
			t.Fatal(err)
		}
	}
	resp := e.do(t, "GET", "/admin/v1/keys", viewerSecret, nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /admin/v1/keys: %d %s", resp.Status, resp.Body)
	}
	var list struct {
		Keys []struct {
			Name     string `json:"name"`
			Source   string `json:"source"`
			Shadowed bool   `json:"shadowed"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(resp.Body, &list); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"config web-app": false, "store web-app": true, "store team-x": true, "store team-y": false}
	for _, k := range list.Keys {
		w, ok := want[k.Source+" "+k.Name]
		if !ok {
			t.Errorf("unexpected key %s %s", k.Source, k.Name)
			continue
		}
		delete(want, k.Source+" "+k.Name)
		if k.Shadowed != w {
			t.Errorf("%s key %s: shadowed %v, want %v", k.Source, k.Name, k.Shadowed, w)
		}
	}
	if len(want) > 0 {
		t.Errorf("keys not listed: %v", want)
	}
}
