package sluice

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// StoredKey is a data plane client key issued through the admin API
// (sluice key create) and kept in the store, beside the config file's
// client_keys, so that every replica accepts it without a config edit.
// The secret itself is never stored, only its SHA-256.
type StoredKey struct {
	// Name identifies the key in the request log, the per-key counters
	// and sluice usage; it shares one namespace with the config file's
	// client_keys. Never the secret.
	Name string `json:"name"`
	// Hash is the hex SHA-256 of the secret.
	Hash string `json:"-"`
	// Models the key may use, by model name (pins and labels of them
	// included); empty means every model.
	Models []string `json:"models,omitempty"`
	// RateLimit is the requests per second allowed; 0 means no limit.
	RateLimit float64 `json:"rate_limit,omitempty"`
	// Burst is how many requests may come at once above the rate; 0
	// means the rate rounded up, at least 1.
	Burst int `json:"burst,omitempty"`
	// TokensPerMinute is how many tokens (prompt and answer) the key's
	// answers may use a minute; 0 means no limit.
	TokensPerMinute int64 `json:"tokens_per_minute,omitempty"`
	// TokenBudget is how many tokens (prompt and answer) the key may use
	// in each BudgetPeriod, across every replica; 0 means no budget.
	TokenBudget int64 `json:"token_budget,omitempty"`
	// BudgetPeriod is the budget's calendar period in UTC: BudgetDay,
	// BudgetWeek or BudgetMonth; "" without a budget.
	BudgetPeriod string `json:"budget_period,omitempty"`
	// ForceVersion lets the key use the force-version header.
	ForceVersion bool `json:"force_version,omitempty"`
	// CreatedAt is when it was created.
	CreatedAt time.Time `json:"created_at"`
	// CreatedBy is the admin token that created it.
	CreatedBy string `json:"created_by,omitempty"`
	// ExpiresAt is when it stops working; zero for never.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// LastUsedAt is when it last authenticated a data plane request, as
	// the store holds it: each replica writes it at most once a minute
	// per key, off the request's path (Store.TouchClientKey), so it may be
	// up to a minute old; on a shared store the latest any replica wrote.
	// Zero for never.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	// RotatedAt is when its secret was last replaced (sluice key rotate);
	// zero for never.
	RotatedAt time.Time `json:"rotated_at,omitzero"`
	// RevokedAt is when it was revoked (sluice key delete); zero for a key
	// in force. A revoked key is kept (a tombstone) for KeyTombstoneKeep so
	// that every replica, one started later too, says it was revoked.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	// Retired are the key's earlier secrets that a rotation replaced: each
	// works until its Until (the rotation's grace), then is refused as
	// rotated out. On a revoked key, its other secrets, refused as revoked.
	// Never in JSON.
	Retired []RetiredSecret `json:"-"`
}

// RetiredSecret is a client key's secret that no longer is its own: one
// replaced by a rotation, or one of a revoked key.
type RetiredSecret struct {
	// Hash is the hex SHA-256 of the secret.
	Hash string
	// Until is when it stops (or stopped) working: the end of the
	// rotation's grace, or the revoke.
	Until time.Time
}

// IsRevoked reports whether the key was revoked.
func (k *StoredKey) IsRevoked() bool { return !k.RevokedAt.IsZero() }

// GraceEnd returns when the last of the key's rotated-out secrets stops
// working, if that is after now; zero otherwise (and for a revoked key).
func (k *StoredKey) GraceEnd(now time.Time) time.Time {
	var until time.Time
	if k.IsRevoked() {
		return until
	}
	for _, r := range k.Retired {
		if r.Until.After(now) && r.Until.After(until) {
			until = r.Until
		}
	}
	return until
}

// KeyTombstoneKeep is how long a store keeps a revoked client key, and a
// secret a rotation retired, after it stopped working: long enough that
// a client still sending it is told why it is refused; after that such a
// secret is "not known". Pruned by the stores' key writes.
const KeyTombstoneKeep = 30 * 24 * time.Hour

// MaxKeyGrace bounds how long a rotated-out secret keeps working.
const MaxKeyGrace = 7 * 24 * time.Hour

// Expired reports whether the key no longer works at now.
func (k *StoredKey) Expired(now time.Time) bool {
	return !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt)
}

// KeyTaken is the error of a Store's PutClientKey for a name already in
// use.
func KeyTaken(name string) error {
	return &Error{Code: CodeConflict, Fields: []string{"name"}, Message: fmt.Sprintf("a client key named %s already exists: revoke it first with sluice key delete %s --reason ..., or pick another name", name, name)}
}

// KeyNotFound is the error of a Store's DeleteClientKey for a name it
// does not hold.
func KeyNotFound(name string) error {
	return &Error{Code: CodeNotFound, Fields: []string{"name"}, Message: fmt.Sprintf("there is no client key named %s in the store: list them with sluice key list", name)}
}

// KeyChanged is the error of a Store's UpdateClientKey for a key that
// changed since it was read (another admin's change, or a new key of the
// name).
func KeyChanged(name string) error {
	return &Error{Code: CodeConflict, Fields: []string{"name"}, Message: fmt.Sprintf("client key %s changed while it was being updated (another change came first): read it again with sluice key list and send the update again", name)}
}

// SameKeySettings reports whether a and b are the same key (name and
// creation) with the same settings: the models (nil and empty alike),
// limits, budget, force_version and expiry. The secret, last use,
// rotation and retired secrets do not count. Times are compared to the
// microsecond, as PostgreSQL keeps them.
func SameKeySettings(a, b StoredKey) bool {
	us := func(t time.Time) time.Time { return t.Truncate(time.Microsecond) }
	return a.Name == b.Name && us(a.CreatedAt).Equal(us(b.CreatedAt)) && slices.Equal(a.Models, b.Models) &&
		a.RateLimit == b.RateLimit && a.Burst == b.Burst && a.TokensPerMinute == b.TokensPerMinute &&
		a.TokenBudget == b.TokenBudget && a.BudgetPeriod == b.BudgetPeriod && a.ForceVersion == b.ForceVersion &&
		us(a.ExpiresAt).Equal(us(b.ExpiresAt))
}

// UnknownKeyModels says, for the client key named name whose models are
// models, which of them reg has no model of that name, naming the models
// it has: "" when every one is registered (or the key names none, which
// means every model). A key may be made before its model is registered,
// so this is a warning, never a refusal; but a typo (--models chta) would
// otherwise go unnoticed until every request of the key got a 403.
func UnknownKeyModels(name string, models []string, reg *Registry) string {
	if reg == nil {
		return ""
	}
	var unknown []string
	for _, m := range models {
		if _, ok := reg.Models[m]; !ok && !slices.Contains(unknown, m) {
			unknown = append(unknown, m)
		}
	}
	if len(unknown) == 0 {
		return ""
	}
	known := "none is registered yet"
	if names := reg.ModelNames(); len(names) > 0 {
		known = "the registered models are " + strings.Join(names, ", ")
	}
	what := "model " + unknown[0] + ", which is"
	if len(unknown) > 1 {
		what = "models " + strings.Join(unknown, ", ") + ", which are"
	}
	return fmt.Sprintf("client key %s names %s not registered (%s): the key serves nothing there until a model of that name is registered; if it is a typo, set the key's models again", name, what, known)
}
