package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

func TestServer_RotateKey(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		e := MustEnv(t)
		ctx := t.Context()
		k, err := e.Admin.CreateKey(ctx, api.KeyRequest{Name: "team-a", Models: []string{"chat"}, RateLimit: 5, Reason: "r"})
		if err != nil {
			t.Fatal(err)
		}
		e.Clock.Set(t0.Add(time.Hour))
		rot, err := e.Admin.RotateKey(ctx, "team-a", api.KeyRotateRequest{Grace: "2d", Reason: "leaked in a log"})
		if err != nil {
			t.Fatal(err)
		}
		// The same key, a new secret, when the old one stops.
		if rot.Name != "team-a" || rot.Secret == k.Secret || !strings.HasPrefix(rot.Secret, api.KeySecretPrefix) || rot.RateLimit != 5 ||
			!rot.RotatedAt.Equal(t0.Add(time.Hour)) || !rot.GraceUntil.Equal(t0.Add(49*time.Hour)) || !rot.CreatedAt.Equal(k.CreatedAt) {
			t.Fatalf("rotate answered %+v", rot)
		}
		stored, err := e.Store.ClientKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(stored) != 1 || stored[0].Hash != sluice.HashSecret(rot.Secret) || len(stored[0].Retired) != 1 || stored[0].Retired[0].Hash != sluice.HashSecret(k.Secret) {
			t.Fatalf("the store holds %+v", stored)
		}
		if n := e.KeyReloads.Load(); n != 2 {
			t.Errorf("ReloadKeys called %d times after a create and a rotate, want 2", n)
		}
		// Audited with the grace's end, never a secret or hash.
		entries, err := e.Admin.Audit(ctx, sluice.AuditQuery{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		var after api.KeyView
		if len(entries) != 1 || entries[0].Action != "key.rotate" || entries[0].Reason != "leaked in a log" || json.Unmarshal(entries[0].After, &after) != nil || !after.GraceUntil.Equal(t0.Add(49*time.Hour)) {
			t.Fatalf("audit = %+v, want key.rotate with the grace's end", entries)
		}
		for _, raw := range [][]byte{entries[0].Before, entries[0].After} {
			if s := string(raw); strings.Contains(s, rot.Secret) || strings.Contains(s, k.Secret) || strings.Contains(s, sluice.HashSecret(k.Secret)) || strings.Contains(s, sluice.HashSecret(rot.Secret)) {
				t.Errorf("the audit holds a secret or hash: %s", s)
			}
		}
		// The list shows the rotation and the grace, until it ends.
		r := e.do(t, "GET", "/admin/v1/keys", viewerSecret, nil)
		wantBody(t, r, http.StatusOK, `"rotated_at":`, `"grace_until":`)
		e.Clock.Set(t0.Add(50 * time.Hour))
		r = e.do(t, "GET", "/admin/v1/keys", viewerSecret, nil)
		wantBody(t, r, http.StatusOK, `"rotated_at":`)
		if strings.Contains(string(r.Body), "grace_until") {
			t.Errorf("after the grace the list says %s", r.Body)
		}
	})
	t.Run("NoGrace", func(t *testing.T) {
		e := MustEnv(t)
		if _, err := e.Admin.CreateKey(t.Context(), api.KeyRequest{Name: "team-a", Reason: "r"}); err != nil {
			t.Fatal(err)
		}
		r := e.do(t, "POST", "/admin/v1/keys/team-a/rotate", adminSecret, []byte(`{"reason":"r"}`))
		wantBody(t, r, http.StatusOK, `"secret":`)
		if strings.Contains(string(r.Body), "grace_until") {
			t.Errorf("a rotation without grace answered %s", r.Body)
		}
	})
	t.Run("Errors", func(t *testing.T) {
		e := MustEnv(t)
		ctx := t.Context()
		if _, err := e.Admin.CreateKey(ctx, api.KeyRequest{Name: "team-a", Reason: "r"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Admin.CreateKey(ctx, api.KeyRequest{Name: "gone", Reason: "r"}); err != nil {
			t.Fatal(err)
		}
		if err := e.Admin.DeleteKey(ctx, "gone", "r"); err != nil {
			t.Fatal(err)
		}
		before, _ := e.Store.ClientKeys(ctx)
		r := e.do(t, "POST", "/admin/v1/keys/team-a/rotate", adminSecret, []byte(`{"grace":"8d","reason":"r"}`))
		r.want(t, http.StatusUnprocessableEntity, "more than 7 days")
		r.wantFields(t, "grace")
		r = e.do(t, "POST", "/admin/v1/keys/team-a/rotate", adminSecret, []byte(`{"grace":"soon","reason":"r"}`))
		r.want(t, http.StatusUnprocessableEntity, "not a duration")
		r.wantFields(t, "grace")
		e.do(t, "POST", "/admin/v1/keys/team-a/rotate", adminSecret, []byte(`{"grace":"1h"}`)).want(t, http.StatusUnprocessableEntity, "reason")
		e.do(t, "POST", "/admin/v1/keys/web-app/rotate", adminSecret, []byte(`{"reason":"r"}`)).want(t, http.StatusConflict, "config file")
		e.do(t, "POST", "/admin/v1/keys/nope/rotate", adminSecret, []byte(`{"reason":"r"}`)).want(t, http.StatusNotFound, "sluice key list")
		e.do(t, "POST", "/admin/v1/keys/gone/rotate", adminSecret, []byte(`{"reason":"r"}`)).want(t, http.StatusNotFound, "sluice key list")
		after, _ := e.Store.ClientKeys(ctx)
		if b, _ := json.Marshal(before); func() string { a, _ := json.Marshal(after); return string(a) }() != string(b) {
			t.Errorf("refused rotations changed the keys: %+v, was %+v", after, before)
		}
	})
}

func TestServer_ListKeysRevoked(t *testing.T) {
	e := MustEnv(t)
	ctx := t.Context()
	if _, err := e.Admin.CreateKey(ctx, api.KeyRequest{Name: "gone", Reason: "r"}); err != nil {
		t.Fatal(err)
	}
	if err := e.Admin.DeleteKey(ctx, "gone", "r"); err != nil {
		t.Fatal(err)
	}
	ks, err := e.Admin.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks.Keys {
		if k.Name == "gone" {
			t.Errorf("the list shows a revoked key without all: %+v", k)
		}
	}
	all, err := e.Admin.KeysAll(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, k := range all.Keys {
		if k.Name == "gone" {
			found = k.Revoked && !k.RevokedAt.IsZero() && k.Source == "store"
		}
	}
	if !found {
		t.Errorf("?all=true lists %+v, want gone revoked with revoked_at", all.Keys)
	}
	e.do(t, "GET", "/admin/v1/keys?all=maybe", viewerSecret, nil).want(t, http.StatusBadRequest, "all")
	wantBody(t, e.do(t, "GET", "/admin/v1/keys?all=true", viewerSecret, nil), http.StatusOK, `"revoked": true`, `"revoked_at":`)
}

// wantBody checks r's status and that its body holds each of substrings.
func wantBody(t *testing.T, r response, status int, substrings ...string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body: %s", r.Status, status, r.Body)
	}
	for _, s := range substrings {
		if !strings.Contains(string(r.Body), s) {
			t.Errorf("body %s does not contain %s", r.Body, s)
		}
	}
}
