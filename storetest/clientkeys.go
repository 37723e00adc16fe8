package storetest

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

var clientKeyTests = []test{
	{"Empty", testClientKeysEmpty},
	{"PutAndRead", testClientKeysPut},
	{"ErrTaken", testClientKeysTaken},
	{"Delete", testClientKeysDelete},
	{"ErrDeleteMissing", testClientKeysDeleteMissing},
	{"Touch", testClientKeysTouch},
	{"Rotate", testClientKeysRotate},
	{"RotateAgainCutsGrace", testClientKeysRotateAgain},
	{"ErrRotate", testClientKeysRotateErrors},
	{"RevokeRotated", testClientKeysRevokeRotated},
	{"TombstonesPruned", testClientKeysPruned},
	{"Update", testClientKeysUpdate},
	{"ErrUpdate", testClientKeysUpdateErrors},
}

func mustClientKeys(t *testing.T, s sluice.Store) []sluice.StoredKey {
	t.Helper()
	got, err := s.ClientKeys(t.Context())
	if err != nil {
		t.Fatalf("ClientKeys: %v", err)
	}
	for i, k := range got {
		checkUTC(t, "client key "+k.Name+" CreatedAt", k.CreatedAt)
		checkUTC(t, "client key "+k.Name+" ExpiresAt", k.ExpiresAt)
		checkUTC(t, "client key "+k.Name+" LastUsedAt", k.LastUsedAt)
		checkUTC(t, "client key "+k.Name+" RotatedAt", k.RotatedAt)
		checkUTC(t, "client key "+k.Name+" RevokedAt", k.RevokedAt)
		microKey(&got[i])
		for j, r := range k.Retired {
			checkUTC(t, "client key "+k.Name+" retired secret Until", r.Until)
			got[i].Retired[j].Until = micro(r.Until)
		}
	}
	return got
}

func microKey(k *sluice.StoredKey) {
	k.CreatedAt, k.ExpiresAt, k.LastUsedAt, k.RotatedAt, k.RevokedAt = micro(k.CreatedAt), micro(k.ExpiresAt), micro(k.LastUsedAt), micro(k.RotatedAt), micro(k.RevokedAt)
	for j := range k.Retired {
		k.Retired[j].Until = micro(k.Retired[j].Until)
	}
}

func equalClientKeys(t *testing.T, got, want []sluice.StoredKey) {
	t.Helper()
	for i := range want {
		microKey(&want[i])
	}
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("client keys = %+v,\nwant %+v", got, want)
	}
}

func keyAudit(action, name string, when time.Time) sluice.AuditEntry {
	return sluice.AuditEntry{At: when, Actor: "admin", Action: action, Subject: name, After: []byte(`{"name":"` + name + `"}`), Reason: "access for " + name}
}

func testClientKeysEmpty(t *testing.T, s sluice.Store) {
	equalClientKeys(t, mustClientKeys(t, s), nil)
}

func testClientKeysPut(t *testing.T, s sluice.Store) {
	web := sluice.StoredKey{Name: "web-app", Hash: sluice.HashSecret("sk-sluice-web"), Models: []string{"chat", "embed"}, RateLimit: 2.5, Burst: 5,
		TokensPerMinute: 200000, TokenBudget: 50_000_000, BudgetPeriod: sluice.BudgetMonth, CreatedAt: at(0), CreatedBy: "alice", ExpiresAt: at(90 * 24 * time.Hour)}
	evals := sluice.StoredKey{Name: "evals", Hash: sluice.HashSecret("sk-sluice-evals"), ForceVersion: true, CreatedAt: at(time.Second), CreatedBy: "bob"}
	must(t, "PutClientKey web-app", s.PutClientKey(t.Context(), web, keyAudit("key.create", "web-app", at(0))))
	must(t, "PutClientKey evals", s.PutClientKey(t.Context(), evals, keyAudit("key.create", "evals", at(time.Second))))
	// By name; every setting kept, no models read back as nil (every model).
	equalClientKeys(t, mustClientKeys(t, s), []sluice.StoredKey{evals, web})
	audit := allAudit(t, s)
	if len(audit) != 2 {
		t.Fatalf("audit after two PutClientKey = %d entries, want 2", len(audit))
	}
	checkEntry(t, audit[0], keyAudit("key.create", "web-app", at(0)))
	checkEntry(t, audit[1], keyAudit("key.create", "evals", at(time.Second)))
}

