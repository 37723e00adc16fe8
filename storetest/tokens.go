package storetest

import (
	"cmp"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

var tokenTests = []test{
	{"Empty", testTokensEmpty},
	{"PutAndReplace", testTokensPut},
	{"Delete", testTokensDelete},
	{"ErrDeleteMissing", testTokensDeleteMissing},
}

func mustTokens(t *testing.T, s sluice.Store) []sluice.Token {
	t.Helper()
	got, err := s.Tokens(t.Context())
	if err != nil {
		t.Fatalf("Tokens: %v", err)
	}
	for _, tok := range got {
		checkUTC(t, "token "+tok.Name+" CreatedAt", tok.CreatedAt)
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
		}
		slices.SortFunc(ts, func(a, b sluice.Token) int { return cmp.Compare(a.Name, b.Name) })
		return ts
	}
	g, w := norm(got), norm(want)
	if len(g) != len(w) {
		t.Fatalf("tokens = %+v, want %+v", g, w)
	}
	for i := range w {
		if g[i].Name != w[i].Name || g[i].Role != w[i].Role || g[i].Hash != w[i].Hash || !g[i].CreatedAt.Equal(w[i].CreatedAt) {
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
	must(t, "DeleteToken a", s.DeleteToken(t.Context(), "a", tokenAudit("token.delete", "a", at(time.Second))))
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
	err := s.DeleteToken(t.Context(), "nobody", tokenAudit("token.delete", "nobody", at(time.Second)))
	wantCode(t, "DeleteToken of a missing token", err, sluice.CodeNotFound)
	checkUnchanged(t, s, before)
}
