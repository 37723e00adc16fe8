package sluice

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Role is what an admin token may do. Each role includes the ones below it.
type Role string

// The roles, weakest first.
const (
	// RoleViewer reads everything and changes nothing.
	RoleViewer Role = "viewer"
	// RoleOperator also changes routing and drives rollouts.
	RoleOperator Role = "operator"
	// RoleAdmin also registers versions, sets backends and manages tokens.
	RoleAdmin Role = "admin"
)

func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleOperator:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.rank() > 0 }

// Allows reports whether a token with role r may do what needs role need.
func (r Role) Allows(need Role) bool { return r.rank() >= need.rank() && r.Valid() }

// Token is a named admin credential. The secret itself is never stored, only
// its SHA-256.
type Token struct {
	// Name identifies the token's holder in the audit log.
	Name string `json:"name"`
	// Role is what the token may do.
	Role Role `json:"role"`
	// Hash is the hex SHA-256 of the secret.
	Hash string `json:"-"`
	// CreatedAt is when it was created.
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is when it stops working; zero for never.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// LastUsedAt is when it last authenticated a request, as the store
	// keeps it: written at most once a minute per token and replica (see
	// Store.TouchToken), so up to a minute old; zero for never.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// Expired reports whether the token no longer works at now.
func (t *Token) Expired(now time.Time) bool {
	return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)
}

// TokenExpired is the error of authenticating with an expired token. It
// names the token and when it expired, never its secret; its field is
// expires_at, so a client can tell it from an unknown token.
func TokenExpired(t *Token) error {
	return &Error{Code: CodeUnauthorized, Fields: []string{"expires_at"}, Message: fmt.Sprintf("the admin token %s expired at %s: ask an admin for a new one (sluice token create NAME --role %s --expires 90d)", t.Name, t.ExpiresAt.UTC().Format(time.RFC3339), t.Role)}
}

// IsTokenExpired reports whether err is TokenExpired's: a token that was
// found but has expired, as against one not known.
func IsTokenExpired(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == CodeUnauthorized && slices.Equal(e.Fields, []string{"expires_at"})
}

// HashSecret returns the hex SHA-256 of a token secret.
func HashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// Matches reports, in constant time, whether secret is this token's.
func (t *Token) Matches(secret string) bool {
	h := HashSecret(secret)
	return subtle.ConstantTimeCompare([]byte(h), []byte(t.Hash)) == 1
}

// LastAdminToken is the error for deleting the last admin token: no one
// could administer the gateway (nor create a token) without it, short of
// editing the config file.
func LastAdminToken(name string) error {
	return &Error{Code: CodeConflict, Fields: []string{"name"}, Message: "token " + name + " is the last admin token: no one could administer the gateway without it; create another first (sluice token create NAME --role admin), then delete this one"}
}

// TokenTaken is the error of a Store's PutToken for a name already in use.
func TokenTaken(name string) error {
	return &Error{Code: CodeConflict, Fields: []string{"name"}, Message: "a token named " + name + " already exists: delete it first with sluice token delete " + name + ", or pick another name"}
}
