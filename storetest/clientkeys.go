package storetest

import (
	"reflect"
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
		got[i].CreatedAt, got[i].ExpiresAt = micro(k.CreatedAt), micro(k.ExpiresAt)
	}
	return got
}

func equalClientKeys(t *testing.T, got, want []sluice.StoredKey) {
	t.Helper()
	for i := range want {
		want[i].CreatedAt, want[i].ExpiresAt = micro(want[i].CreatedAt), micro(want[i].ExpiresAt)
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
		TokensPerMinute: 200000, CreatedAt: at(0), CreatedBy: "alice", ExpiresAt: at(90 * 24 * time.Hour)}
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
	a := sluice.StoredKey{Name: "a", Hash: sluice.HashSecret("a"), CreatedAt: at(0)}
	b := sluice.StoredKey{Name: "b", Hash: sluice.HashSecret("b"), CreatedAt: at(0)}
	must(t, "PutClientKey a", s.PutClientKey(t.Context(), a, keyAudit("key.create", "a", at(0))))
	must(t, "PutClientKey b", s.PutClientKey(t.Context(), b, keyAudit("key.create", "b", at(0))))
	must(t, "DeleteClientKey a", s.DeleteClientKey(t.Context(), "a", keyAudit("key.delete", "a", at(time.Second))))
	equalClientKeys(t, mustClientKeys(t, s), []sluice.StoredKey{b})
	audit := allAudit(t, s)
	if len(audit) != 3 {
		t.Fatalf("audit after two puts and a delete = %d entries, want 3", len(audit))
	}
	checkEntry(t, audit[2], keyAudit("key.delete", "a", at(time.Second)))
	// The name is free again, with a new secret.
	a2 := sluice.StoredKey{Name: "a", Hash: sluice.HashSecret("a2"), CreatedAt: at(2 * time.Second)}
	must(t, "PutClientKey a again", s.PutClientKey(t.Context(), a2, keyAudit("key.create", "a", at(2*time.Second))))
	equalClientKeys(t, mustClientKeys(t, s), []sluice.StoredKey{a2, b})
}

func testClientKeysDeleteMissing(t *testing.T, s sluice.Store) {
	b := sluice.StoredKey{Name: "b", Hash: sluice.HashSecret("b"), CreatedAt: at(0)}
	must(t, "PutClientKey b", s.PutClientKey(t.Context(), b, keyAudit("key.create", "b", at(0))))
	before := takeSnapshot(t, s)
	err := s.DeleteClientKey(t.Context(), "nope", keyAudit("key.delete", "nope", at(time.Second)))
	wantCode(t, "DeleteClientKey of a missing key", err, sluice.CodeNotFound)
	checkUnchanged(t, s, before)
}
