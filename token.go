package sluice

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
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

// FileTokenExpired is TokenExpired for a token of the config file's
// tokens: the same status, field and first words, with what to do about
// such a token (it cannot be made again with sluice token create, whose
// name the file's holds).
func FileTokenExpired(t *Token) error {
	return &Error{Code: CodeUnauthorized, Fields: []string{"expires_at"}, Message: fmt.Sprintf("the admin token %s expired at %s: ask an admin for a new one (it is in the gateway's config file: give its tokens entry a later expires, or a new secret, and reload with SIGHUP)", t.Name, t.ExpiresAt.UTC().Format(time.RFC3339))}
}

// TimeLayouts are the forms of a time Sluice reads besides a duration:
// RFC 3339, to the minute or second, with or without a zone (UTC when
// none is given), with T or a space, or a date alone (its midnight, UTC).
var TimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02",
}

// ExpiryForms says which expiries ParseExpiryTime takes, for messages.
const ExpiryForms = "a date or time such as 2027-03-01 or 2027-03-01T12:00:00Z (UTC unless a zone is given), or none"

// ParseExpiryTime parses an expiry given as a time (one of TimeLayouts),
// in UTC; "", "none" and "never" are the zero time (never expires). It
// takes no duration: that is for a client, which reads its clock once
// (sluice token create --expires 90d), not for a file read again at each
// reload.
func ParseExpiryTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "", "none", "never":
		return time.Time{}, nil
	}
	for _, layout := range TimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, Errorf(CodeInvalid, "invalid expiry %q: use %s", s, ExpiryForms)
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