func testClientKeysTaken(t *testing.T, s sluice.Store) {
	web := sluice.StoredKey{Name: "web-app", Hash: sluice.HashSecret("one"), CreatedAt: at(0)}
	must(t, "PutClientKey web-app", s.PutClientKey(t.Context(), web, keyAudit("key.create", "web-app", at(0))))
	before := takeSnapshot(t, s)
	// The same name with another secret: a conflict naming the key, and
	// nothing written (two admins creating one name at once: one wins).
	err := s.PutClientKey(t.Context(), sluice.StoredKey{Name: "web-app", Hash: sluice.HashSecret("two"), CreatedAt: at(time.Minute)}, keyAudit("key.create", "web-app", at(time.Minute)))
	wantCode(t, "PutClientKey of a taken name", err, sluice.CodeConflict)
	// Another name with the same secret: a conflict too.
	err = s.PutClientKey(t.Context(), sluice.StoredKey{Name: "other", Hash: web.Hash, CreatedAt: at(time.Minute)}, keyAudit("key.create", "other", at(time.Minute)))
	wantCode(t, "PutClientKey of a taken secret", err, sluice.CodeConflict)
	checkUnchanged(t, s, before)
	equalClientKeys(t, mustClientKeys(t, s), []sluice.StoredKey{web})
	if n := len(allAudit(t, s)); n != 1 {
		t.Fatalf("audit after refused puts = %d entries, want 1", n)
	}
}

func testClientKeysDelete(t *testing.T, s sluice.Store) {
	// a's budget is kept with its tombstone, for sluice key list --all.
	a := sluice.StoredKey{Name: "a", Hash: sluice.HashSecret("a"), TokenBudget: 1000, BudgetPeriod: sluice.BudgetDay, CreatedAt: at(0)}
	b := sluice.StoredKey{Name: "b", Hash: sluice.HashSecret("b"), CreatedAt: at(0)}
	must(t, "PutClientKey a", s.PutClientKey(t.Context(), a, keyAudit("key.create", "a", at(0))))
	must(t, "PutClientKey b", s.PutClientKey(t.Context(), b, keyAudit("key.create", "b", at(0))))
	must(t, "DeleteClientKey a", s.DeleteClientKey(t.Context(), "a", keyAudit("key.delete", "a", at(time.Second))))
	// a is no longer in force, but kept as revoked (after the keys in
	// force), so that every replica says so.
	revokedA := a
	revokedA.RevokedAt = at(time.Second)
	equalClientKeys(t, mustClientKeys(t, s), []sluice.StoredKey{b, revokedA})
	audit := allAudit(t, s)
	if len(audit) != 3 {
		t.Fatalf("audit after two puts and a delete = %d entries, want 3", len(audit))
	}
	checkEntry(t, audit[2], keyAudit("key.delete", "a", at(time.Second)))
	// The name is free again, with a new secret.
	a2 := sluice.StoredKey{Name: "a", Hash: sluice.HashSecret("a2"), CreatedAt: at(2 * time.Second)}
	must(t, "PutClientKey a again", s.PutClientKey(t.Context(), a2, keyAudit("key.create", "a", at(2*time.Second))))
	// The old secret stays revoked beside the new key of its name.
	equalClientKeys(t, mustClientKeys(t, s), []sluice.StoredKey{a2, b, revokedA})
	// Revoking the new one keeps both, by revoke.
	must(t, "DeleteClientKey a again", s.DeleteClientKey(t.Context(), "a", keyAudit("key.delete", "a", at(3*time.Second))))
	revokedA2 := a2
	revokedA2.RevokedAt = at(3 * time.Second)
	equalClientKeys(t, mustClientKeys(t, s), []sluice.StoredKey{b, revokedA, revokedA2})
	// A revoked key is no key to delete again.
	before := takeSnapshot(t, s)
	wantCode(t, "DeleteClientKey of a revoked key", s.DeleteClientKey(t.Context(), "a", keyAudit("key.delete", "a", at(4*time.Second))), sluice.CodeNotFound)
	checkUnchanged(t, s, before)
}

