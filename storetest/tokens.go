package storetest

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

var tokenTests = []test{
	{"Empty", testTokensEmpty},
	{"PutAndReplace", testTokensPut},
	{"Delete", testTokensDelete},
	{"ErrDeleteMissing", testTokensDeleteMissing},
	{"KeepLastAdmin", testTokensKeepLastAdmin},
	{"KeepLastAdminConcurrent", testTokensKeepLastAdminConcurrent},
	{"ExpiryAndLastUse", testTokensExpiryAndLastUse},
	{"KeepLastAdminExpired", testTokensKeepLastAdminExpired},
}

func mustTokens(t *testing.T, s sluice.Store) []sluice.Token {
	t.Helper()
	got, err := s.Tokens(t.Context())
	if err != nil {
		t.Fatalf("Tokens: %v", err)
	}
	for _, tok := range got {
		checkUTC(t, "token "+tok.Name+" CreatedAt", tok.CreatedAt)
		checkUTC(t, "token "+tok.Name+" ExpiresAt", tok.ExpiresAt)
		checkUTC(t, "token "+tok.Name+" LastUsedAt", tok.LastUsedAt)
	}
	return got
}

// equalTokens compares token lists in name order.
func equalTokens(t *testing.T, got, want []sluice.Token) {
	t.Helper()
	norm := func(ts []sluice.Token) []sluice.Token {
		ts = slices.Clone(ts)
		for i := range ts {
			ts[i].CreatedAt = micro(ts[i].CreatedAt)
			ts[i].ExpiresAt = micro(ts[i].ExpiresAt)
			ts[i].LastUsedAt = micro(ts[i].LastUsedAt)
		}
		slices.SortFunc(ts, func(a, b sluice.Token) int { return cmp.Compare(a.Name, b.Name) })
		return ts
	}
	g, w := norm(got), norm(want)
	if len(g) != len(w) {
		t.Fatalf("tokens = %+v, want %+v", g, w)
	}
	for i := range w {
		if g[i].Name != w[i].Name || g[i].Role != w[i].Role || g[i].Hash != w[i].Hash || !g[i].CreatedAt.Equal(w[i].CreatedAt) ||
			!g[i].ExpiresAt.Equal(w[i].ExpiresAt) || !g[i].LastUsedAt.Equal(w[i].LastUsedAt) {
			t.Fatalf("token %d = %+v, want %+v", i, g[i], w[i])
		}
	}
}

func tokenAudit(action, name string, when time.Time) sluice.AuditEntry {
	return sluice.AuditEntry{At: when, Actor: "admin", Action: action, Subject: name, After: []byte(`{"name":"` + name + `"}`), Reason: "access for " + name}
}

func testTokensEmpty(t *testing.T, s sluice.Store) {
	if got := mustTokens(t, s); len(got) != 0 {
		t.Fatalf("Tokens on a new store = %+v, want none", got)
	}
}

func testTokensPut(t *testing.T, s sluice.Store) {
	alice := sluice.Token{Name: "alice", Role: sluice.RoleAdmin, Hash: sluice.HashSecret("s3cret-a"), CreatedAt: at(0)}
	bot := sluice.Token{Name: "ci-bot", Role: sluice.RoleViewer, Hash: sluice.HashSecret("s3cret-b"), CreatedAt: at(time.Second)}
	must(t, "PutToken ci-bot", s.PutToken(t.Context(), bot, tokenAudit("token.create", "ci-bot", at(time.Second))))
	must(t, "PutToken alice", s.PutToken(t.Context(), alice, tokenAudit("token.create", "alice", time.Time{})))
	got := mustTokens(t, s)
	equalTokens(t, got, []sluice.Token{alice, bot})
	for _, tok := range got {
		if tok.Name == "alice" && !tok.Matches("s3cret-a") {
			t.Errorf("token alice read back does not match its secret: hash %q", tok.Hash)
		}
	}

	// A name that is taken is a conflict, and nothing is written: the
	// token keeps its role and secret, and no audit entry is added (two
	// admins creating one name at once: one wins, the other is told).
	bot2 := sluice.Token{Name: "ci-bot", Role: sluice.RoleOperator, Hash: sluice.HashSecret("rotated"), CreatedAt: at(time.Minute)}
	before := takeSnapshot(t, s)
	err := s.PutToken(t.Context(), bot2, tokenAudit("token.create", "ci-bot", at(time.Minute)))
	wantCode(t, "PutToken of a taken name", err, sluice.CodeConflict)
	checkUnchanged(t, s, before)
	equalTokens(t, mustTokens(t, s), []sluice.Token{alice, bot})

	audit := allAudit(t, s)
	want := []sluice.AuditEntry{
		tokenAudit("token.create", "ci-bot", at(time.Second)),
		tokenAudit("token.create", "alice", time.Time{}),
	}
	if len(audit) != len(want) {
		t.Fatalf("audit after two PutToken and a refused one = %d entries, want %d", len(audit), len(want))
	}
	for i, w := range want {
		if w.At.IsZero() {
			if audit[i].At.IsZero() {
				t.Errorf("PutToken audit with zero At came back with zero At, want the commit time")
			}
			w.At = audit[i].At
		}
		checkEntry(t, audit[i], w)
	}
}

