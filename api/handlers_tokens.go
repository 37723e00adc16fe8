package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
)

// SecretPrefix starts every token secret the API creates, so that secret
// scanners and people recognise one.
const SecretPrefix = "slk_"

// reservedActors are actor names the system writes into the audit log
// itself; a token may not take them.
var reservedActors = []string{"controller", "apply", "system", "unknown", "config", "sluice", "demo"}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	out := TokenList{Tokens: []TokenView{}}
	for _, t := range sortedTokens(s.auth.Static()) {
		out.Tokens = append(out.Tokens, TokenView{Name: t.Name, Role: t.Role, CreatedAt: t.CreatedAt, Source: "config", ExpiresAt: t.ExpiresAt, Expired: t.Expired(s.now())})
	}
	stored, err := s.store.Tokens(r.Context())
	if err != nil {
		return fmt.Errorf("read the admin tokens: %w", err)
	}
	now := s.now()
	for _, t := range sortedTokens(stored) {
		v := storedView(t, now)
		// This replica's own last use may not have reached the store yet.
		if u := s.auth.LastUsed(t); u.After(v.LastUsedAt) {
			v.LastUsedAt = u.UTC()
		}
		out.Tokens = append(out.Tokens, v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// storedView describes a token created through the API, as of now.
func storedView(t sluice.Token, now time.Time) TokenView {
	return TokenView{Name: t.Name, Role: t.Role, CreatedAt: t.CreatedAt, Source: "store", ExpiresAt: t.ExpiresAt, Expired: t.Expired(now), LastUsedAt: t.LastUsedAt}
}

func sortedTokens(ts []sluice.Token) []sluice.Token {
	ts = slices.Clone(ts)
	slices.SortFunc(ts, func(a, b sluice.Token) int { return strings.Compare(a.Name, b.Name) })
	return ts
}

// NewSecret returns a new random token secret: SecretPrefix followed by 32
// random bytes in unpadded base64url.
func NewSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate a token secret: %w", err)
	}
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	var req TokenRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if err := sluice.CheckName("token name", req.Name); err != nil {
		return invalid("name", sluice.ErrorMessage(err))
	}
	if slices.Contains(reservedActors, req.Name) {
		return invalid("name", fmt.Sprintf("the token name %q is reserved for entries Sluice writes itself: pick another name, such as the holder's", req.Name))
	}
	if !req.Role.Valid() {
		return invalid("role", fmt.Sprintf("unknown role %q: use viewer, operator or admin", req.Role))
	}
	if !req.ExpiresAt.IsZero() && !req.ExpiresAt.After(s.now()) {
		return invalid("expires_at", fmt.Sprintf("expires_at %s is not in the future (the server's time is %s): give a later time, such as --expires 90d, or leave it out for a token that never expires", req.ExpiresAt.UTC().Format(time.RFC3339), s.now().UTC().Format(time.RFC3339)))
	}
	if err := checkReason(req.Reason); err != nil {
		return err
	}
	ctx := r.Context()
	old, static, err := s.findToken(ctx, req.Name)
	if err != nil {
		return err
	}
	if old != nil {
		where := "was created through the API: delete it first with sluice token delete " + req.Name
		if static {
			where = "is defined in the config file: pick another name"
		}
		return &sluice.Error{Code: sluice.CodeConflict, Fields: []string{"name"}, Message: fmt.Sprintf("a token named %s already exists and %s", req.Name, where)}
	}
	secret, err := NewSecret()
	if err != nil {
		return err
	}
	now := s.now().UTC()
	t := sluice.Token{Name: req.Name, Role: req.Role, Hash: sluice.HashSecret(secret), CreatedAt: now, ExpiresAt: req.ExpiresAt.UTC()}
	view := storedView(t, now)
	entry, err := tokenAudit(r, "token.create", req.Name, req.Reason, nil, view)
	if err != nil {
		return err
	}
	entry.At = now
	if err := s.store.PutToken(ctx, t, entry); err != nil {
		return fmt.Errorf("store the token: %w", err)
	}
	out := CreatedToken{TokenView: view, Secret: secret}
	// The token is stored: from here on the secret must reach the caller,
	// who could not get it again.
	if err := s.auth.Reload(ctx); err != nil {
		out.Warning = "the token is stored, but this gateway could not reload its tokens (" + sluice.ErrorMessage(err) + "): it is accepted once they are read again, within 30 s of the store answering"
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) error {
	name, req, err := deleteRequest(w, r, "token name")
	if err != nil {
		return err
	}
	ctx := r.Context()
	old, static, err := s.findToken(ctx, name)
	if err != nil {
		return err
	}
	if old == nil {
		return &sluice.Error{Code: sluice.CodeNotFound, Fields: []string{"name"}, Message: fmt.Sprintf("there is no token named %s: list them with sluice token list", name)}
	}
	if static {
		return &sluice.Error{Code: sluice.CodeConflict, Fields: []string{"name"}, Message: fmt.Sprintf("token %s is defined in the config file: remove it there and restart (or reload) the server", name)}
	}
	// No one could administer the gateway (nor create a token) after
	// deleting the last admin token, short of editing the config file. An
	// admin token in the config file is always left; otherwise the store
	// checks that another admin token remains in the same transaction as
	// the delete, so two admins deleting the last two at once cannot both
	// succeed.
	keepAdmin := true
	for _, t := range s.auth.Static() {
		if t.Role == sluice.RoleAdmin {
			keepAdmin = false
		}
	}
	gone := storedView(*old, s.now())
	entry, err := tokenAudit(r, "token.delete", name, req.Reason, gone, nil)
	if err != nil {
		return err
	}
	entry.At = s.now().UTC()
	if err := s.store.DeleteToken(ctx, name, keepAdmin, entry); err != nil {
		switch sluice.ErrorCode(err) {
		case sluice.CodeNotFound:
			_ = s.auth.Reload(ctx)
			return err
		case sluice.CodeConflict:
			return err
		}
		return fmt.Errorf("delete the token: %w", err)
	}
	if err := s.auth.Reload(ctx); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, gone)
	return nil
}

// findToken returns the token named name and whether it is static; nil
// when there is none. It reads the store, not the auth cache, so that a
// token another replica created is seen.
func (s *Server) findToken(ctx context.Context, name string) (*sluice.Token, bool, error) {
	for _, t := range s.auth.Static() {
		if t.Name == name {
			return &t, true, nil
		}
	}
	stored, err := s.store.Tokens(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("read the admin tokens: %w", err)
	}
	for _, t := range stored {
		if t.Name == name {
			return &t, false, nil
		}
	}
	return nil, false, nil
}

// tokenAudit builds the audit entry of a token change.
func tokenAudit(r *http.Request, action, name, reason string, before, after any) (sluice.AuditEntry, error) {
	e := sluice.AuditEntry{Actor: actor(r), Action: action, Subject: name, Reason: reason}
	var err error
	if before != nil {
		if e.Before, err = jsonRaw(before); err != nil {
			return e, err
		}
	}
	if after != nil {
		if e.After, err = jsonRaw(after); err != nil {
			return e, err
		}
	}
	return e, nil
}

// deleteRequest reads a DELETE of a token or client key: the name in its
// path (what names it in errors) and the reason in its body.
func deleteRequest(w http.ResponseWriter, r *http.Request, what string) (string, ReasonRequest, error) {
	var req ReasonRequest
	name, err := pathName(r, "name", what)
	if err != nil {
		return "", req, err
	}
	if err := readJSON(w, r, &req); err != nil {
		return "", req, err
	}
	return name, req, checkReason(req.Reason)
}