func testClientKeysTouch(t *testing.T, s sluice.Store) {
	a := sluice.StoredKey{Name: "a", Hash: sluice.HashSecret("a"), CreatedAt: at(0)}
	must(t, "PutClientKey a", s.PutClientKey(t.Context(), a, keyAudit("key.create", "a", at(0))))
	before := len(allAudit(t, s))
	must(t, "TouchClientKey", s.TouchClientKey(t.Context(), "a", a.CreatedAt, at(time.Minute)))
	a.LastUsedAt = at(time.Minute)
	equalClientKeys(t, mustClientKeys(t, s), []sluice.StoredKey{a})
	// An earlier use (another replica's, late) does not move it back.
	must(t, "TouchClientKey earlier", s.TouchClientKey(t.Context(), "a", a.CreatedAt, at(30*time.Second)))
	equalClientKeys(t, mustClientKeys(t, s), []sluice.StoredKey{a})
	must(t, "TouchClientKey later", s.TouchClientKey(t.Context(), "a", a.CreatedAt, at(2*time.Minute)))
	a.LastUsedAt = at(2 * time.Minute)
	equalClientKeys(t, mustClientKeys(t, s), []sluice.StoredKey{a})
	// A key that is gone, or another key of that name, is no error and
	// is not touched.
	must(t, "TouchClientKey of a missing key", s.TouchClientKey(t.Context(), "nope", at(0), at(3*time.Minute)))
	must(t, "TouchClientKey of an older key of the name", s.TouchClientKey(t.Context(), "a", at(-time.Hour), at(3*time.Minute)))
	equalClientKeys(t, mustClientKeys(t, s), []sluice.StoredKey{a})
	// A rotation keeps the last use; no audit for a touch.
	must(t, "RotateClientKey", s.RotateClientKey(t.Context(), "a", sluice.HashSecret("a2"), at(4*time.Minute), keyAudit("key.rotate", "a", at(4*time.Minute))))
	got := mustClientKeys(t, s)
	if len(got) != 1 || !got[0].LastUsedAt.Equal(micro(at(2*time.Minute))) {
		t.Fatalf("after a rotation, keys = %+v, want a last used at %v", got, at(2*time.Minute))
	}
	if n := len(allAudit(t, s)); n != before+1 {
		t.Fatalf("audit after touches and a rotation = %d entries, want %d", n, before+1)
	}
}

func testClientKeysRotate(t *testing.T, s sluice.Store) {
	web := sluice.StoredKey{Name: "web", Hash: sluice.HashSecret("old"), Models: []string{"chat"}, RateLimit: 3, Burst: 6, TokensPerMinute: 1000,
		ForceVersion: true, CreatedAt: at(0), CreatedBy: "alice", ExpiresAt: at(90 * 24 * time.Hour), LastUsedAt: time.Time{}}
	must(t, "PutClientKey web", s.PutClientKey(t.Context(), web, keyAudit("key.create", "web", at(0))))
	entry := keyAudit("key.rotate", "web", at(time.Hour))
	must(t, "RotateClientKey", s.RotateClientKey(t.Context(), "web", sluice.HashSecret("new"), at(2*time.Hour), entry))
	// Same name, settings and creation; the new hash; the old one works
	// until the grace's end.
	want := web
	want.Hash, want.RotatedAt = sluice.HashSecret("new"), at(time.Hour)
	want.Retired = []sluice.RetiredSecret{{Hash: sluice.HashSecret("old"), Until: at(2 * time.Hour)}}
	got := mustClientKeys(t, s)
	equalClientKeys(t, got, []sluice.StoredKey{want})
	if g := got[0].GraceEnd(at(time.Hour)); !g.Equal(micro(at(2 * time.Hour))) {
		t.Errorf("GraceUntil during the grace = %v, want %v", g, at(2*time.Hour))
	}
	if g := got[0].GraceEnd(at(3 * time.Hour)); !g.IsZero() {
		t.Errorf("GraceUntil after the grace = %v, want zero", g)
	}
	audit := allAudit(t, s)
	checkEntry(t, audit[len(audit)-1], entry)
	// A grace that ends before the rotation ends at it.
	must(t, "RotateClientKey without grace", s.RotateClientKey(t.Context(), "web", sluice.HashSecret("newer"), time.Time{}, keyAudit("key.rotate", "web", at(3*time.Hour))))
	want.Hash, want.RotatedAt = sluice.HashSecret("newer"), at(3*time.Hour)
	want.Retired = []sluice.RetiredSecret{{Hash: sluice.HashSecret("old"), Until: at(2 * time.Hour)}, {Hash: sluice.HashSecret("new"), Until: at(3 * time.Hour)}}
	equalClientKeys(t, mustClientKeys(t, s), []sluice.StoredKey{want})
}