func testTokensDelete(t *testing.T, s sluice.Store) {
	a := sluice.Token{Name: "a", Role: sluice.RoleViewer, Hash: sluice.HashSecret("a"), CreatedAt: at(0)}
	b := sluice.Token{Name: "b", Role: sluice.RoleOperator, Hash: sluice.HashSecret("b"), CreatedAt: at(0)}
	must(t, "PutToken a", s.PutToken(t.Context(), a, tokenAudit("token.create", "a", at(0))))
	must(t, "PutToken b", s.PutToken(t.Context(), b, tokenAudit("token.create", "b", at(0))))
	must(t, "DeleteToken a", s.DeleteToken(t.Context(), "a", false, tokenAudit("token.delete", "a", at(time.Second))))
	equalTokens(t, mustTokens(t, s), []sluice.Token{b})
	audit := allAudit(t, s)
	if len(audit) != 3 {
		t.Fatalf("audit after two puts and a delete = %d entries, want 3", len(audit))
	}
	checkEntry(t, audit[2], tokenAudit("token.delete", "a", at(time.Second)))

	// The name is free again.
	must(t, "PutToken a again", s.PutToken(t.Context(), a, tokenAudit("token.create", "a", at(2*time.Second))))
	equalTokens(t, mustTokens(t, s), []sluice.Token{a, b})
}

func testTokensDeleteMissing(t *testing.T, s sluice.Store) {
	b := sluice.Token{Name: "b", Role: sluice.RoleOperator, Hash: sluice.HashSecret("b"), CreatedAt: at(0)}
	must(t, "PutToken b", s.PutToken(t.Context(), b, tokenAudit("token.create", "b", at(0))))
	before := takeSnapshot(t, s)
	err := s.DeleteToken(t.Context(), "nobody", false, tokenAudit("token.delete", "nobody", at(time.Second)))
	wantCode(t, "DeleteToken of a missing token", err, sluice.CodeNotFound)
	checkUnchanged(t, s, before)
}

// testTokensKeepLastAdmin: deleting the last admin token with keepAdmin is
// refused and writes nothing; other tokens, and admin tokens while another
// admin token is left, are deleted as usual; without keepAdmin (an admin
// token in the config file remains) the last one goes too.
func testTokensKeepLastAdmin(t *testing.T, s sluice.Store) {
	put := func(name string, role sluice.Role) {
		t.Helper()
		tok := sluice.Token{Name: name, Role: role, Hash: sluice.HashSecret(name), CreatedAt: at(0)}
		must(t, "PutToken "+name, s.PutToken(t.Context(), tok, tokenAudit("token.create", name, at(0))))
	}
	put("alice", sluice.RoleAdmin)
	put("bob", sluice.RoleAdmin)
	put("viewer", sluice.RoleViewer)
	must(t, "DeleteToken viewer", s.DeleteToken(t.Context(), "viewer", true, tokenAudit("token.delete", "viewer", at(time.Second))))
	must(t, "DeleteToken bob", s.DeleteToken(t.Context(), "bob", true, tokenAudit("token.delete", "bob", at(time.Second))))
	before := takeSnapshot(t, s)
	err := s.DeleteToken(t.Context(), "alice", true, tokenAudit("token.delete", "alice", at(2*time.Second)))
	wantCode(t, "DeleteToken of the last admin token", err, sluice.CodeConflict)
	if msg := sluice.ErrorMessage(err); !strings.Contains(msg, "last admin token") || !strings.Contains(msg, "create another first") {
		t.Errorf("DeleteToken of the last admin token: %q, want it to say so and what to do", msg)
	}
	checkUnchanged(t, s, before)
	err = s.DeleteToken(t.Context(), "nobody", true, tokenAudit("token.delete", "nobody", at(2*time.Second)))
	wantCode(t, "DeleteToken of a missing token with keepAdmin", err, sluice.CodeNotFound)
	must(t, "DeleteToken alice without keepAdmin", s.DeleteToken(t.Context(), "alice", false, tokenAudit("token.delete", "alice", at(3*time.Second))))
	equalTokens(t, mustTokens(t, s), nil)
}

// testTokensKeepLastAdminConcurrent: two admins delete the last two admin
// tokens at the same moment, round after round. Exactly one delete wins
// each time and one admin token is always left: the check and the delete
// are one transaction, serialised with the other's.
func testTokensKeepLastAdminConcurrent(t *testing.T, s sluice.Store) {
	names := []string{"alice", "bob"}
	for round := range 20 {
		for _, name := range names {
			tok := sluice.Token{Name: name, Role: sluice.RoleAdmin, Hash: sluice.HashSecret(name), CreatedAt: at(0)}
			err := s.PutToken(t.Context(), tok, tokenAudit("token.create", name, at(0)))
			if err != nil && sluice.ErrorCode(err) != sluice.CodeConflict {
				t.Fatalf("round %d: PutToken %s: %v", round, name, err)
			}
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, len(names))
		for i, name := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = s.DeleteToken(t.Context(), name, true, tokenAudit("token.delete", name, at(time.Second)))
			}()
		}
		close(start)
		wg.Wait()
		left := mustTokens(t, s)
		if len(left) != 1 {
			t.Fatalf("round %d: %d admin tokens left after deleting the last two at once (%v, %v), want 1", round, len(left), errs[0], errs[1])
		}
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
			} else if sluice.ErrorCode(err) != sluice.CodeConflict {
				t.Fatalf("round %d: DeleteToken: %v, want success or CodeConflict", round, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d deletes succeeded (%v, %v), want 1", round, won, errs[0], errs[1])
		}
	}
}

