package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// TestTokens_Expire: a token created with an expiry works until then and
// is refused with a 401 after, saying which token expired when and what to
// do, never echoing the secret; the static admin token keeps working; the
// list marks it expired; the audit of its creation and deletion holds the
// expiry.
func TestTokens_Expire(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	expires := t0.Add(time.Hour)
	created, err := e.Admin.CreateTokenWith(ctx, api.TokenRequest{Name: "contractor", Role: sluice.RoleOperator, ExpiresAt: expires, Reason: "a week's help"})
	if err != nil {
		t.Fatalf("create a token that expires: %v", err)
	}
	if !created.ExpiresAt.Equal(expires) || created.Expired {
		t.Fatalf("created = %+v, want it to expire at %v", created.TokenView, expires)
	}
	bot := &api.Client{BaseURL: e.URL, Token: created.Secret}
	if who, err := bot.WhoAmI(ctx); err != nil || !who.ExpiresAt.Equal(expires) {
		t.Fatalf("whoami before the expiry: %+v, %v; want it to say when the token expires", who, err)
	}

	e.Clock.Set(expires)
	req, _ := http.NewRequest("GET", e.URL+"/admin/v1/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+created.Secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("an expired token: %d %s, want 401", resp.StatusCode, body)
	}
	msg := string(body)
	for _, want := range []string{"token contractor expired at 2026-11-22T11:00:00Z", "ask an admin for a new one"} {
		if !strings.Contains(msg, want) {
			t.Errorf("expired token's answer %s: want it to say %q", msg, want)
		}
	}
	if strings.Contains(msg, created.Secret) {
		t.Errorf("expired token's answer echoes the secret: %s", msg)
	}
	// Also through a signed-in session's hash (the dashboard's).
	if _, err := e.Auth.TokenByHash(ctx, sluice.HashSecret(created.Secret)); sluice.ErrorCode(err) != sluice.CodeUnauthorized || !strings.Contains(sluice.ErrorMessage(err), "expired") {
		t.Errorf("TokenByHash of an expired token: %v, want unauthorized, expired", err)
	}

	// The admin is not locked out, and sees it as expired.
	ts, err := e.Admin.Tokens(ctx)
	if err != nil {
		t.Fatalf("list tokens after the expiry: %v", err)
	}
	var seen bool
	for _, v := range ts {
		if v.Name == "contractor" {
			seen = true
			if !v.Expired || !v.ExpiresAt.Equal(expires) {
				t.Errorf("listed %+v, want expired at %v", v, expires)
			}
		}
	}
	if !seen {
		t.Fatalf("contractor not listed: %+v", ts)
	}
	if err := e.Admin.DeleteToken(ctx, "contractor", "contract over"); err != nil {
		t.Fatalf("delete the expired token: %v", err)
	}

	audit, err := e.Admin.Audit(ctx, sluice.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var creates, deletes int
	for _, a := range audit {
		var v struct {
			ExpiresAt time.Time `json:"expires_at"`
		}
		switch a.Action {
		case "token.create":
			creates++
			if err := json.Unmarshal(a.After, &v); err != nil || !v.ExpiresAt.Equal(expires) {
				t.Errorf("token.create audit after = %s, want expires_at %v", a.After, expires)
			}
		case "token.delete":
			deletes++
			if err := json.Unmarshal(a.Before, &v); err != nil || !v.ExpiresAt.Equal(expires) {
				t.Errorf("token.delete audit before = %s, want expires_at %v", a.Before, expires)
			}
		}
	}
	if creates != 1 || deletes != 1 {
		t.Errorf("audit has %d token.create and %d token.delete entries, want 1 each", creates, deletes)
	}
}

// TestTokens_ExpiryInThePast: an expiry that is not in the future is
// refused, naming the field, and nothing is created.
func TestTokens_ExpiryInThePast(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	_, err := e.Admin.CreateTokenWith(ctx, api.TokenRequest{Name: "late", Role: sluice.RoleViewer, ExpiresAt: t0, Reason: "x"})
	if sluice.ErrorCode(err) != sluice.CodeInvalid || !strings.Contains(sluice.ErrorMessage(err), "expires_at") || !strings.Contains(sluice.ErrorMessage(err), "not in the future") {
		t.Fatalf("create with expires_at = now: %v, want invalid, naming expires_at", err)
	}
	ts, err := e.Store.Tokens(ctx)
	if err != nil || len(ts) != 0 {
		t.Fatalf("stored tokens after a refused create: %+v, %v", ts, err)
	}
}

// TestTokens_LastUsedThrottled: a token's last use reaches the store when
// it authenticates, then at most once a TouchEvery however often it is
// used; the list shows it; a token never used shows none.
func TestTokens_LastUsedThrottled(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	created, err := e.Admin.CreateToken(ctx, "ci-bot", sluice.RoleViewer, "reads")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Admin.CreateToken(ctx, "idle", sluice.RoleViewer, "never used"); err != nil {
		t.Fatal(err)
	}
	bot := &api.Client{BaseURL: e.URL, Token: created.Secret}
	stored := func() map[string]time.Time {
		t.Helper()
		e.Auth.WaitTouches()
		ts, err := e.Store.Tokens(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]time.Time{}
		for _, tok := range ts {
			out[tok.Name] = tok.LastUsedAt
		}
		return out
	}
	if got := stored(); !got["ci-bot"].IsZero() {
		t.Fatalf("last use before any use = %v, want none", got["ci-bot"])
	}
	use := func(at time.Time) {
		t.Helper()
		e.Clock.Set(at)
		if _, err := bot.WhoAmI(ctx); err != nil {
			t.Fatalf("whoami at %v: %v", at, err)
		}
	}
	use(t0.Add(time.Second))
	if got := stored()["ci-bot"]; !got.Equal(t0.Add(time.Second)) {
		t.Fatalf("last use after the first use = %v, want %v", got, t0.Add(time.Second))
	}
	use(t0.Add(30 * time.Second))
	use(t0.Add(60 * time.Second))
	if got := stored()["ci-bot"]; !got.Equal(t0.Add(time.Second)) {
		t.Fatalf("last use after two more uses within a minute = %v, want it unwritten (%v)", got, t0.Add(time.Second))
	}
	use(t0.Add(61 * time.Second))
	if got := stored()["ci-bot"]; !got.Equal(t0.Add(61 * time.Second)) {
		t.Fatalf("last use a minute after the write = %v, want %v", got, t0.Add(61*time.Second))
	}

	ts, err := e.Admin.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range ts {
		switch v.Name {
		case "ci-bot":
			if !v.LastUsedAt.Equal(t0.Add(61 * time.Second)) {
				t.Errorf("listed ci-bot last used %v, want %v", v.LastUsedAt, t0.Add(61*time.Second))
			}
		case "idle":
			if !v.LastUsedAt.IsZero() {
				t.Errorf("listed idle last used %v, want never", v.LastUsedAt)
			}
		}
	}
}

// TestAuth_SetStaticExpiredStoreAdmin: an expired admin token in the store
// administers nothing, so a reload that removes the config file's last
// admin token is refused when the store's admin tokens have all expired,
// and goes through while one has not.
func TestAuth_SetStaticExpiredStoreAdmin(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	if _, err := e.Admin.CreateTokenWith(ctx, api.TokenRequest{Name: "temp-admin", Role: sluice.RoleAdmin, ExpiresAt: t0.Add(time.Hour), Reason: "cover"}); err != nil {
		t.Fatal(err)
	}
	e.Clock.Set(t0.Add(2 * time.Hour))
	if err := e.Auth.SetStatic(ctx, nil); sluice.ErrorCode(err) != sluice.CodeInvalid {
		t.Fatalf("removing the config file's tokens with only an expired admin token in the store: %v, want refused", err)
	}
	if _, err := e.Admin.WhoAmI(ctx); err != nil {
		t.Fatalf("the config file's admin token after the refused reload: %v", err)
	}
	e.Clock.Set(t0.Add(time.Minute))
	if err := e.Auth.SetStatic(ctx, nil); err != nil {
		t.Fatalf("removing the config file's tokens while the store's admin token has not expired: %v", err)
	}
}

// TestTokens_LastUsedNotInherited: a token deleted and created again under
// its name is a new token: the list does not show the old one's last use,
// remembered by this replica, as the new one's, nor does that memory hold
// back the new one's first use from the store.
func TestTokens_LastUsedNotInherited(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	old, err := e.Admin.CreateToken(ctx, "ci-bot", sluice.RoleViewer, "reads")
	if err != nil {
		t.Fatal(err)
	}
	e.Clock.Set(t0.Add(time.Second))
	if _, err := (&api.Client{BaseURL: e.URL, Token: old.Secret}).WhoAmI(ctx); err != nil {
		t.Fatal(err)
	}
	e.Auth.WaitTouches()
	e.Clock.Set(t0.Add(10 * time.Second))
	if err := e.Admin.DeleteToken(ctx, "ci-bot", "leaked"); err != nil {
		t.Fatal(err)
	}
	e.Clock.Set(t0.Add(20 * time.Second))
	fresh, err := e.Admin.CreateToken(ctx, "ci-bot", sluice.RoleViewer, "a new secret")
	if err != nil {
		t.Fatal(err)
	}
	lastUsed := func() time.Time {
		t.Helper()
		ts, err := e.Admin.Tokens(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range ts {
			if v.Name == "ci-bot" {
				return v.LastUsedAt
			}
		}
		t.Fatalf("ci-bot not listed: %+v", ts)
		return time.Time{}
	}
	if got := lastUsed(); !got.IsZero() {
		t.Fatalf("the new ci-bot, never used, listed as last used %v (the deleted one's use)", got)
	}
	e.Clock.Set(t0.Add(30 * time.Second))
	if _, err := (&api.Client{BaseURL: e.URL, Token: fresh.Secret}).WhoAmI(ctx); err != nil {
		t.Fatal(err)
	}
	e.Auth.WaitTouches()
	ts, err := e.Store.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range ts {
		if tok.Name == "ci-bot" && !tok.LastUsedAt.Equal(t0.Add(30*time.Second)) {
			t.Errorf("the new ci-bot's first use reached the store as %v, want %v", tok.LastUsedAt, t0.Add(30*time.Second))
		}
	}
}
