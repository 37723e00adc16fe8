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

func TestServer_UpdateKey(t *testing.T) {
	// created issues team-a: chat only, 1/s burst 1, 100 tokens a minute,
	// 1000 tokens a day, expiring in 90 days.
	created := func(t *testing.T, e *env) api.CreatedKey {
		t.Helper()
		k, err := e.Admin.CreateKey(t.Context(), api.KeyRequest{Name: "team-a", Models: []string{"chat"}, RateLimit: 1, Burst: 1, TokensPerMinute: 100,
			TokenBudget: 1000, BudgetPeriod: sluice.BudgetDay, ExpiresAt: t0.Add(90 * 24 * time.Hour), Reason: "onboard"})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	lastAudit := func(t *testing.T, e *env) sluice.AuditEntry {
		t.Helper()
		entries, err := e.Admin.Audit(t.Context(), sluice.AuditQuery{Limit: 1})
		if err != nil || len(entries) != 1 {
			t.Fatalf("audit: %v %+v", err, entries)
		}
		return entries[0]
	}

	t.Run("OK", func(t *testing.T) {
		e := MustEnv(t)
		ctx := t.Context()
		k := created(t, e)
		e.Clock.Set(t0.Add(time.Hour))
		up, err := e.Admin.UpdateKey(ctx, "team-a", api.KeyUpdateRequest{RateLimit: api.Some(100.0), Burst: api.Some(100), Reason: "team a's launch"})
		if err != nil {
			t.Fatal(err)
		}
		// The fields given changed, every other kept.
		if up.Name != "team-a" || up.RateLimit != 100 || up.Burst != 100 || up.TokensPerMinute != 100 || up.TokenBudget != 1000 || up.BudgetPeriod != sluice.BudgetDay ||
			len(up.Models) != 1 || up.Models[0] != "chat" || !up.ExpiresAt.Equal(k.ExpiresAt) || !up.CreatedAt.Equal(k.CreatedAt) ||
			strings.Join(up.Changed, ",") != "rate_limit,burst" || up.Source != "store" {
			t.Fatalf("update answered %+v", up)
		}
		// The same secret.
		stored, err := e.Store.ClientKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(stored) != 1 || stored[0].Hash != sluice.HashSecret(k.Secret) || stored[0].RateLimit != 100 || stored[0].Burst != 100 {
			t.Fatalf("the store holds %+v", stored)
		}
		if n := e.KeyReloads.Load(); n != 2 {
			t.Errorf("ReloadKeys called %d times after a create and an update, want 2", n)
		}
		// Audited with what changed, before and after; never a secret or hash.
		a := lastAudit(t, e)
		if a.Action != "key.update" || a.Subject != "team-a" || a.Actor != "ada" || a.Reason != "team a's launch" || !a.At.Equal(t0.Add(time.Hour)) {
			t.Fatalf("audit = %+v, want key.update of team-a", a)
		}
		if compact(t, a.Before) != `{"burst":1,"rate_limit":1}` || compact(t, a.After) != `{"burst":100,"rate_limit":100}` {
			t.Errorf("audit before %s after %s, want the two limits changed", a.Before, a.After)
		}
		for _, raw := range [][]byte{a.Before, a.After} {
			if s := string(raw); strings.Contains(s, k.Secret) || strings.Contains(s, sluice.HashSecret(k.Secret)) {
				t.Errorf("the audit holds a secret or hash: %s", s)
			}
		}
		// The list shows the new values.
		wantBody(t, e.do(t, "GET", "/admin/v1/keys", viewerSecret, nil), http.StatusOK, `"rate_limit": 100`, `"burst": 100`, `"tokens_per_minute": 100`)
	})

	t.Run("Remove", func(t *testing.T) {
		e := MustEnv(t)
		created(t, e)
		// null and 0 (or [] for models) remove; the budget takes its
		// period, the rate its burst.
		r := e.do(t, "PATCH", "/admin/v1/keys/team-a", adminSecret, []byte(`{"models":[],"rate_limit":null,"tokens_per_minute":0,"token_budget":null,"expires_at":null,"force_version":true,"reason":"unlimited"}`))
		wantBody(t, r, http.StatusOK, `"changed": [`, `"force_version": true`)
		var up api.UpdatedKey
		if err := json.Unmarshal(r.Body, &up); err != nil {
			t.Fatal(err)
		}
		if up.Models != nil || up.RateLimit != 0 || up.Burst != 0 || up.TokensPerMinute != 0 || up.TokenBudget != 0 || up.BudgetPeriod != "" || !up.ExpiresAt.IsZero() || !up.ForceVersion {
			t.Fatalf("after removing every limit: %+v", up)
		}
		if got := strings.Join(up.Changed, ","); got != "models,rate_limit,burst,tokens_per_minute,token_budget,budget_period,force_version,expires_at" {
			t.Errorf("changed = %s", got)
		}
		stored, _ := e.Store.ClientKeys(t.Context())
		if len(stored) != 1 || stored[0].Models != nil || stored[0].RateLimit != 0 || stored[0].TokenBudget != 0 || stored[0].BudgetPeriod != "" || !stored[0].ExpiresAt.IsZero() {
			t.Fatalf("the store holds %+v", stored)
		}
		a := lastAudit(t, e)
		if !strings.Contains(compact(t, a.Before), `"models":["chat"]`) || !strings.Contains(compact(t, a.After), `"models":null`) || !strings.Contains(compact(t, a.After), `"expires_at":null`) {
			t.Errorf("audit before %s after %s", a.Before, a.After)
		}
		// Set again: a budget with its period, a later expiry.
		until := t0.Add(24 * time.Hour)
		up, err := e.Admin.UpdateKey(t.Context(), "team-a", api.KeyUpdateRequest{TokenBudget: api.Some[int64](5000), BudgetPeriod: api.Some("week"), ExpiresAt: api.Some(until), Reason: "r"})
		if err != nil {
			t.Fatal(err)
		}
		if up.TokenBudget != 5000 || up.BudgetPeriod != "week" || !up.ExpiresAt.Equal(until) || up.BudgetResetsAt.IsZero() {
			t.Fatalf("after setting a budget: %+v", up)
		}
	})

	t.Run("Unchanged", func(t *testing.T) {
		e := MustEnv(t)
		created(t, e)
		before := auditCount(t, e)
		up, err := e.Admin.UpdateKey(t.Context(), "team-a", api.KeyUpdateRequest{RateLimit: api.Some(1.0), Models: api.Some([]string{"chat"}), Reason: "r"})
		if err != nil {
			t.Fatal(err)
		}
		if len(up.Changed) != 0 || up.RateLimit != 1 {
			t.Fatalf("an update to the same values answered %+v", up)
		}
		if n := auditCount(t, e); n != before {
			t.Errorf("an update that changed nothing was audited: %d entries, was %d", n, before)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		e := MustEnv(t)
		ctx := t.Context()
		created(t, e)
		if _, err := e.Admin.CreateKey(ctx, api.KeyRequest{Name: "free", Reason: "r"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Admin.CreateKey(ctx, api.KeyRequest{Name: "gone", Reason: "r"}); err != nil {
			t.Fatal(err)
		}
		if err := e.Admin.DeleteKey(ctx, "gone", "r"); err != nil {
			t.Fatal(err)
		}
		before, _ := e.Store.ClientKeys(ctx)
		audits := auditCount(t, e)
		for _, c := range []struct {
			path, body string
			status     int
			field      string
			want       string
		}{
			{"team-a", `{"token_budget":-5,"reason":"r"}`, 422, "token_budget", "token_budget"},
			{"team-a", `{"budget_period":null,"reason":"r"}`, 422, "budget_period", "budget_period"},
			{"team-a", `{"budget_period":"year","reason":"r"}`, 422, "budget_period", "day, week or month"},
			{"free", `{"token_budget":5000,"reason":"r"}`, 422, "budget_period", "budget_period"},
			{"free", `{"burst":5,"reason":"r"}`, 422, "burst", "rate_limit"},
			{"team-a", `{"rate_limit":-1,"reason":"r"}`, 422, "rate_limit", "rate_limit"},
			{"team-a", `{"tokens_per_minute":-1,"reason":"r"}`, 422, "tokens_per_minute", "tokens_per_minute"},
			{"team-a", `{"models":["no such/model!"],"reason":"r"}`, 422, "models", "models[0]"},
			{"team-a", `{"expires_at":"2020-01-01T00:00:00Z","reason":"r"}`, 422, "expires_at", "not in the future"},
			{"team-a", `{"expires_at":"90d","reason":"r"}`, 400, "expires_at", "a time field (expires_at) is not an RFC 3339 string"},
			{"team-a", `{"rate_limit":5}`, 422, "reason", "reason"},
			{"team-a", `{"rate_limit":"fast","reason":"r"}`, 400, "rate_limit", "rate_limit"},
			{"team-a", `{"colour":"red","reason":"r"}`, 400, "colour", "colour"},
			{"team-a", `{"reason":"r"}`, 400, "", "changes nothing"},
			{"web-app", `{"rate_limit":5,"reason":"r"}`, 409, "name", "config file"},
			{"nope", `{"rate_limit":5,"reason":"r"}`, 404, "name", "sluice key list"},
			{"gone", `{"rate_limit":5,"reason":"r"}`, 404, "name", "sluice key list"},
		} {
			r := e.do(t, "PATCH", "/admin/v1/keys/"+c.path, adminSecret, []byte(c.body))
			r.want(t, c.status, c.want)
			if c.field != "" {
				r.wantFields(t, c.field)
			}
		}
		// The viewer and the operator may not.
		if _, err := e.Oper.UpdateKey(ctx, "team-a", api.KeyUpdateRequest{RateLimit: api.Some(5.0), Reason: "r"}); sluice.ErrorCode(err) != sluice.CodeForbidden {
			t.Errorf("an operator's update: %v, want forbidden", err)
		}
		after, _ := e.Store.ClientKeys(ctx)
		if b, _ := json.Marshal(before); func() string { a, _ := json.Marshal(after); return string(a) }() != string(b) {
			t.Errorf("refused updates changed the keys: %+v, was %+v", after, before)
		}
		if n := auditCount(t, e); n != audits {
			t.Errorf("refused updates were audited: %d entries, was %d", n, audits)
		}
	})
}