func testClientKeysRotateAgain(t *testing.T, s sluice.Store) {
	k := sluice.StoredKey{Name: "k", Hash: sluice.HashSecret("s1"), CreatedAt: at(0)}
	must(t, "PutClientKey", s.PutClientKey(t.Context(), k, keyAudit("key.create", "k", at(0))))
	must(t, "rotate with a day's grace", s.RotateClientKey(t.Context(), "k", sluice.HashSecret("s2"), at(24*time.Hour), keyAudit("key.rotate", "k", at(time.Minute))))
	// A second rotation (the new secret leaked too) with a shorter grace
	// ends every earlier secret's by its own.
	must(t, "rotate with a minute's grace", s.RotateClientKey(t.Context(), "k", sluice.HashSecret("s3"), at(3*time.Minute), keyAudit("key.rotate", "k", at(2*time.Minute))))
	got := mustClientKeys(t, s)
	wantRetired := []sluice.RetiredSecret{{Hash: sluice.HashSecret("s1"), Until: micro(at(3 * time.Minute))}, {Hash: sluice.HashSecret("s2"), Until: micro(at(3 * time.Minute))}}
	slices.SortFunc(got[0].Retired, func(a, b sluice.RetiredSecret) int { return strings.Compare(a.Hash, b.Hash) })
	slices.SortFunc(wantRetired, func(a, b sluice.RetiredSecret) int { return strings.Compare(a.Hash, b.Hash) })
	if len(got) != 1 || got[0].Hash != sluice.HashSecret("s3") || !reflect.DeepEqual(got[0].Retired, wantRetired) {
		t.Fatalf("after two rotations: %+v, want hash of s3 and retired %+v", got, wantRetired)
	}
}

func testClientKeysRotateErrors(t *testing.T, s sluice.Store) {
	// a's budget is kept with its tombstone, for sluice key list --all.
	a := sluice.StoredKey{Name: "a", Hash: sluice.HashSecret("a"), TokenBudget: 1000, BudgetPeriod: sluice.BudgetDay, CreatedAt: at(0)}
	b := sluice.StoredKey{Name: "b", Hash: sluice.HashSecret("b"), CreatedAt: at(0)}
	must(t, "PutClientKey a", s.PutClientKey(t.Context(), a, keyAudit("key.create", "a", at(0))))
	must(t, "PutClientKey b", s.PutClientKey(t.Context(), b, keyAudit("key.create", "b", at(0))))
	must(t, "DeleteClientKey b", s.DeleteClientKey(t.Context(), "b", keyAudit("key.delete", "b", at(time.Second))))
	before := takeSnapshot(t, s)
	wantCode(t, "RotateClientKey of a missing key", s.RotateClientKey(t.Context(), "nope", sluice.HashSecret("x"), at(time.Hour), keyAudit("key.rotate", "nope", at(time.Minute))), sluice.CodeNotFound)
	wantCode(t, "RotateClientKey of a revoked key", s.RotateClientKey(t.Context(), "b", sluice.HashSecret("x"), at(time.Hour), keyAudit("key.rotate", "b", at(time.Minute))), sluice.CodeNotFound)
	wantCode(t, "RotateClientKey to a revoked secret", s.RotateClientKey(t.Context(), "a", b.Hash, at(time.Hour), keyAudit("key.rotate", "a", at(time.Minute))), sluice.CodeConflict)
	wantCode(t, "RotateClientKey to its own secret", s.RotateClientKey(t.Context(), "a", a.Hash, at(time.Hour), keyAudit("key.rotate", "a", at(time.Minute))), sluice.CodeConflict)
	checkUnchanged(t, s, before)
}