// testTokensExpiryAndLastUse: a token's expiry round-trips (zero is
// never); TouchToken sets the last use, never moves it back (two replicas
// writing out of order keep the later), writes no audit, and is no error
// for a token that is gone.
func testTokensExpiryAndLastUse(t *testing.T, s sluice.Store) {
	ctx := t.Context()
	exp := sluice.Token{Name: "contractor", Role: sluice.RoleOperator, Hash: sluice.HashSecret("c"), CreatedAt: at(0), ExpiresAt: at(90 * 24 * time.Hour).Add(123456 * time.Nanosecond)}
	never := sluice.Token{Name: "ci", Role: sluice.RoleViewer, Hash: sluice.HashSecret("n"), CreatedAt: at(0)}
	must(t, "PutToken contractor", s.PutToken(ctx, exp, tokenAudit("token.create", "contractor", at(0))))
	must(t, "PutToken ci", s.PutToken(ctx, never, tokenAudit("token.create", "ci", at(0))))
	equalTokens(t, mustTokens(t, s), []sluice.Token{exp, never})

	audit := len(allAudit(t, s))
	must(t, "TouchToken contractor", s.TouchToken(ctx, "contractor", at(time.Hour)))
	exp.LastUsedAt = at(time.Hour)
	equalTokens(t, mustTokens(t, s), []sluice.Token{exp, never})
	// An earlier time (a replica whose write was slower) does not move it back.
	must(t, "TouchToken contractor earlier", s.TouchToken(ctx, "contractor", at(time.Minute)))
	equalTokens(t, mustTokens(t, s), []sluice.Token{exp, never})
	must(t, "TouchToken contractor later", s.TouchToken(ctx, "contractor", at(2*time.Hour)))
	exp.LastUsedAt = at(2 * time.Hour)
	must(t, "TouchToken of a token that is gone", s.TouchToken(ctx, "nobody", at(time.Hour)))
	equalTokens(t, mustTokens(t, s), []sluice.Token{exp, never})
	if n := len(allAudit(t, s)); n != audit {
		t.Errorf("audit has %d entries after TouchToken, want the %d it had: a token's use is not audited", n, audit)
	}
	// A token deleted and made again under the same name starts unused.
	must(t, "TouchToken ci", s.TouchToken(ctx, "ci", at(time.Hour)))
	must(t, "DeleteToken ci", s.DeleteToken(ctx, "ci", false, tokenAudit("token.delete", "ci", at(time.Second))))
	must(t, "PutToken ci again", s.PutToken(ctx, never, tokenAudit("token.create", "ci", at(2*time.Second))))
	equalTokens(t, mustTokens(t, s), []sluice.Token{exp, never})
}

// testTokensKeepLastAdminExpired: an expired admin token administers
// nothing, so it does not count as another admin token: deleting the last
// one that has not expired (at the change's time) is refused, and the
// expired one may go.
func testTokensKeepLastAdminExpired(t *testing.T, s sluice.Store) {
	ctx := t.Context()
	old := sluice.Token{Name: "old", Role: sluice.RoleAdmin, Hash: sluice.HashSecret("old"), CreatedAt: at(0), ExpiresAt: at(time.Hour)}
	alice := sluice.Token{Name: "alice", Role: sluice.RoleAdmin, Hash: sluice.HashSecret("alice"), CreatedAt: at(0), ExpiresAt: at(48 * time.Hour)}
	must(t, "PutToken old", s.PutToken(ctx, old, tokenAudit("token.create", "old", at(0))))
	must(t, "PutToken alice", s.PutToken(ctx, alice, tokenAudit("token.create", "alice", at(0))))
	before := takeSnapshot(t, s)
	err := s.DeleteToken(ctx, "alice", true, tokenAudit("token.delete", "alice", at(2*time.Hour)))
	wantCode(t, "DeleteToken of the last admin token not expired", err, sluice.CodeConflict)
	checkUnchanged(t, s, before)
	must(t, "DeleteToken of an expired admin token", s.DeleteToken(ctx, "old", true, tokenAudit("token.delete", "old", at(2*time.Hour))))
	equalTokens(t, mustTokens(t, s), []sluice.Token{alice})
	// Before it expires, the other admin token counts.
	must(t, "PutToken old again", s.PutToken(ctx, old, tokenAudit("token.create", "old", at(0))))
	must(t, "DeleteToken alice while old has not expired", s.DeleteToken(ctx, "alice", true, tokenAudit("token.delete", "alice", at(time.Minute))))
	equalTokens(t, mustTokens(t, s), []sluice.Token{old})
}
