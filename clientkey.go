package sluice

import (
	"fmt"
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
	// ForceVersion lets the key use the force-version header.
	ForceVersion bool `json:"force_version,omitempty"`
	// CreatedAt is when it was created.
	CreatedAt time.Time `json:"created_at"`
	// CreatedBy is the admin token that created it.
	CreatedBy string `json:"created_by,omitempty"`
	// ExpiresAt is when it stops working; zero for never.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

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