func testClientKeysRevokeRotated(t *testing.T, s sluice.Store) {
	k := sluice.StoredKey{Name: "k", Hash: sluice.HashSecret("s1"), CreatedAt: at(0), CreatedBy: "alice"}
	must(t, "PutClientKey", s.PutClientKey(t.Context(), k, keyAudit("key.create", "k", at(0))))
	must(t, "RotateClientKey", s.RotateClientKey(t.Context(), "k", sluice.HashSecret("s2"), at(time.Hour), keyAudit("key.rotate", "k", at(time.Minute))))
	// Revoked during the grace: the old secret's grace ends with the
	// revoke, and both secrets are the revoked key's.
	must(t, "DeleteClientKey", s.DeleteClientKey(t.Context(), "k", keyAudit("key.delete", "k", at(2*time.Minute))))
	want := k
	want.Hash, want.RotatedAt, want.RevokedAt = sluice.HashSecret("s2"), at(time.Minute), at(2*time.Minute)
	want.Retired = []sluice.RetiredSecret{{Hash: sluice.HashSecret("s1"), Until: at(2 * time.Minute)}}
	equalClientKeys(t, mustClientKeys(t, s), []sluice.StoredKey{want})
}

func testClientKeysPruned(t *testing.T, s sluice.Store) {
	old := sluice.StoredKey{Name: "old", Hash: sluice.HashSecret("old"), CreatedAt: at(0)}
	must(t, "PutClientKey old", s.PutClientKey(t.Context(), old, keyAudit("key.create", "old", at(0))))
	must(t, "DeleteClientKey old", s.DeleteClientKey(t.Context(), "old", keyAudit("key.delete", "old", at(time.Hour))))
	// Within KeyTombstoneKeep of the revoke a key write keeps it; after
	// it, the next key write prunes it.
	inside := at(time.Hour + sluice.KeyTombstoneKeep - time.Minute)
	n := sluice.StoredKey{Name: "n", Hash: sluice.HashSecret("n"), CreatedAt: inside}
	must(t, "PutClientKey n", s.PutClientKey(t.Context(), n, keyAudit("key.create", "n", inside)))
	if got := mustClientKeys(t, s); len(got) != 2 || !got[1].IsRevoked() {
		t.Fatalf("keys within the tombstones' keep = %+v, want n and old revoked", got)
	}
	after := at(time.Hour + sluice.KeyTombstoneKeep + time.Minute)
	must(t, "RotateClientKey n", s.RotateClientKey(t.Context(), "n", sluice.HashSecret("n2"), after, keyAudit("key.rotate", "n", after)))
	got := mustClientKeys(t, s)
	if len(got) != 1 || got[0].Name != "n" {
		t.Fatalf("keys after the tombstones' keep = %+v, want n alone", got)
	}
}

func testClientKeysDeleteMissing(t *testing.T, s sluice.Store) {
	b := sluice.StoredKey{Name: "b", Hash: sluice.HashSecret("b"), CreatedAt: at(0)}
	must(t, "PutClientKey b", s.PutClientKey(t.Context(), b, keyAudit("key.create", "b", at(0))))
	before := takeSnapshot(t, s)
	err := s.DeleteClientKey(t.Context(), "nope", keyAudit("key.delete", "nope", at(time.Second)))
	wantCode(t, "DeleteClientKey of a missing key", err, sluice.CodeNotFound)
	checkUnchanged(t, s, before)
}

