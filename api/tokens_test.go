package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/sqlite"
)

func TestServer_Tokens(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)

	created, err := e.Admin.CreateToken(ctx, "ci-bot", sluice.RoleOperator, "deploys from CI")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.Secret, api.SecretPrefix) || len(created.Secret) != len(api.SecretPrefix)+43 || created.Role != sluice.RoleOperator || !created.CreatedAt.Equal(t0) {
		t.Fatalf("created = %+v", created)
	}
	bot := &api.Client{BaseURL: e.URL, Token: created.Secret}

	t.Run("UseNewSecret", func(t *testing.T) {
		who, err := bot.WhoAmI(ctx)
		if err != nil || who.Name != "ci-bot" || who.Role != sluice.RoleOperator {
			t.Fatalf("whoami = %+v, %v", who, err)
		}
		e.MustSeed(t)
		res, err := bot.SetLabel(ctx, "chat", "stable", "v1.0.0", "from CI")
		if err != nil || res.Audit[0].Actor != "ci-bot" {
			t.Fatalf("set label as ci-bot: %+v, %v", res, err)
		}
		_, err = bot.Tokens(ctx)
		wantErr(t, err, sluice.CodeForbidden, nil, "token ci-bot has role operator; this needs admin", "use a token with role admin")
	})
	t.Run("List", func(t *testing.T) {
		r := e.do(t, "GET", "/admin/v1/tokens", adminSecret, nil)
		r.want(t, http.StatusOK)
		if strings.Contains(string(r.Body), created.Secret) || strings.Contains(string(r.Body), sluice.HashSecret(created.Secret)) || strings.Contains(string(r.Body), sluice.HashSecret(adminSecret)) {
			t.Errorf("the token list shows a secret or a hash: %s", r.Body)
		}
		ts, err := e.Admin.Tokens(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, tv := range ts {
			got = append(got, tv.Name+":"+string(tv.Role)+":"+tv.Source)
		}
		if strings.Join(got, " ") != "ada:admin:config otto:operator:config vera:viewer:config ci-bot:operator:store" {
			t.Errorf("tokens = %v", got)
		}
	})
	t.Run("ErrDuplicate", func(t *testing.T) {
		_, err := e.Admin.CreateToken(ctx, "ci-bot", sluice.RoleViewer, "again")
		wantErr(t, err, sluice.CodeConflict, []string{"name"}, "a token named ci-bot already exists", "delete it first with sluice token delete ci-bot")
		_, err = e.Admin.CreateToken(ctx, "ada", sluice.RoleViewer, "again")
		wantErr(t, err, sluice.CodeConflict, []string{"name"}, "is defined in the config file", "pick another name")
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		_, err := e.Admin.CreateToken(ctx, "bob", "root", "r")
		wantErr(t, err, sluice.CodeInvalid, []string{"role"}, `unknown role "root"`, "use viewer, operator or admin")
		_, err = e.Admin.CreateToken(ctx, "bob smith", sluice.RoleViewer, "r")
		wantErr(t, err, sluice.CodeInvalid, []string{"name"}, "invalid token name", "use 1 to 128 letters")
		_, err = e.Admin.CreateToken(ctx, "controller", sluice.RoleViewer, "r")
		wantErr(t, err, sluice.CodeInvalid, []string{"name"}, "is reserved", "pick another name")
	})
	t.Run("ErrDeleteStatic", func(t *testing.T) {
		err := e.Admin.DeleteToken(ctx, "vera", "r")
		wantErr(t, err, sluice.CodeConflict, []string{"name"}, "defined in the config file", "remove it there")
	})
	t.Run("ErrDeleteUnknown", func(t *testing.T) {
		err := e.Admin.DeleteToken(ctx, "ghost", "r")
		wantErr(t, err, sluice.CodeNotFound, []string{"name"}, "there is no token named ghost", "sluice token list")
	})
	t.Run("Delete", func(t *testing.T) {
		if err := e.Admin.DeleteToken(ctx, "ci-bot", "CI moved"); err != nil {
			t.Fatal(err)
		}
		_, err := bot.WhoAmI(ctx)
		wantErr(t, err, sluice.CodeUnauthorized, nil, "not known", "send Authorization: Bearer <token>; create one with sluice token create")
	})
	t.Run("Audit", func(t *testing.T) {
		es, err := e.Viewer.Audit(ctx, sluice.AuditQuery{Action: "token.", Ascending: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 2 || es[0].Action != "token.create" || es[0].Subject != "ci-bot" || es[0].Actor != "ada" || es[0].Reason != "deploys from CI" || es[1].Action != "token.delete" || es[1].Reason != "CI moved" {
			t.Fatalf("token audit = %+v", es)
		}
		for _, a := range es {
			if strings.Contains(string(a.Before)+string(a.After), "slk_") || strings.Contains(string(a.Before)+string(a.After), sluice.HashSecret(created.Secret)) {
				t.Errorf("audit entry %s holds the secret or its hash: %s %s", a.Action, a.Before, a.After)
			}
		}
	})
}

func TestAuth_Authenticate(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	auth := api.NewAuth(st, []sluice.Token{{Name: "cfg", Role: sluice.RoleAdmin, Hash: sluice.HashSecret("cfg-secret")}, {Name: "typo", Role: "admn", Hash: sluice.HashSecret("typo-secret")}})
	auth.CacheFor = 0 // only Reload refreshes
	req := func(header string) *http.Request {
		r := httptest.NewRequest("GET", "/admin/v1/whoami", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		return r
	}

	t.Run("OK", func(t *testing.T) {
		tok, err := auth.Authenticate(req("Bearer cfg-secret"))
		if err != nil || tok.Name != "cfg" || tok.Hash != "" {
			t.Fatalf("token = %+v, %v", tok, err)
		}
		if tok, err := auth.Authenticate(req("bearer  cfg-secret ")); err != nil || tok.Name != "cfg" {
			t.Errorf("lower-case scheme, extra spaces: %+v, %v", tok, err)
		}
	})
	t.Run("ErrMissing", func(t *testing.T) {
		for _, h := range []string{"", "cfg-secret", "Basic Y2ZnOmNmZw==", "Bearer ", "Bearer"} {
			_, err := auth.Authenticate(req(h))
			wantErr(t, err, sluice.CodeUnauthorized, nil, "send Authorization: Bearer <token>", "create one with sluice token create")
		}
	})
	t.Run("ErrUnknown", func(t *testing.T) {
		_, err := auth.Authenticate(req("Bearer nope"))
		wantErr(t, err, sluice.CodeUnauthorized, nil, "not known", "create one with sluice token create")
	})
	t.Run("ErrBadRoleInConfig", func(t *testing.T) {
		tok, err := auth.Authenticate(req("Bearer typo-secret"))
		if err != nil {
			t.Fatal(err)
		}
		err = api.Authorize(tok, sluice.RoleViewer)
		wantErr(t, err, sluice.CodeForbidden, nil, `"admn", which is not a role`, "fix it in the config file")
	})
	t.Run("Reload", func(t *testing.T) {
		tok := sluice.Token{Name: "other-replica", Role: sluice.RoleViewer, Hash: sluice.HashSecret("new-secret"), CreatedAt: t0}
		if err := st.PutToken(ctx, tok, sluice.AuditEntry{Actor: "test", Action: "token.create", Subject: tok.Name, Reason: "r"}); err != nil {
			t.Fatal(err)
		}
		if _, err := auth.Authenticate(req("Bearer new-secret")); sluice.ErrorCode(err) != sluice.CodeUnauthorized {
			t.Fatalf("before Reload: %v, want the cached tokens (unauthorized)", err)
		}
		if err := auth.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if got, err := auth.Authenticate(req("Bearer new-secret")); err != nil || got.Name != "other-replica" {
			t.Fatalf("after Reload: %+v, %v", got, err)
		}
	})
	t.Run("CacheExpires", func(t *testing.T) {
		auth.CacheFor = time.Nanosecond
		defer func() { auth.CacheFor = 0 }()
		if err := st.DeleteToken(ctx, "other-replica", false, sluice.AuditEntry{Actor: "test", Action: "token.delete", Subject: "other-replica", Reason: "r"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
		_, err := auth.Authenticate(req("Bearer new-secret"))
		wantErr(t, err, sluice.CodeUnauthorized, nil, "not known")
	})
	t.Run("Middleware", func(t *testing.T) {
		h := auth.Middleware(sluice.RoleOperator, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, ok := api.ActorFrom(r.Context())
			if !ok || tok.Name != "cfg" {
				t.Errorf("actor = %+v, %v", tok, ok)
			}
			w.WriteHeader(http.StatusNoContent)
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req("Bearer cfg-secret"))
		if rec.Code != http.StatusNoContent {
			t.Errorf("status = %d", rec.Code)
		}
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, req(""))
		if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "sluice token create") || rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("no token: %d %v %s", rec.Code, rec.Header(), rec.Body)
		}
	})
}

func TestAuth_StoreDown(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	auth := api.NewAuth(st, []sluice.Token{{Name: "cfg", Role: sluice.RoleAdmin, Hash: sluice.HashSecret("cfg-secret")}})
	st.Close()
	r := httptest.NewRequest("GET", "/admin/v1/whoami", nil)
	r.Header.Set("Authorization", "Bearer cfg-secret")
	if tok, err := auth.Authenticate(r); err != nil || tok.Name != "cfg" {
		t.Errorf("static token with the store down: %+v, %v", tok, err)
	}
	r.Header.Set("Authorization", "Bearer other")
	_, err = auth.Authenticate(r)
	wantErr(t, err, sluice.CodeUnavailable, nil, "cannot check the admin token: the token store is unavailable", "retry", "/readyz")
	if strings.Contains(err.Error(), "closed") || strings.Contains(err.Error(), "sql") {
		t.Errorf("an unauthenticated caller was told the store's error: %v", err)
	}
}
