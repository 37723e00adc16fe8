// Package keytomb joins the stores' client keys with their tombstones
// (client_key_retired): the secrets a rotation retired and those of
// revoked keys. Both stores read the same two tables and give the same
// answer through it.
package keytomb

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
)

// Row is one row of client_key_retired.
type Row struct {
	Hash, Name string
	// Kind is "rotated" or "revoked".
	Kind  string
	Until time.Time
	// Key is the revoked key's settings (JSON) on the row of the secret
	// it had when it was revoked; "" otherwise.
	Key string
}

// Join returns live (the keys in force, by name) with each one's rotated
// out secrets, then the revoked keys the rows hold, by name and revoke,
// each with its other secrets. rows must be by name, until and hash.
func Join(live []sluice.StoredKey, rows []Row) ([]sluice.StoredKey, error) {
	byName := make(map[string]int, len(live))
	for i := range live {
		byName[live[i].Name] = i
	}
	var revoked []sluice.StoredKey
	var loose []Row
	for _, r := range rows {
		switch {
		case r.Key != "":
			var k sluice.StoredKey
			if err := json.Unmarshal([]byte(r.Key), &k); err != nil {
				return nil, fmt.Errorf("revoked client key %s: %w", r.Name, err)
			}
			if len(k.Models) == 0 {
				k.Models = nil
			}
			k.Name, k.Hash, k.RevokedAt = r.Name, r.Hash, r.Until.UTC()
			k.CreatedAt, k.ExpiresAt, k.LastUsedAt, k.RotatedAt = utc(k.CreatedAt), utc(k.ExpiresAt), utc(k.LastUsedAt), utc(k.RotatedAt)
			revoked = append(revoked, k)
		case r.Kind == "rotated":
			if i, ok := byName[r.Name]; ok {
				live[i].Retired = append(live[i].Retired, sluice.RetiredSecret{Hash: r.Hash, Until: r.Until.UTC()})
				continue
			}
			loose = append(loose, r)
		default:
			loose = append(loose, r)
		}
	}
	// A revoked key's other secrets go with the first revoke of its name
	// at or after they stopped (or the last one): the data plane needs
	// only their name.
	for _, r := range loose {
		at := -1
		for i := range revoked {
			if revoked[i].Name != r.Name {
				continue
			}
			at = i
			if !revoked[i].RevokedAt.Before(r.Until) {
				break
			}
		}
		if at < 0 {
			// No revoked key holds it (pruned first): one with no settings.
			revoked = append(revoked, sluice.StoredKey{Name: r.Name, Hash: r.Hash, RevokedAt: r.Until.UTC()})
			continue
		}
		revoked[at].Retired = append(revoked[at].Retired, sluice.RetiredSecret{Hash: r.Hash, Until: r.Until.UTC()})
	}
	slices.SortStableFunc(revoked, func(a, b sluice.StoredKey) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return a.RevokedAt.Compare(b.RevokedAt)
	})
	return append(live, revoked...), nil
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}