func testClientKeysUpdate(t *testing.T, s sluice.Store) {
	web := sluice.StoredKey{Name: "web", Hash: sluice.HashSecret("old"), Models: []string{"chat"}, RateLimit: 1, Burst: 1, TokensPerMinute: 1000,
		TokenBudget: 5000, BudgetPeriod: sluice.BudgetDay, CreatedAt: at(0), CreatedBy: "alice", ExpiresAt: at(90 * 24 * time.Hour)}
	other := sluice.StoredKey{Name: "other", Hash: sluice.HashSecret("other"), RateLimit: 7, CreatedAt: at(0)}
	must(t, "PutClientKey web", s.PutClientKey(t.Context(), web, keyAudit("key.create", "web", at(0))))
	must(t, "PutClientKey other", s.PutClientKey(t.Context(), other, keyAudit("key.create", "other", at(0))))
	// A use and a rotation before the update: both kept by it.
	must(t, "TouchClientKey", s.TouchClientKey(t.Context(), "web", web.CreatedAt, at(time.Minute)))
	must(t, "RotateClientKey", s.RotateClientKey(t.Context(), "web", sluice.HashSecret("new"), at(3*time.Hour), keyAudit("key.rotate", "web", at(2*time.Minute))))
	was := mustClientKeys(t, s)[1]

	// Every setting changed, limits removed (0, "", nil, zero).
	updated := was
	updated.Models, updated.RateLimit, updated.Burst, updated.TokensPerMinute = []string{"chat", "embed"}, 100, 200, 0
	updated.TokenBudget, updated.BudgetPeriod, updated.ForceVersion, updated.ExpiresAt = 0, "", true, time.Time{}
	entry := sluice.AuditEntry{At: at(time.Hour), Actor: "bob", Action: "key.update", Subject: "web", Reason: "team web grew",
		Before: []byte(`{"rate_limit":1,"burst":1}`), After: []byte(`{"rate_limit":100,"burst":200}`)}
	must(t, "UpdateClientKey", s.UpdateClientKey(t.Context(), was, updated, entry))
	want := web
	want.Models, want.RateLimit, want.Burst, want.TokensPerMinute = []string{"chat", "embed"}, 100, 200, 0
	want.TokenBudget, want.BudgetPeriod, want.ForceVersion, want.ExpiresAt = 0, "", true, time.Time{}
	// The secret, the rotated-out one, creation, creator and last use kept.
	want.Hash, want.RotatedAt, want.LastUsedAt = sluice.HashSecret("new"), at(2*time.Minute), at(time.Minute)
	want.Retired = []sluice.RetiredSecret{{Hash: sluice.HashSecret("old"), Until: at(3 * time.Hour)}}
	equalClientKeys(t, mustClientKeys(t, s), []sluice.StoredKey{other, want})
	audit := allAudit(t, s)
	checkEntry(t, audit[len(audit)-1], entry)

	// Limits set again, every model (nil) and an expiry: read back as set.
	again := mustClientKeys(t, s)[1]
	next := again
	next.Models, next.TokensPerMinute, next.TokenBudget, next.BudgetPeriod, next.ExpiresAt = nil, 300, 9000, sluice.BudgetWeek, at(24*time.Hour)
	must(t, "UpdateClientKey again", s.UpdateClientKey(t.Context(), again, next, keyAudit("key.update", "web", at(2*time.Hour))))
	want.Models, want.TokensPerMinute, want.TokenBudget, want.BudgetPeriod, want.ExpiresAt = nil, 300, 9000, sluice.BudgetWeek, at(24*time.Hour)
	equalClientKeys(t, mustClientKeys(t, s), []sluice.StoredKey{other, want})
}

func testClientKeysUpdateErrors(t *testing.T, s sluice.Store) {
	a := sluice.StoredKey{Name: "a", Hash: sluice.HashSecret("a"), RateLimit: 1, CreatedAt: at(0)}
	b := sluice.StoredKey{Name: "b", Hash: sluice.HashSecret("b"), CreatedAt: at(0)}
	must(t, "PutClientKey a", s.PutClientKey(t.Context(), a, keyAudit("key.create", "a", at(0))))
	must(t, "PutClientKey b", s.PutClientKey(t.Context(), b, keyAudit("key.create", "b", at(0))))
	must(t, "DeleteClientKey b", s.DeleteClientKey(t.Context(), "b", keyAudit("key.delete", "b", at(time.Second))))
	before := takeSnapshot(t, s)
	raise := func(k sluice.StoredKey) sluice.StoredKey { k.RateLimit = 50; return k }
	wantCode(t, "UpdateClientKey of a missing key", s.UpdateClientKey(t.Context(), sluice.StoredKey{Name: "nope", CreatedAt: at(0)}, raise(sluice.StoredKey{Name: "nope", CreatedAt: at(0)}), keyAudit("key.update", "nope", at(time.Minute))), sluice.CodeNotFound)
	wantCode(t, "UpdateClientKey of a revoked key", s.UpdateClientKey(t.Context(), b, raise(b), keyAudit("key.update", "b", at(time.Minute))), sluice.CodeNotFound)
	// Another change came first: a's settings are no longer those read.
	stale := a
	stale.RateLimit = 2
	wantCode(t, "UpdateClientKey of a key changed since it was read", s.UpdateClientKey(t.Context(), stale, raise(a), keyAudit("key.update", "a", at(time.Minute))), sluice.CodeConflict)
	// Another key of the name (revoked and issued again since).
	older := a
	older.CreatedAt = at(-time.Hour)
	wantCode(t, "UpdateClientKey of an earlier key of the name", s.UpdateClientKey(t.Context(), older, raise(a), keyAudit("key.update", "a", at(time.Minute))), sluice.CodeConflict)
	checkUnchanged(t, s, before)
}
