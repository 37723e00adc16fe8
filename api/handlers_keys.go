package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
)

// KeySecretPrefix starts every client key secret the API issues, as
// OpenAI's keys start with sk-: secret scanners and people recognise one,
// and sluice usage --key refuses it in a key's name's place.
const KeySecretPrefix = "sk-sluice-"

// maxKeyTokensPerMinute bounds a key's tokens_per_minute, as the config
// file's client_keys does.
const maxKeyTokensPerMinute = 1e9

// NewKeySecret returns a new random client key secret: KeySecretPrefix
// followed by 32 random bytes in unpadded base64url.
func NewKeySecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate a key secret: %w", err)
	}
	return KeySecretPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// configKeys returns the config file's keys and whether keys are required.
func (s *Server) configKeys() ([]sluice.StoredKey, bool) {
	if s.cfgKeys == nil {
		return nil, false
	}
	return s.cfgKeys()
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	cfg, required := s.configKeys()
	out := KeyList{Keys: []KeyView{}, Required: required}
	if s.limitReplicas != nil {
		if n := s.limitReplicas(); n > 1 {
			out.LimitReplicas = n
			if s.replica != nil {
				out.Replica = s.replica()
			}
		}
	}
	cfg = slices.Clone(cfg)
	slices.SortFunc(cfg, func(a, b sluice.StoredKey) int { return strings.Compare(a.Name, b.Name) })
	now := s.now()
	// The names and secrets the file's keys take from stored keys (the
	// gateway's KeySet gives the file's key the secret, clientKeysOf).
	names, hashes := make(map[string]bool, len(cfg)), make(map[string]bool, len(cfg))
	for _, k := range cfg {
		names[k.Name] = true
		if k.Hash != "" {
			hashes[k.Hash] = true
		}
		k.Hash = ""
		out.Keys = append(out.Keys, s.withShare(s.withBudget(KeyView{StoredKey: k, Source: "config"}, now), out.LimitReplicas))
	}
	all, err := boolQuery(r, "all")
	if err != nil {
		return err
	}
	stored, err := s.store.ClientKeys(r.Context())
	if err != nil {
		return fmt.Errorf("read the client keys: %w", err)
	}
	for _, k := range stored {
		if k.IsRevoked() && !all {
			continue
		}
		v := storedKeyView(k, now)
		if !k.IsRevoked() {
			v = s.withShare(s.withBudget(v, now), out.LimitReplicas)
			v.Shadowed = names[k.Name] || hashes[k.Hash]
		}
		out.Keys = append(out.Keys, v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// withBudget adds to v, a key with a token budget, when its period resets
// and what it used of it, as this replica last summed it.
func (s *Server) withBudget(v KeyView, now time.Time) KeyView {
	if v.TokenBudget <= 0 {
		return v
	}
	_, v.BudgetResetsAt = sluice.BudgetPeriod(v.BudgetPeriod, now)
	if s.budget != nil {
		if used, _, ok := s.budget(v.Name); ok {
			v.BudgetUsed = &used
		}
	}
	return v
}

// withShare adds to v, a key with a limit (rate_limit or
// tokens_per_minute), this replica's share of its limits when replicas
// (more than one) share them.
func (s *Server) withShare(v KeyView, replicas int) KeyView {
	if replicas < 2 || s.limitShare == nil || (v.RateLimit <= 0 && v.TokensPerMinute <= 0) {
		return v
	}
	v.LimitShare = s.limitShare(v.Name)
	return v
}

// storedKeyView describes a key issued through the API, as of now.
func storedKeyView(k sluice.StoredKey, now time.Time) KeyView {
	v := KeyView{Source: "store", Expired: k.Expired(now) && !k.IsRevoked(), Revoked: k.IsRevoked(), GraceUntil: k.GraceEnd(now)}
	k.Hash, k.Retired = "", nil
	v.StoredKey = k
	return v
}

// boolQuery reads the query parameter name as a boolean: absent is false.
func boolQuery(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest(name, fmt.Sprintf("%s=%q is not true or false", name, v))
	}
	return b, nil
}

// liveKey returns the key in force named name among stored, or the error
// to answer: a config file's key is a 409 saying to change the file, and
// no key (or a revoked one) a 404.
func (s *Server) liveKey(stored []sluice.StoredKey, name string) (sluice.StoredKey, error) {
	i := slices.IndexFunc(stored, func(k sluice.StoredKey) bool { return k.Name == name && !k.IsRevoked() })
	if i >= 0 {
		return stored[i], nil
	}
	// Only when the store has none: a stored key whose name the file
	// took later can be revoked, as the log's warning says to.
	cfg, _ := s.configKeys()
	if slices.ContainsFunc(cfg, func(k sluice.StoredKey) bool { return k.Name == name }) {
		return sluice.StoredKey{}, &sluice.Error{Code: sluice.CodeConflict, Fields: []string{"name"}, Message: fmt.Sprintf("client key %s is defined in the config file (client_keys): change it there and reload (SIGHUP)", name)}
	}
	return sluice.StoredKey{}, sluice.KeyNotFound(name)
}

// checkKeyRequest checks a key's settings as the config file's
// client_keys are checked; the errors name the field.
func checkKeyRequest(req KeyRequest, now time.Time, retention time.Duration) error {
	if err := sluice.CheckName("client key name", req.Name); err != nil {
		return invalid("name", sluice.ErrorMessage(err))
	}
	if req.Name == "token" {
		return invalid("name", `the key name "token" is reserved (it names admin tokens used as API keys, in the request log and in who owns a stored response): pick another name`)
	}
	if sluice.LooksLikeSecret(req.Name) {
		return invalid("name", "the key name looks like an API key's secret (sk-... or sk_..., or 20 or more letters and digits in a row holding both), and sluice usage --key would refuse it as one: pick a plain name such as team-a")
	}
	for i, m := range req.Models {
		if err := sluice.CheckName("model name", m); err != nil {
			return invalid("models", fmt.Sprintf("models[%d]: %s", i, sluice.ErrorMessage(err)))
		}
	}
	if req.RateLimit < 0 || math.IsNaN(req.RateLimit) || math.IsInf(req.RateLimit, 0) {
		return invalid("rate_limit", fmt.Sprintf("rate_limit %v must be positive (requests per second), or 0 for no limit", req.RateLimit))
	}
	if req.Burst < 0 {
		return invalid("burst", fmt.Sprintf("burst %d must be positive", req.Burst))
	}
	if req.Burst > 0 && req.RateLimit == 0 {
		return invalid("burst", "burst is the requests allowed at once above rate_limit: give a rate_limit too (--rate-limit), or leave burst out")
	}
	if req.TokensPerMinute < 0 || req.TokensPerMinute > maxKeyTokensPerMinute {
		return invalid("tokens_per_minute", fmt.Sprintf("tokens_per_minute %d must be between 1 and %d (tokens a minute, prompt and answer), or 0 for no limit", req.TokensPerMinute, int64(maxKeyTokensPerMinute)))
	}
	if err := sluice.CheckBudget("", req.TokenBudget, req.BudgetPeriod); err != nil {
		return err
	}
	if err := sluice.CheckBudgetRetention("", req.BudgetPeriod, retention); err != nil {
		return err
	}
	if !req.ExpiresAt.IsZero() && !req.ExpiresAt.After(now) {
		return invalid("expires_at", fmt.Sprintf("expires_at %s is not in the future (the server's time is %s): give a later time, such as --expires 90d, or leave it out for a key that never expires", req.ExpiresAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)))
	}
	return checkReason(req.Reason)
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	var req KeyRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if err := checkKeyRequest(req, s.now(), s.logRetention); err != nil {
		return err
	}
	cfg, required := s.configKeys()
	if !required {
		// The key would be asked of no one, and limit nothing.
		return &sluice.Error{Code: sluice.CodeConflict, Fields: []string{"name"}, Message: "this gateway does not require keys on its OpenAI API (its config has no client_keys): a key issued now would neither be asked for nor limit anything; set require_client_keys: true in the config of every replica and restart them, then issue keys"}
	}
	if slices.ContainsFunc(cfg, func(k sluice.StoredKey) bool { return k.Name == req.Name }) {
		return &sluice.Error{Code: sluice.CodeConflict, Fields: []string{"name"}, Message: fmt.Sprintf("a client key named %s is in the config file (client_keys): pick another name", req.Name)}
	}
	secret, err := NewKeySecret()
	if err != nil {
		return err
	}
	now := s.now().UTC()
	k := sluice.StoredKey{Name: req.Name, Hash: sluice.HashSecret(secret), Models: req.Models, RateLimit: req.RateLimit, Burst: req.Burst,
		TokensPerMinute: req.TokensPerMinute, TokenBudget: req.TokenBudget, BudgetPeriod: req.BudgetPeriod, ForceVersion: req.ForceVersion, CreatedAt: now, CreatedBy: actor(r), ExpiresAt: req.ExpiresAt.UTC()}
	if len(k.Models) == 0 {
		k.Models = nil
	}
	view := storedKeyView(k, now)
	entry, err := tokenAudit(r, "key.create", req.Name, req.Reason, nil, view)
	if err != nil {
		return err
	}
	entry.At = now
	ctx := r.Context()
	if err := s.store.PutClientKey(ctx, k, entry); err != nil {
		if sluice.ErrorCode(err) == sluice.CodeConflict {
			return err
		}
		return fmt.Errorf("store the client key: %w", err)
	}
	out := CreatedKey{KeyView: view, Secret: secret}
	if w := sluice.UnknownKeyModels(k.Name, k.Models, s.ctl.Registry()); w != "" {
		out.Warnings = append(out.Warnings, w)
	}
	// The key is stored: from here on the secret must reach the caller,
	// who could not get it again.
	if err := s.reloadKeys(ctx); err != nil {
		out.Warning = "the key is stored, but this gateway could not read its keys again (" + sluice.ErrorMessage(err) + "): it is accepted once they are read, at its first use or the next reload"
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) reloadKeys(ctx context.Context) error {
	if s.reload == nil {
		return nil
	}
	return s.reload(context.WithoutCancel(ctx))
}

func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request) error {
	name, req, err := deleteRequest(w, r, "client key name")
	if err != nil {
		return err
	}
	ctx := r.Context()
	stored, err := s.store.ClientKeys(ctx)
	if err != nil {
		return fmt.Errorf("read the client keys: %w", err)
	}
	k, err := s.liveKey(stored, name)
	if err != nil {
		return err
	}
	gone := storedKeyView(k, s.now())
	entry, err := tokenAudit(r, "key.delete", name, req.Reason, gone, nil)
	if err != nil {
		return err
	}
	entry.At = s.now().UTC()
	if err := s.store.DeleteClientKey(ctx, name, entry); err != nil {
		if sluice.ErrorCode(err) == sluice.CodeNotFound {
			return err
		}
		return fmt.Errorf("revoke the client key: %w", err)
	}
	if err := s.reloadKeys(ctx); err != nil {
		// Revoked in the store; this replica refuses it once it reads
		// its keys again. Say so rather than claim it is refused now.
		return sluice.Errorf(sluice.CodeUnavailable, "client key %s is revoked in the store, but this gateway could not read its keys again (%s): it refuses the key once it reads them (at its next reload, or as soon as the store answers on a shared store)", name, sluice.ErrorMessage(err))
	}
	writeJSON(w, http.StatusOK, gone)
	return nil
}

// parseGrace reads a rotation's grace: a duration such as "1h" or "2d",
// "" or "0" for none, at most sluice.MaxKeyGrace.
func parseGrace(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	d, ok := parseAgo(s)
	if !ok {
		return 0, invalid("grace", fmt.Sprintf("grace %q is not a duration: give how long the old secret keeps working, such as 1h, 30m or 2d, or 0 to stop it at once", s))
	}
	if d > sluice.MaxKeyGrace {
		return 0, invalid("grace", fmt.Sprintf("grace %s is more than 7 days: the old secret of a rotated key may keep working 7 days at most (168h); give a shorter grace, or 0 to stop it at once", s))
	}
	return d, nil
}

// rotateKey gives a stored key a new secret, shown once; its old secret
// keeps working for the grace, then is refused as rotated out.
func (s *Server) rotateKey(w http.ResponseWriter, r *http.Request) error {
	name, err := pathName(r, "name", "client key name")
	if err != nil {
		return err
	}
	var req KeyRotateRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	grace, err := parseGrace(req.Grace)
	if err != nil {
		return err
	}
	if err := checkReason(req.Reason); err != nil {
		return err
	}
	ctx := r.Context()
	stored, err := s.store.ClientKeys(ctx)
	if err != nil {
		return fmt.Errorf("read the client keys: %w", err)
	}
	k, err := s.liveKey(stored, name)
	if err != nil {
		return err
	}
	secret, err := NewKeySecret()
	if err != nil {
		return err
	}
	now := s.now().UTC()
	until := now.Add(grace)
	before := storedKeyView(k, now)
	rotated := k
	rotated.Hash, rotated.RotatedAt = sluice.HashSecret(secret), now
	rotated.Retired = append(slices.Clone(k.Retired), sluice.RetiredSecret{Hash: k.Hash, Until: until})
	for i, old := range rotated.Retired {
		if old.Until.After(until) {
			rotated.Retired[i].Until = until
		}
	}
	view := storedKeyView(rotated, now)
	entry, err := tokenAudit(r, "key.rotate", name, req.Reason, before, view)
	if err != nil {
		return err
	}
	entry.At = now
	if err := s.store.RotateClientKey(ctx, name, rotated.Hash, until, entry); err != nil {
		if c := sluice.ErrorCode(err); c == sluice.CodeConflict || c == sluice.CodeNotFound {
			return err
		}
		return fmt.Errorf("rotate the client key: %w", err)
	}
	out := CreatedKey{KeyView: view, Secret: secret}
	if err := s.reloadKeys(ctx); err != nil {
		out.Warning = "the new secret is stored, but this gateway could not read its keys again (" + sluice.ErrorMessage(err) + "): it is accepted once they are read, at its first use or the next reload, and until then this gateway still takes the old secret, whatever the grace"
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
