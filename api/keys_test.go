package api_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

func TestServer_CreateKey(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		e := MustEnv(t)
		ctx := t.Context()
		exp := t0.Add(90 * 24 * time.Hour)
		k, err := e.Admin.CreateKey(ctx, api.KeyRequest{Name: "team-a", Models: []string{"chat", "embed"}, RateLimit: 50, Burst: 100, TokensPerMinute: 200000, ExpiresAt: exp, Reason: "onboard team a"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(k.Secret, api.KeySecretPrefix) || len(k.Secret) != len(api.KeySecretPrefix)+43 {
			t.Errorf("secret %q: want %s and 32 random bytes in base64url", k.Secret, api.KeySecretPrefix)
		}
		if !sluice.LooksLikeSecret(k.Secret) {
			t.Errorf("secret %q does not look like a secret to sluice usage --key", k.Secret)
		}
		if k.Name != "team-a" || k.Source != "store" || k.CreatedBy != "ada" || !k.ExpiresAt.Equal(exp) || k.TokensPerMinute != 200000 || k.Burst != 100 {
			t.Errorf("created = %+v", k.KeyView)
		}
		// Stored as its hash alone, with the settings.
		stored, err := e.Store.ClientKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(stored) != 1 || stored[0].Hash != sluice.HashSecret(k.Secret) || stored[0].RateLimit != 50 || len(stored[0].Models) != 2 {
			t.Fatalf("stored = %+v", stored)
		}
		if n := e.KeyReloads.Load(); n != 1 {
			t.Errorf("ReloadKeys called %d times after a create, want 1", n)
		}
		// Audited: who, why; never the secret or its hash.
		entries, err := e.Admin.Audit(ctx, sluice.AuditQuery{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Action != "key.create" || entries[0].Subject != "team-a" || entries[0].Actor != "ada" || entries[0].Reason != "onboard team a" {
			t.Fatalf("audit = %+v", entries)
		}
		raw, _ := json.Marshal(entries)
		if strings.Contains(string(raw), k.Secret) || strings.Contains(string(raw), stored[0].Hash) {
			t.Errorf("audit holds the secret or its hash: %s", raw)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		e := MustEnv(t)
		for _, tc := range []struct{ body, field, says string }{
			{`{"name":"token","reason":"r"}`, "name", "reserved"},
			{`{"name":"sk-abc","reason":"r"}`, "name", "looks like an API key's secret"},
			{`{"name":"a b","reason":"r"}`, "name", "client key name"},
			{`{"name":"team-a","models":["chat","x y"],"reason":"r"}`, "models", "models[1]"},
			{`{"name":"team-a","rate_limit":-1,"reason":"r"}`, "rate_limit", "must be positive"},
			{`{"name":"team-a","burst":5,"reason":"r"}`, "burst", "rate_limit"},
			{`{"name":"team-a","tokens_per_minute":-5,"reason":"r"}`, "tokens_per_minute", "between 1 and"},
			{`{"name":"team-a","expires_at":"2020-01-01T00:00:00Z","reason":"r"}`, "expires_at", "not in the future"},
			{`{"name":"team-a"}`, "reason", "reason is required"},
		} {
			r := e.do(t, "POST", "/admin/v1/keys", adminSecret, []byte(tc.body))
			r.want(t, http.StatusUnprocessableEntity, tc.says)
			if len(r.Err.Fields) != 1 || r.Err.Fields[0] != tc.field {
				t.Errorf("%s: error %+v does not name %s", tc.body, r.Err, tc.field)
			}
		}
		if ks, _ := e.Store.ClientKeys(t.Context()); len(ks) != 0 {
			t.Errorf("refused creates stored %+v", ks)
		}
		if n := auditCount(t, e); n != 0 {
			t.Errorf("refused creates wrote %d audit entries", n)
		}
	})
	t.Run("ErrTaken", func(t *testing.T) {
		e := MustEnv(t)
		// A config file key's name, and a stored key's.
		e.do(t, "POST", "/admin/v1/keys", adminSecret, []byte(`{"name":"web-app","reason":"r"}`)).want(t, http.StatusConflict, "config file")
		if _, err := e.Admin.CreateKey(t.Context(), api.KeyRequest{Name: "team-a", Reason: "r"}); err != nil {
			t.Fatal(err)
		}
		e.do(t, "POST", "/admin/v1/keys", adminSecret, []byte(`{"name":"team-a","reason":"r"}`)).want(t, http.StatusConflict, "already exists", "sluice key delete team-a")
	})
	t.Run("ReloadFailsSecretStillShown", func(t *testing.T) {
		e := MustEnv(t)
		var boom error = sluice.Errorf(sluice.CodeUnavailable, "store gone")
		e.KeyReloadErr.Store(&boom)
		k, err := e.Admin.CreateKey(t.Context(), api.KeyRequest{Name: "team-a", Reason: "r"})
		if err != nil {
			t.Fatal(err)
		}
		if k.Secret == "" || !strings.Contains(k.Warning, "store gone") {
			t.Errorf("created = %+v, want the secret and a warning", k)
		}
	})
}

func TestServer_ListKeys(t *testing.T) {
	e := MustEnv(t)
	ctx := t.Context()
	k, err := e.Admin.CreateKey(ctx, api.KeyRequest{Name: "team-a", Models: []string{"chat"}, Reason: "r"})
	if err != nil {
		t.Fatal(err)
	}
	// A viewer may list them; the answer holds no secret and no hash.
	r := e.do(t, "GET", "/admin/v1/keys", viewerSecret, nil)
	r.want(t, http.StatusOK)
	for _, bad := range []string{k.Secret, sluice.HashSecret(k.Secret), `"hash"`, `"secret"`} {
		if strings.Contains(string(r.Body), bad) {
			t.Errorf("key list holds %q: %s", bad, r.Body)
		}
	}
	list, err := e.Viewer.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !list.Required || len(list.Keys) != 2 || list.Keys[0].Name != "web-app" || list.Keys[0].Source != "config" ||
		list.Keys[1].Name != "team-a" || list.Keys[1].Source != "store" || list.Keys[1].CreatedBy != "ada" {
		t.Fatalf("list = %+v", list)
	}
}

func TestServer_DeleteKey(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		e := MustEnv(t)
		ctx := t.Context()
		if _, err := e.Admin.CreateKey(ctx, api.KeyRequest{Name: "team-a", Reason: "r"}); err != nil {
			t.Fatal(err)
		}
		if err := e.Admin.DeleteKey(ctx, "team-a", "team a left"); err != nil {
			t.Fatal(err)
		}
		if ks, _ := e.Store.ClientKeys(ctx); len(ks) != 1 || !ks[0].IsRevoked() {
			t.Errorf("after delete the store holds %+v, want the key revoked", ks)
		}
		if n := e.KeyReloads.Load(); n != 2 {
			t.Errorf("ReloadKeys called %d times after a create and a delete, want 2", n)
		}
		entries, err := e.Admin.Audit(ctx, sluice.AuditQuery{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 || entries[0].Action != "key.delete" || entries[0].Reason != "team a left" || entries[0].Actor != "ada" {
			t.Fatalf("audit = %+v", entries)
		}
		// The name is free again.
		if _, err := e.Admin.CreateKey(ctx, api.KeyRequest{Name: "team-a", Reason: "r"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		e := MustEnv(t)
		e.do(t, "DELETE", "/admin/v1/keys/nope", adminSecret, []byte(`{"reason":"r"}`)).want(t, http.StatusNotFound, "sluice key list")
	})
	t.Run("ErrConfigKey", func(t *testing.T) {
		e := MustEnv(t)
		e.do(t, "DELETE", "/admin/v1/keys/web-app", adminSecret, []byte(`{"reason":"r"}`)).want(t, http.StatusConflict, "config file")
	})
	t.Run("ShadowedByConfig", func(t *testing.T) {
		// A stored key whose name the config file took later (the file's
		// wins, and the log says to revoke the stored one): it can be
		// revoked, or it would come back if the file's key went.
		e := MustEnv(t)
		ctx := t.Context()
		k := sluice.StoredKey{Name: "web-app", Hash: sluice.HashSecret("sk-sluice-old-web-app"), CreatedAt: t0}
		if err := e.Store.PutClientKey(ctx, k, sluice.AuditEntry{At: t0, Actor: "ada", Action: "key.create", Subject: "web-app", Reason: "r"}); err != nil {
			t.Fatal(err)
		}
		if err := e.Admin.DeleteKey(ctx, "web-app", "the file took the name"); err != nil {
			t.Fatalf("revoke a stored key shadowed by the config file's: %v", err)
		}
		if ks, _ := e.Store.ClientKeys(ctx); len(ks) != 1 || !ks[0].IsRevoked() {
			t.Errorf("after delete the store holds %+v, want the key revoked", ks)
		}
	})
	t.Run("ReloadFails", func(t *testing.T) {
		e := MustEnv(t)
		ctx := t.Context()
		if _, err := e.Admin.CreateKey(ctx, api.KeyRequest{Name: "team-a", Reason: "r"}); err != nil {
			t.Fatal(err)
		}
		var boom error = sluice.Errorf(sluice.CodeUnavailable, "store gone")
		e.KeyReloadErr.Store(&boom)
		err := e.Admin.DeleteKey(ctx, "team-a", "r")
		var se *sluice.Error
		if !errors.As(err, &se) || se.Code != sluice.CodeUnavailable || !strings.Contains(se.Message, "revoked in the store") {
			t.Fatalf("delete with a failed reload = %v, want a 503 saying it is revoked in the store", err)
		}
	})
}
