package api

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/sluicehq/sluice"
)

// keyUpdateFields are the fields a key update may give, for messages.
const keyUpdateFields = "models, rate_limit, burst, tokens_per_minute, token_budget, budget_period, force_version or expires_at"

// keyUpdateTries bounds how often an update is merged again onto a key
// another admin changed between its read and its write.
const keyUpdateTries = 3

// given reports whether req gives any setting to change.
func (req KeyUpdateRequest) given() bool {
	return req.Models.Set || req.RateLimit.Set || req.Burst.Set || req.TokensPerMinute.Set || req.TokenBudget.Set ||
		req.BudgetPeriod.Set || req.ForceVersion.Set || req.ExpiresAt.Set
}

// apply returns k with req's settings: a field left out keeps k's value,
// null (or 0) removes it. Removing the budget removes its period, and
// removing the rate limit its burst, unless req gives them.
func (req KeyUpdateRequest) apply(k sluice.StoredKey) sluice.StoredKey {
	if req.Models.Set {
		k.Models = slices.Clone(req.Models.Value)
		if len(k.Models) == 0 {
			k.Models = nil
		}
	}
	k.RateLimit = req.RateLimit.Or(k.RateLimit)
	k.Burst = req.Burst.Or(k.Burst)
	if k.RateLimit == 0 && !req.Burst.Set {
		k.Burst = 0
	}
	k.TokensPerMinute = req.TokensPerMinute.Or(k.TokensPerMinute)
	k.TokenBudget = req.TokenBudget.Or(k.TokenBudget)
	k.BudgetPeriod = req.BudgetPeriod.Or(k.BudgetPeriod)
	if k.TokenBudget == 0 && !req.BudgetPeriod.Set {
		k.BudgetPeriod = ""
	}
	k.ForceVersion = req.ForceVersion.Or(k.ForceVersion)
	if req.ExpiresAt.Set {
		k.ExpiresAt = req.ExpiresAt.Value.UTC()
	}
	return k
}

// check checks the key next that req makes, as a created key is checked;
// the errors name the field. The expiry is checked only when req gives
// one, and the budget's period against the request log's retention only
// when req changes the budget: a key's expiry that passed, or a monthly
// budget kept from before the retention was lowered, does not stop an
// update of its other settings.
func (req KeyUpdateRequest) check(next sluice.StoredKey, now time.Time, retention time.Duration) error {
	kr := KeyRequest{Name: next.Name, Models: next.Models, RateLimit: next.RateLimit, Burst: next.Burst, TokensPerMinute: next.TokensPerMinute,
		TokenBudget: next.TokenBudget, BudgetPeriod: next.BudgetPeriod, ForceVersion: next.ForceVersion, Reason: req.Reason}
	if req.ExpiresAt.Set {
		kr.ExpiresAt = next.ExpiresAt
	}
	if !req.TokenBudget.Set && !req.BudgetPeriod.Set {
		retention = 0
	}
	return checkKeyRequest(kr, now, retention)
}

// keyChanges returns the settings that differ between a and b, by JSON
// name, with their values before and after: what a key.update audit entry
// holds (never a secret or hash). A removed limit is 0 (or "", false);
// every model and never expiring are null.
func keyChanges(a, b sluice.StoredKey) (names []string, before, after map[string]any) {
	before, after = map[string]any{}, map[string]any{}
	add := func(name string, x, y any) {
		names = append(names, name)
		before[name], after[name] = x, y
	}
	models := func(m []string) any {
		if len(m) == 0 {
			return nil
		}
		return m
	}
	expiry := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UTC()
	}
	if !slices.Equal(a.Models, b.Models) {
		add("models", models(a.Models), models(b.Models))
	}
	if a.RateLimit != b.RateLimit {
		add("rate_limit", a.RateLimit, b.RateLimit)
	}
	if a.Burst != b.Burst {
		add("burst", a.Burst, b.Burst)
	}
	if a.TokensPerMinute != b.TokensPerMinute {
		add("tokens_per_minute", a.TokensPerMinute, b.TokensPerMinute)
	}
	if a.TokenBudget != b.TokenBudget {
		add("token_budget", a.TokenBudget, b.TokenBudget)
	}
	if a.BudgetPeriod != b.BudgetPeriod {
		add("budget_period", a.BudgetPeriod, b.BudgetPeriod)
	}
	if a.ForceVersion != b.ForceVersion {
		add("force_version", a.ForceVersion, b.ForceVersion)
	}
	if !a.ExpiresAt.Equal(b.ExpiresAt) {
		add("expires_at", expiry(a.ExpiresAt), expiry(b.ExpiresAt))
	}
	return names, before, after
}

// updateKey changes a stored key's settings in place (a JSON merge patch),
// keeping its secret, so that no client holding it breaks: one audited
// transaction (key.update, with the settings changed before and after),
// in force on this replica at once and on the others as a rotation is.
func (s *Server) updateKey(w http.ResponseWriter, r *http.Request) error {
	name, err := pathName(r, "name", "client key name")
	if err != nil {
		return err
	}
	var req KeyUpdateRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if !req.given() {
		return badRequest("", "the update changes nothing: give one or more of "+keyUpdateFields+" (a field left out keeps its value; 0 or null removes a limit)")
	}
	ctx := r.Context()
	var (
		next    sluice.StoredKey
		changed []string
	)
	for try := 1; ; try++ {
		stored, err := s.store.ClientKeys(ctx)
		if err != nil {
			return fmt.Errorf("read the client keys: %w", err)
		}
		k, err := s.liveKey(stored, name)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		next = req.apply(k)
		if err := req.check(next, now, s.logRetention); err != nil {
			return err
		}
		var before, after map[string]any
		changed, before, after = keyChanges(k, next)
		if len(changed) == 0 {
			// Every value given is the key's already: nothing to write.
			writeJSON(w, http.StatusOK, UpdatedKey{KeyView: s.withBudget(storedKeyView(k, now), now), Changed: []string{}})
			return nil
		}
		entry, err := tokenAudit(r, "key.update", name, req.Reason, before, after)
		if err != nil {
			return err
		}
		entry.At = now
		err = s.store.UpdateClientKey(ctx, k, next, entry)
		if err == nil {
			break
		}
		switch sluice.ErrorCode(err) {
		case sluice.CodeConflict:
			// Another admin's change came between the read and the
			// write: merge this one onto the key as it is now.
			if try < keyUpdateTries {
				continue
			}
			return err
		case sluice.CodeNotFound:
			return err
		}
		return fmt.Errorf("update the client key: %w", err)
	}
	out := UpdatedKey{Changed: changed}
	if slices.Contains(changed, "models") {
		if w := sluice.UnknownKeyModels(name, next.Models, s.ctl.Registry()); w != "" {
			out.Warnings = append(out.Warnings, w)
		}
	}
	if err := s.reloadKeys(ctx); err != nil {
		out.Warning = "the change is stored, but this gateway could not read its keys again (" + sluice.ErrorMessage(err) + "): it is in force here once they are read, at the next reload"
	}
	now := s.now()
	out.KeyView = s.withBudget(storedKeyView(next, now), now)
	writeJSON(w, http.StatusOK, out)
	return nil
}
