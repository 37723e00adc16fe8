package proxy

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
)

// ClientKey is an API key for the OpenAI API, as a KeySet holds it: the
// secret itself is never kept, only its SHA-256.
type ClientKey struct {
	// Name identifies the key in messages; never the secret.
	Name string
	// Hash is the hex SHA-256 of the secret.
	Hash string
	// Models the key may use, by model name; pins ("chat:v1") and labels
	// ("chat@canary") of them included. Empty means every model.
	Models []string
	// RateLimit is the requests per second allowed; 0 means no limit.
	RateLimit float64
	// Burst is how many requests may come at once above the rate; 0 means
	// the rate rounded up, at least 1.
	Burst int
	// TokensPerMinute is how many tokens (prompt and answer, from the
	// backends' usage) the key's answers may use a minute; 0 means no
	// limit.
	TokensPerMinute int64
	// TokenBudget is how many tokens (prompt and answer) the key may use
	// in each BudgetPeriod (sluice.BudgetDay, BudgetWeek or BudgetMonth,
	// calendar periods in UTC), across the fleet: the KeySet holds what
	// was used as its owner last summed it (SetBudgetUsed) and refuses
	// the key's inference requests, 429 insufficient_quota, from the sum
	// that reached the budget to the period's end. 0 means no budget.
	TokenBudget  int64
	BudgetPeriod string
	// ForceVersion lets the key use the force-version header.
	ForceVersion bool
	// ExpiresAt is when the key stops working (a 401 saying it expired);
	// zero for never.
	ExpiresAt time.Time
	// Created is when a key issued through the admin API was created
	// (which key of its name it is); zero for a config file's key. Only
	// such keys have their use noted (SetTouch).
	Created time.Time
	// LastUsedAt is the key's last use as the store holds it (any
	// replica's): its use is noted again only a TouchEvery after it.
	LastUsedAt time.Time
	// Retired are the key's earlier secrets that a rotation replaced:
	// each is the key until its Until, then a 401 saying the key was
	// rotated and to use its new secret.
	Retired []RetiredSecret
}

// RetiredSecret is a secret a rotation replaced (sluice key rotate).
type RetiredSecret struct {
	// Hash is the hex SHA-256 of the secret.
	Hash string
	// Until is when it stops working.
	Until time.Time
}

// TouchEvery is how often, at most, a KeySet notes the use of a key
// (SetTouch): a key in use costs the store one small write a minute per
// replica, and the request path nothing more than an atomic load.
const TouchEvery = time.Minute

// KeySet checks client API keys on the data plane: Wrap authenticates and
// rate-limits each request before its body is read, Admit (for
// Options.Admit) checks the model against the key's scope once the body is
// parsed, and ForceAllowed (for Options.ForceAllowed) says whether the key
// may force a version.
//
// A key is found by the SHA-256 of the presented secret, one map lookup,
// then compared in constant time; the rate limit is a token bucket per key
// kept in one atomic word (GCRA), so no lock is shared between requests.
type KeySet struct {
	byHash   map[[sha256.Size]byte]*keyState
	fallback func(ctx context.Context, secret string) (force bool, err error)
	now      func() time.Time
	// revoked names, by hash, keys revoked since this process started
	// (SetRevoked): a revoked key is told so rather than "not known".
	revoked map[[sha256.Size]byte]string
	// miss, when set (SetMiss), is asked for the keys read again from the
	// store when a secret is neither a key nor a token.
	miss func(ctx context.Context) (*KeySet, error)
	// graced holds, by hash, the secrets rotations replaced: the key
	// until their grace ends, then refused as rotated out.
	graced map[[sha256.Size]byte]gracedSecret
	// touch, when set (SetTouch), is told of a stored key's use at most
	// once a TouchEvery per key.
	touch func(name string, created, at time.Time)
	// budgeted holds the keys with a token budget, by name.
	budgeted map[string]*keyState
}

// gracedSecret is a secret a rotation replaced: the key k until until
// (ns since the epoch).
type gracedSecret struct {
	k     *keyState
	until int64
}

// keyState is one key and its bucket.
type keyState struct {
	name string
	// token is set for an operator or admin token, which is no client key
	// (tokenCaller, and the caller of a token without force).
	token  bool
	hash   [sha256.Size]byte
	models map[string]bool // nil: every model
	list   string          // the models, for messages
	force  bool
	// expires is when the key stops working, in ns since the epoch; 0
	// means never.
	expires int64
	// interval is the time one request costs, in ns; 0 means no limit.
	// tolerance is the burst's worth of it. Both are the limit as
	// configured: the bucket's takes multiply the cost by scale (this
	// replica's share's inverse; see KeyShare), the tolerance stays.
	interval, tolerance int64
	limitText           string
	// share is how the replicas share the key's limits (nil: this one
	// alone), set by KeySet.SetShare; scale is the float64 bits of what
	// the share makes a request or a token cost here, 1/share (0, never
	// set, counts as 1), pushed by share.
	share *KeyShare
	scale atomic.Uint64
	// now is the KeySet's clock, for the takes after Wrap (Admit, and
	// chargeUnadmitted).
	now func() time.Time
	// tat is the bucket's theoretical arrival time (GCRA), in ns since
	// the epoch: when the bucket would be full again.
	tat atomic.Int64
	// arrived counts the requests that reached the key's limits since
	// KeyShare.Demand last read it: its demand on this replica.
	arrived atomic.Int64
	// feedbackWaits counts the key's feedback posts on this replica
	// waiting for their answer's row in the fleet's request log
	// (maxFeedbackWaits); waitsOf, set by Carry, is the counter of the
	// key's state in the KeySet this one replaced, which the posts
	// waiting since before the reload lower as they end: counted on a
	// fresh one, each reload let another maxFeedbackWaits wait. Read
	// through waits().
	feedbackWaits atomic.Int64
	waitsOf       *atomic.Int64
	// tokenCost is what one token costs of the key's minute, in ns; 0
	// means no token limit. tokenTat is that bucket's theoretical arrival
	// time, as tat is the requests': an answer's tokens are known only
	// once it ends, so they are charged then (chargeTokens), and a request
	// is refused while the key is more than a minute's worth ahead.
	tokenCost       float64
	tokensPerMinute int64
	tokenText       string
	tokenTat        atomic.Int64
	// burstHeader and tpmHeader are the x-ratelimit-limit-* values
	// (limitHeaders), made once; burst is the first's number.
	burstHeader, tpmHeader []string
	burst                  int64
	// created is when a stored key was created (zero for a config
	// file's); touched is its last use noted (ns since the epoch), so
	// that it is noted at most once a TouchEvery.
	created time.Time
	touched atomic.Int64
	// budget is the key's token budget a budgetPeriod; 0 means none.
	// used is what the key used in the period that started at usedStart
	// (ns since the epoch; 0 before the first sum), as the KeySet's owner
	// last summed it from the request log (SetBudgetUsed); spentUntil is
	// that period's end (ns) when used reached the budget, else 0: Wrap
	// refuses the key's inference requests while the clock is before it,
	// so the period's end lets the key in at once, before the next sum.
	budget       int64
	budgetPeriod string
	budgetText   string
	used         atomic.Int64
	usedStart    atomic.Int64
	spentUntil   atomic.Int64
	// local is the tokens this process charged to the key (chargeTokens)
	// that the last sum may not hold: those since it began. With used, it
	// spends the key as soon as this process's own answers reach the
	// budget, not at the next sum.
	local atomic.Int64
}

// tokenCaller stands for an operator or admin token: every model, no
// limit, may force. The caller of a request is a *keyState in its context
// (a pointer, so putting it there allocates nothing more).
var tokenCaller = &keyState{force: true, token: true}

type callerKey struct{}

// NewKeySet returns the KeySet of keys. fallback, when not nil, is asked
// about a secret that is no key: a nil error says it is an operator or
// admin token, which then passes with every model, no limit and the force
// header allowed when force is set; ErrUnknownKey says it is no token
// either; any other error is the request's answer, so an expired token is
// told it expired (the error must not hold the secret). now is the clock
// (nil means time.Now). It fails on a hash that is not 64 hex digits.
func NewKeySet(keys []ClientKey, fallback func(ctx context.Context, secret string) (force bool, err error), now func() time.Time) (*KeySet, error) {
	if now == nil {
		now = time.Now
	}
	ks := &KeySet{byHash: make(map[[sha256.Size]byte]*keyState, len(keys)), fallback: fallback, now: now}
	for _, k := range keys {
		raw, err := hex.DecodeString(k.Hash)
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("client key %s: hash must be 64 hex digits", k.Name)
		}
		st := &keyState{name: k.Name, force: k.ForceVersion, now: now, created: k.Created}
		if !k.LastUsedAt.IsZero() {
			st.touched.Store(k.LastUsedAt.UnixNano())
		}
		if !k.ExpiresAt.IsZero() {
			st.expires = k.ExpiresAt.UnixNano()
		}
		copy(st.hash[:], raw)
		if len(k.Models) > 0 {
			st.models = map[string]bool{}
			for _, m := range k.Models {
				st.models[m] = true
			}
			ms := slices.Clone(k.Models)
			slices.Sort(ms)
			st.list = strings.Join(ms, ", ")
		}
		if k.RateLimit > 0 {
			burst := k.Burst
			if burst <= 0 {
				burst = max(1, int(math.Ceil(k.RateLimit)))
			}
			st.interval = int64(float64(time.Second) / k.RateLimit)
			st.tolerance = st.interval * int64(burst)
			st.burstHeader, st.burst = []string{strconv.Itoa(burst)}, int64(burst)
			st.limitText = fmt.Sprintf("%s requests per second (burst %d)", strconv.FormatFloat(k.RateLimit, 'f', -1, 64), burst)
		}
		if k.TokensPerMinute > 0 {
			st.tokenCost = float64(time.Minute) / float64(k.TokensPerMinute)
			st.tokensPerMinute = k.TokensPerMinute
			st.tpmHeader = []string{strconv.FormatInt(k.TokensPerMinute, 10)}
			st.tokenText = strconv.FormatInt(k.TokensPerMinute, 10) + " tokens per minute"
		}
		if k.TokenBudget > 0 {
			if !sluice.BudgetPeriodOK(k.BudgetPeriod) {
				return nil, fmt.Errorf("client key %s: budget_period %q is not day, week or month", k.Name, k.BudgetPeriod)
			}
			st.budget, st.budgetPeriod = k.TokenBudget, k.BudgetPeriod
			st.budgetText = sluice.FormatTokens(k.TokenBudget) + " tokens a " + k.BudgetPeriod
			if ks.budgeted == nil {
				ks.budgeted = map[string]*keyState{}
			}
			ks.budgeted[k.Name] = st
		}
		ks.byHash[st.hash] = st
		for _, r := range k.Retired {
			raw, err := hex.DecodeString(r.Hash)
			if err != nil || len(raw) != sha256.Size {
				return nil, fmt.Errorf("client key %s: a retired secret's hash must be 64 hex digits", k.Name)
			}
			if ks.graced == nil {
				ks.graced = map[[sha256.Size]byte]gracedSecret{}
			}
			ks.graced[[sha256.Size]byte(raw)] = gracedSecret{k: st, until: r.Until.UnixNano()}
		}
	}
	for h := range ks.graced {
		if ks.byHash[h] != nil {
			delete(ks.graced, h)
		}
	}
	return ks, nil
}

// SetShare has the keys of ks enforce their share of each limit when
// share's replicas share them (see KeyShare); nil, or never called, keeps
// the whole limits. Call it before ks is used, on the KeySet about to be
// put in force: share keeps the shares it weighs pushed into it, and
// counts its keys' demand, from then on.
func (ks *KeySet) SetShare(share *KeyShare) {
	for _, k := range ks.byHash {
		k.share = share
	}
	if share == nil {
		return
	}
	share.mu.Lock()
	defer share.mu.Unlock()
	share.keys = ks
	share.apply(ks)
}

// scaled returns what the key's share makes a cost of its limits cost on
// this replica: 1/share, at least 1 (the whole limit).
func (k *keyState) scaled() float64 {
	return max(math.Float64frombits(k.scale.Load()), 1)
}

// Carry gives each key of ks that old holds too, with the same secret,
// old's rate-limit buckets, so that reloading the keys does not refill
// them. A key whose limit changed (sluice key update, or the file's
// client_keys edited) keeps what it used and has not yet won back, in its
// bucket's own units: the requests taken from its burst (at most the new
// burst: a bucket holds no more), and the tokens charged to its minute
// (as many as that bucket holds, up to a day's worth); those drain at the
// new rate from then on. So a raised limit lets a key that was held back
// in at once, with the room the raise gives, and a lowered one never hands
// it a fresh burst.
//
// A stored key whose secret changed (sluice key rotate) is the same key,
// by name and creation: it keeps its buckets and its last use too.
func (ks *KeySet) Carry(old *KeySet) {
	if old == nil {
		return
	}
	now := ks.now().UnixNano()
	var byName map[string]*keyState
	for h, k := range ks.byHash {
		o := old.byHash[h]
		if o == nil && !k.created.IsZero() {
			if byName == nil {
				byName = map[string]*keyState{}
				for _, ok := range old.byHash {
					if !ok.created.IsZero() {
						byName[ok.name] = ok
					}
				}
			}
			if c := byName[k.name]; c != nil && c.created.Equal(k.created) {
				o = c
			}
		}
		if o == nil || o.name != k.name {
			continue
		}
		if o.interval == k.interval && o.tolerance == k.tolerance {
			k.tat.Store(o.tat.Load())
		} else if o.interval > 0 && k.interval > 0 {
			// The replicas sharing the limit (KeyShare) multiply both
			// prices alike; the bound is the bucket as this replica holds it.
			_, bound := k.sharedBucket()
			k.tat.Store(rescaleTat(o.tat.Load(), now, float64(o.interval), float64(k.interval), bound))
		}
		if o.tokenCost == k.tokenCost {
			k.tokenTat.Store(o.tokenTat.Load())
		} else if o.tokenCost > 0 && k.tokenCost > 0 {
			// At most the new minute's worth and one token more: the key
			// waits for a token to come back, as a request bucket capped
			// at its burst waits for a request; not, as uncapped, for
			// hours of tokens it used under the old limit.
			bound := int64(time.Minute) + int64(min(k.tokenCost*k.scaled(), maxTokenCharge))
			k.tokenTat.Store(rescaleTat(o.tokenTat.Load(), now, o.tokenCost, k.tokenCost, bound))
		}
		// The arrivals not yet measured are the key's demand still.
		k.arrived.Add(o.arrived.Swap(0))
		// Its feedback waits go on being counted where those waiting now
		// were (k is not yet in force: no request reads the field).
		k.waitsOf = o.waits()
		if t := o.touched.Load(); t > k.touched.Load() {
			k.touched.Store(t)
		}
		if k.budget > 0 && o.budgetPeriod == k.budgetPeriod && o.usedStart.Load() != 0 {
			// The same period: what was used still counts, against the
			// budget as it is now (a larger one lets the key in at once).
			k.local.Store(o.local.Load())
			k.setUsed(time.Unix(0, o.usedStart.Load()), o.used.Load())
		}
	}
}

// rescaleTat moves a bucket's theoretical arrival time tat (ns) from one
// cost per unit (a request, a token; ns) to another at now: the units it
// is ahead (used and not yet won back) stay, each costing the new price,
// at most bound ns ahead. A bucket not ahead is full: 0.
func rescaleTat(tat, now int64, oldCost, newCost float64, bound int64) int64 {
	ahead := tat - now
	if ahead <= 0 {
		return 0
	}
	// In floats until bounded: a price many times higher must not
	// overflow an int64.
	return now + int64(min(float64(ahead)/oldCost*newCost, float64(bound)))
}

// Budget is a client key's token budget, as KeySet.Budgets lists it.
type Budget struct {
	// Name is the key's.
	Name string
	// Tokens is the budget a Period (sluice.BudgetDay, BudgetWeek or
	// BudgetMonth).
	Tokens int64
	Period string
}

// Budgets returns the keys of ks that have a token budget, by name.
func (ks *KeySet) Budgets() []Budget {
	if ks == nil {
		return nil
	}
	out := make([]Budget, 0, len(ks.budgeted))
	for _, k := range ks.budgeted {
		out = append(out, Budget{Name: k.name, Tokens: k.budget, Period: k.budgetPeriod})
	}
	slices.SortFunc(out, func(a, b Budget) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// SetBudgetUsed tells ks that the key named name used used tokens in its
// budget's period (of kind period) that starts at start, as summed from
// the request log: at or over its budget, the key's inference requests
// are refused until that period ends; under it, they pass. A key without
// a budget of that period, or a name ks does not hold, is passed over.
//
// local is what BudgetSumStarts returned for the key when the sum began:
// the tokens this process had charged to it by then, which the sum holds
// (or will hold once the request log writes them), so that only those
// charged since are added to used.
func (ks *KeySet) SetBudgetUsed(name, period string, start time.Time, used, local int64) {
	if ks == nil {
		return
	}
	if k := ks.budgeted[name]; k != nil && k.budgetPeriod == period {
		if was := k.usedStart.Load(); was != 0 && was != start.UnixNano() {
			k.local.Store(0) // a new period: what was charged before is not its
		} else {
			k.local.Add(-local)
		}
		k.setUsed(start, used)
	}
}

// BudgetSumStarts returns, for a sum of the budgeted keys' use that
// begins now, the tokens this process has charged to each so far, by
// name, to give back to SetBudgetUsed.
func (ks *KeySet) BudgetSumStarts() map[string]int64 {
	if ks == nil || len(ks.budgeted) == 0 {
		return nil
	}
	out := make(map[string]int64, len(ks.budgeted))
	for name, k := range ks.budgeted {
		out[name] = k.local.Load()
	}
	return out
}

// BudgetUsed returns what the key named name used of its token budget in
// the period that holds now, as last summed, and the period's end; ok is
// false for a key without a budget, and when the period's use is not
// known yet (no sum since it began: used is then 0).
func (ks *KeySet) BudgetUsed(name string, now time.Time) (used int64, resets time.Time, ok bool) {
	if ks == nil {
		return 0, time.Time{}, false
	}
	k := ks.budgeted[name]
	if k == nil {
		return 0, time.Time{}, false
	}
	start, end := sluice.BudgetPeriod(k.budgetPeriod, now)
	if k.usedStart.Load() != start.UnixNano() {
		return 0, end, false
	}
	return k.used.Load() + max(k.local.Load(), 0), end, true
}

// setUsed sets what k used in its period that starts at start, and
// whether that spent its budget until the period's end.
func (k *keyState) setUsed(start time.Time, used int64) {
	_, end := sluice.BudgetPeriod(k.budgetPeriod, start)
	k.used.Store(used)
	k.usedStart.Store(start.UnixNano())
	if used+max(k.local.Load(), 0) >= k.budget {
		k.spentUntil.Store(end.UnixNano())
	} else {
		k.spentUntil.Store(0)
	}
}

// budgetLeft reports whether k, a key with a budget, may spend tokens at
// now (ns, 0 for not read yet: it is read only for a key whose budget a
// sum found spent); if not, it returns the clock reading and when the
// period ends.
func (ks *KeySet) budgetLeft(k *keyState, now int64) (int64, int64, bool) {
	until := k.spentUntil.Load()
	if until == 0 {
		return now, 0, true
	}
	if now == 0 {
		now = ks.now().UnixNano()
	}
	return now, until, now >= until
}

// maxBudgetRetry caps a spent budget's Retry-After: the period may end a
// month away, and no client should sleep that long on one answer.
const maxBudgetRetry = 24 * time.Hour

// writeBudgetSpent answers an inference request of key k, whose token
// budget is spent until until (ns), at now: a 429 in OpenAI's shape for
// a quota (insufficient_quota), naming the key, its budget and period
// and when it resets, never the secret, with Retry-After to the reset
// (at most a day). A reset more than a minute away also says
// x-should-retry: false, so the OpenAI SDKs do not retry in vain (they
// wait at most a minute for a Retry-After).
func writeBudgetSpent(w http.ResponseWriter, k *keyState, now, until int64) string {
	wait := time.Duration(until - now)
	resets := time.Unix(0, until).UTC()
	start, _ := sluice.BudgetPeriod(k.budgetPeriod, resets.Add(-time.Nanosecond))
	msg := "API key " + k.name + " has used its token budget of " + k.budgetText + " (prompt and answer; " +
		sluice.FormatTokens(k.used.Load()+max(k.local.Load(), 0)) + " used since " + start.Format("2006-01-02 15:04") + " UTC): it resets at " +
		resets.Format("2006-01-02 15:04") + " UTC; ask the gateway's operator for a larger budget"
	// X-Should-Retry: false too when the reset is over a minute away.
	writeRetryAfter(w, min(wait, maxBudgetRetry))
	writeErrorTyped(w, http.StatusTooManyRequests, sluice.CodeRateLimited, "insufficient_quota", "insufficient_quota", msg)
	return msg
}

// SetTouch gives ks a function told of a stored key's use (one with a
// Created time): its name, creation and the time, at most once a
// TouchEvery per key (from the store's LastUsedAt on). It is called on
// the request's path and must not wait (write in the background). Call
// it before ks is used.
func (ks *KeySet) SetTouch(touch func(name string, created, at time.Time)) { ks.touch = touch }

// noteUse tells ks.touch of k's use at now (ns) unless it was noted within
// TouchEvery: an atomic load on a key used within the minute.
func (ks *KeySet) noteUse(k *keyState, now int64) {
	last := k.touched.Load()
	if now-last < int64(TouchEvery) || !k.touched.CompareAndSwap(last, now) {
		return
	}
	ks.touch(k.name, k.created, time.Unix(0, now))
}

// SetRevoked gives ks the hashes (hex SHA-256) of revoked keys (the
// store's tombstones, and those this process saw go), by name: such a secret gets a 401 saying the key was
// revoked, counted as revoked_key, rather than "not known". Call it
// before ks is used; a hash that is a key of ks is left out.
func (ks *KeySet) SetRevoked(revoked map[string]string) {
	ks.revoked = make(map[[sha256.Size]byte]string, len(revoked))
	for h, name := range revoked {
		raw, err := hex.DecodeString(h)
		if err != nil || len(raw) != sha256.Size {
			continue
		}
		var sum [sha256.Size]byte
		copy(sum[:], raw)
		if ks.byHash[sum] == nil {
			ks.revoked[sum] = name
		}
	}
}

// SetMiss gives ks a reader of the keys in force after a fresh read of
// the store's keys, asked when a secret is neither one of ks's keys nor
// a token (a key created through another replica a moment ago): nil and
// no error when no read was made (the caller rate-limits them), an error
// (its answer, a 503) when the store could not be read. Call it before ks
// is used.
func (ks *KeySet) SetMiss(miss func(ctx context.Context) (*KeySet, error)) { ks.miss = miss }

// Len returns the number of keys.
func (ks *KeySet) Len() int { return len(ks.byHash) }

// Has reports whether ks holds a key named name (nil holds none).
func (ks *KeySet) Has(name string) bool {
	if ks == nil {
		return false
	}
	for _, k := range ks.byHash {
		if k.name == name {
			return true
		}
	}
	return false
}

var errNoKey = sluice.Errorf(sluice.CodeUnauthorized, "this gateway needs an API key: send Authorization: Bearer <key> (the OpenAI SDKs send their api_key this way); ask the gateway's operator for a key")

// errNotBearer is errNoKey for an Authorization header sent without the
// Bearer scheme (Authorization: sk-…, or Basic): errNoKey's words read as
// if no key had been sent. The header's value is never quoted.
var errNotBearer = sluice.Errorf(sluice.CodeUnauthorized, "the Authorization header is not a bearer token: send Authorization: Bearer <key>, the word Bearer and a space before the key (the OpenAI SDKs send their api_key this way)")

// ErrUnknownKey is the answer to a secret that is neither a client key nor
// a token; NewKeySet's fallback returns it for a secret it does not know.
var ErrUnknownKey = errBadKey

var errBadKey = sluice.Errorf(sluice.CodeUnauthorized, "the API key is not known (check for a typo, or ask the gateway's operator whether it was revoked)")

// Wrap returns h behind the key check: a request without a known key gets
// a 401, one over its key's rate limit a 429 with Retry-After; the others
// reach h with the caller in their context and without the Authorization
// header, so the key never reaches a backend. When h is a *Proxy, the
// requests refused here are counted in its per-key counters (keyusage.go),
// as the ones it refuses itself are.
func (ks *KeySet) Wrap(h http.Handler) http.Handler {
	var u *keyUsage
	p, _ := h.(*Proxy)
	if p != nil {
		u = &p.keyUsage
		u.keyed.Store(true)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := ks.authenticate(r)
		var now int64
		if err == nil && ks.touch != nil && !c.created.IsZero() {
			now = ks.now().UnixNano()
			ks.noteUse(c, now)
		}
		if err != nil {
			u.unauthenticated(err)
			if p != nil {
				p.refusedSpan(r, err, "")
			}
			if sluice.ErrorCode(err) == sluice.CodeUnavailable {
				// The token store is down: the SDKs retry a 503 after
				// Retry-After when it is sent.
				w.Header().Set("Retry-After", "1")
			}
			writeError(w, err)
			return
		}
		if c.budget > 0 && r.Method == http.MethodPost && isInferencePath(r.URL.Path) {
			// A key whose budget is spent: refused before its rate limit,
			// which it does not spend, and before the body is read. A key
			// under its budget pays an atomic load.
			var until int64
			var ok bool
			if now, until, ok = ks.budgetLeft(c, now); !ok {
				u.refused(c.name, "", http.StatusTooManyRequests)
				u.overBudget()
				if c.interval > 0 || c.tokenCost > 0 {
					c.limitHeaders(w.Header(), now, false)
				}
				msg := writeBudgetSpent(w, c, now, until)
				if p != nil {
					p.refusedSpan(r, sluice.Errorf(sluice.CodeRateLimited, "%s", msg), c.name)
				}
				return
			}
		}
		if k := c; (k.interval > 0 || k.tokenCost > 0) && unmetered(r) {
			// Feedback and the model list spend none of the key's
			// limits, nor count in its demand on this replica; their
			// headers say what remains.
			if now == 0 {
				now = ks.now().UnixNano()
			}
			k.limitHeaders(w.Header(), now, false)
		} else if k.interval > 0 || k.tokenCost > 0 {
			// Its demand on this replica, admitted or not (KeyShare.Demand).
			k.arrived.Add(1)
			// One clock reading for both limits and their headers (and
			// the key's use).
			if now == 0 {
				now = ks.now().UnixNano()
			}
			inAdmit := k.takesInAdmit(r)
			if k.tokenCost > 0 && r.Method == http.MethodPost && isInferencePath(r.URL.Path) {
				// Only requests that use tokens wait for them: a key over
				// its token limit may still list models or read a response.
				// Checked before the rate limit, so that a request refused
				// here spends none of it (as a 403 spends none): a client
				// that waits this 429's Retry-After is then served.
				if wait, ok := k.tokensLeft(now); !ok {
					u.refused(k.name, "", http.StatusTooManyRequests)
					msg := "API key " + k.name + " is over its token limit of " + k.tokenText + " (prompt and answer)" + k.share.sharedText() + ": retry after " + retryAfterText(wait)
					if p != nil {
						p.refusedSpan(r, sluice.Errorf(sluice.CodeRateLimited, "%s", msg), k.name)
					}
					k.limitHeaders(w.Header(), now, false)
					writeRetryAfter(w, wait)
					writeErrorCode(w, sluice.CodeRateLimited, msg)
					return
				}
			}
			if k.interval > 0 {
				var wait time.Duration
				var ok bool
				if inAdmit {
					// A request outside the key's models must not spend a
					// token (a mistyped model left the key's real traffic
					// rate limited): the model is known only once the body
					// is read, so Admit takes the token after the model
					// check. An empty bucket is still refused here, before
					// the body is read.
					wait, ok = k.peek(now)
				} else {
					wait, ok = k.take(now)
				}
				if !ok {
					u.refused(k.name, "", http.StatusTooManyRequests)
					if p != nil {
						p.refusedSpan(r, &overLimitError{k: k, wait: wait}, k.name)
					}
					k.limitHeaders(w.Header(), now, false)
					writeOverLimit(w, k, wait)
					return
				}
			}
			k.limitHeaders(w.Header(), now, inAdmit && k.interval > 0)
		}
		delete(r.Header, "Authorization") // canonical already: no need for Del's canonicalising
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
	})
}

// waits returns the counter of the key's feedback posts waiting on the
// store (maxFeedbackWaits): the first of its states since the key was
// read (Carry).
func (k *keyState) waits() *atomic.Int64 {
	if k.waitsOf != nil {
		return k.waitsOf
	}
	return &k.feedbackWaits
}

// writeOverLimit answers a request of key k over its rate limit: a 429
// saying when the next request is allowed.
func writeOverLimit(w http.ResponseWriter, k *keyState, wait time.Duration) {
	writeRetryAfter(w, wait)
	writeErrorCode(w, sluice.CodeRateLimited, "API key "+k.name+" is over its rate limit of "+k.limitText+k.share.sharedText()+": retry after "+retryAfterText(wait))
}

// writeRetryAfter sets a 429's Retry-After (whole seconds, at least 1)
// and Retry-After-Ms to wait.
func writeRetryAfter(w http.ResponseWriter, wait time.Duration) {
	secs := int64(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	// The OpenAI SDKs read Retry-After-Ms first: a key
	// allowed 20 requests a second waited a whole second.
	w.Header().Set("Retry-After-Ms", strconv.FormatInt(int64(roundUpMs(wait)/time.Millisecond), 10))
	if wait > sdkRetryAfterMax {
		// The SDKs wait out a Retry-After of a minute at most, else retry
		// on their own backoff within a second or two: in vain here.
		w.Header().Set("X-Should-Retry", "false")
	}
}

// sdkRetryAfterMax is the longest Retry-After the OpenAI SDKs wait for
// before a retry of their own; a longer one they replace by their backoff.
const sdkRetryAfterMax = time.Minute

// overLimitError is Admit's answer to a request whose key's bucket was
// emptied, by other requests, between Wrap's look and Admit's take;
// writeError sends it as Wrap's 429.
type overLimitError struct {
	k    *keyState
	wait time.Duration
}

func (e *overLimitError) Error() string {
	return "API key " + e.k.name + " is over its rate limit of " + e.k.limitText + e.k.share.sharedText()
}

// takesInAdmit reports whether the rate-limit token of a request with key
// k is taken by Admit, after the model check, rather than by Wrap: for a
// key limited to some models and rate limited, on an inference request
// (the requests whose model Admit checks once the body is read; by-id
// and /v1/models requests are charged in Wrap as before).
func (k *keyState) takesInAdmit(r *http.Request) bool {
	return k.models != nil && k.interval > 0 && r.Method == http.MethodPost && isInferencePath(r.URL.Path)
}

// retryAfterText is wait rounded up to the millisecond: rounded to the
// nearest, a wait under half a millisecond read "retry after 0s", which
// tells a client to retry at once and be refused again.
func retryAfterText(wait time.Duration) string {
	return roundUpMs(wait).String()
}

// roundUpMs is wait rounded up to the millisecond, at least 1 ms.
func roundUpMs(wait time.Duration) time.Duration {
	return max((wait+time.Millisecond-1)/time.Millisecond*time.Millisecond, time.Millisecond)
}

func (ks *KeySet) authenticate(r *http.Request) (*keyState, error) {
	auth := r.Header.Get("Authorization")
	scheme, secret, ok := strings.Cut(strings.TrimSpace(auth), " ")
	secret = strings.TrimSpace(secret)
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		if strings.TrimSpace(auth) != "" && !strings.EqualFold(strings.TrimSpace(auth), "Bearer") {
			return nil, errNotBearer
		}
		return nil, errNoKey
	}
	sum := sha256.Sum256([]byte(secret))
	if k := ks.byHash[sum]; k != nil && subtle.ConstantTimeCompare(sum[:], k.hash[:]) == 1 {
		if k.expires != 0 && ks.now().UnixNano() >= k.expires {
			return nil, keyExpired(k)
		}
		return k, nil
	}
	if k, err, ok := ks.retired(sum); ok {
		return k, err
	}
	if ks.fallback != nil {
		force, err := ks.fallback(r.Context(), secret)
		switch {
		case err == ErrUnknownKey && ks.miss != nil:
			return ks.missed(r.Context(), sum)
		case err != nil:
			return nil, err
		case force:
			return tokenCaller, nil
		}
		return &keyState{name: "token", token: true}, nil
	}
	if ks.miss != nil {
		return ks.missed(r.Context(), sum)
	}
	return nil, errBadKey
}

// missed looks for the secret of hash sum among the keys read again from
// the store (SetMiss), once its key is neither one of ks's nor a token.
func (ks *KeySet) missed(ctx context.Context, sum [sha256.Size]byte) (*keyState, error) {
	fresh, err := ks.miss(ctx)
	if err != nil {
		return nil, err
	}
	if fresh == nil || fresh == ks {
		return nil, errBadKey
	}
	if k := fresh.byHash[sum]; k != nil && subtle.ConstantTimeCompare(sum[:], k.hash[:]) == 1 {
		if k.expires != 0 && fresh.now().UnixNano() >= k.expires {
			return nil, keyExpired(k)
		}
		return k, nil
	}
	if k, err, ok := fresh.retired(sum); ok {
		return k, err
	}
	return nil, errBadKey
}

// retired looks for the secret of hash sum among the secrets rotations
// replaced, then the revoked keys: ok is false if it is neither. A
// replaced secret in its grace is its key.
func (ks *KeySet) retired(sum [sha256.Size]byte) (*keyState, error, bool) {
	if g, ok := ks.graced[sum]; ok {
		now := ks.now().UnixNano()
		if now >= g.until {
			return nil, keyRotated(g.k.name, g.until), true
		}
		if g.k.expires != 0 && now >= g.k.expires {
			return nil, keyExpired(g.k), true
		}
		return g.k, nil, true
	}
	if name, ok := ks.revoked[sum]; ok {
		return nil, keyRevoked(name), true
	}
	return nil, nil, false
}

// keyExpired is the answer to a key past its expiry: it names the key and
// when, never the secret.
func keyExpired(k *keyState) error {
	return &sluice.Error{Code: sluice.CodeUnauthorized, Fields: []string{"key_expired"}, Message: "API key " + k.name + " expired at " + time.Unix(0, k.expires).UTC().Format(time.RFC3339) + ": ask the gateway's operator for a new one"}
}

// keyRotated is the answer to a secret a rotation replaced (sluice key
// rotate), once its grace ended at until (ns): it names the key, never
// the secret, and says to use the key's new one.
func keyRotated(name string, until int64) error {
	return &sluice.Error{Code: sluice.CodeUnauthorized, Fields: []string{"key_rotated"}, Message: "API key " + name + " was rotated: this secret stopped working at " + time.Unix(0, until).UTC().Format(time.RFC3339) + "; use the key's new secret (ask the gateway's operator for it)"}
}

// keyRevoked is the answer to a key revoked (sluice key delete): it names
// the key, never the secret.
func keyRevoked(name string) error {
	return &sluice.Error{Code: sluice.CodeUnauthorized, Fields: []string{"key_revoked"}, Message: "API key " + name + " was revoked: ask the gateway's operator for a new one"}
}

// keyRefusal says which of keyExpired and keyRevoked err is, or "".
func keyRefusal(err error) string {
	if e, ok := err.(*sluice.Error); ok && e.Code == sluice.CodeUnauthorized && len(e.Fields) == 1 {
		switch e.Fields[0] {
		case "key_expired", "key_revoked", "key_rotated":
			return e.Fields[0]
		}
	}
	return ""
}

// take spends one request from the bucket at now (ns); when the bucket is
// empty it reports how long until a request is allowed.
func (k *keyState) take(now int64) (time.Duration, bool) {
	cost, tolerance := k.sharedBucket()
	for {
		tat := k.tat.Load()
		next := max(tat, now) + cost
		if over := next - now - tolerance; over > 0 {
			return time.Duration(over), false
		}
		if k.tat.CompareAndSwap(tat, next) {
			return 0, true
		}
	}
}

// peek reports whether the bucket holds a request at now (ns), without
// spending it, and if not how long until it does.
func (k *keyState) peek(now int64) (time.Duration, bool) {
	cost, tolerance := k.sharedBucket()
	if over := max(k.tat.Load(), now) + cost - now - tolerance; over > 0 {
		return time.Duration(over), false
	}
	return 0, true
}

// sharedBucket returns what one request costs k's bucket on this replica
// and the bucket's tolerance, for its share of the limit now: the cost
// over the share, the tolerance as configured but never less than one
// request's cost, so a replica always lets one through.
func (k *keyState) sharedBucket() (cost, tolerance int64) {
	cost = sharedCost(k.interval, k.scaled())
	return cost, max(k.tolerance, cost)
}

// limitHeaders sets OpenAI's x-ratelimit-* headers on the answer to a
// request of key k at now (ns), for each limit the key has, so that a
// client (or a router such as LiteLLM's) can slow down before it is
// refused: the requests a full bucket allows (the burst) and the tokens a
// minute, what is left of each after this request, and how long until
// each is full again. pending says this request's own request token is
// still to be taken (by Admit, takesInAdmit). A token count leaves out
// this request's own tokens, known only once it ends.
//
// The limits are the key's as configured, whichever share of them this
// replica enforces (KeyShare); what remains is this replica's share left
// scaled to the whole limit (the fraction of its bucket left times the
// limit): what the fleet has left when the key's requests are spread
// over the replicas.
func (k *keyState) limitHeaders(h http.Header, now int64, pending bool) {
	// One array for the values that change; the limits' are made once per
	// key (a header's value slice of capacity 1 is never written in
	// place: Add would copy it).
	vals := new([4]string)
	i := 0
	if k.interval > 0 {
		cost, tolerance := k.sharedBucket()
		ahead := max(k.tat.Load()-now, 0)
		if pending {
			ahead += cost
		}
		vals[i] = strconv.FormatInt(min(max((tolerance-ahead)/k.interval, 0), k.burst), 10)
		vals[i+1] = resetText(ahead)
		h["X-Ratelimit-Limit-Requests"] = k.burstHeader
		h["X-Ratelimit-Remaining-Requests"] = vals[i : i+1 : i+1]
		h["X-Ratelimit-Reset-Requests"] = vals[i+1 : i+2 : i+2]
		i += 2
	}
	if k.tokenCost > 0 {
		ahead := max(k.tokenTat.Load()-now, 0)
		used := int64(math.Ceil(float64(ahead) / k.tokenCost))
		vals[i] = strconv.FormatInt(max(k.tokensPerMinute-used, 0), 10)
		vals[i+1] = resetText(ahead)
		h["X-Ratelimit-Limit-Tokens"] = k.tpmHeader
		h["X-Ratelimit-Remaining-Tokens"] = vals[i : i+1 : i+1]
		h["X-Ratelimit-Reset-Tokens"] = vals[i+1 : i+2 : i+2]
	}
}

// resetText is a wait of ns as OpenAI writes x-ratelimit-reset-*
// ("150ms", "1.05s", "6m0s"), to the millisecond.
func resetText(ns int64) string {
	return time.Duration(ns).Round(time.Millisecond).String()
}

// tokensLeft reports whether the key is within its token limit at now
// (ns): at most a minute's worth of tokens ahead. If not, it says how long
// until it is.
func (k *keyState) tokensLeft(now int64) (time.Duration, bool) {
	if over := k.tokenTat.Load() - now - int64(time.Minute); over > 0 {
		return time.Duration(over), false
	}
	return 0, true
}

// maxTokenCharge bounds what one answer is charged, in ns of the key's
// bucket (a day), so that a backend reporting absurd usage cannot
// overflow it.
const maxTokenCharge = float64(24 * time.Hour)

// chargesTokens reports whether r's key has its tokens charged: a
// token_budget or a tokens_per_minute (chargeTokens). One context lookup.
func chargesTokens(r *http.Request) bool {
	c, _ := r.Context().Value(callerKey{}).(*keyState)
	return c != nil && (c.budget > 0 || c.tokenCost > 0)
}

// chargeTokens charges the tokens o used to its key's token limit, if the
// request's key has one: the answer's prompt and answer tokens, as the
// backend's usage reported them, or as the gateway estimated them for an
// answer that ended without usage (estimateTokens, o.TokensEstimated).
func chargeTokens(r *http.Request, o *sluice.Observation) {
	if o.ClientKey == "" || o.InputTokens+o.OutputTokens <= 0 {
		return
	}
	c, _ := r.Context().Value(callerKey{}).(*keyState)
	if c == nil {
		return
	}
	if c.budget > 0 {
		c.chargeBudget(int64(o.InputTokens) + int64(o.OutputTokens))
	}
	if c.tokenCost > 0 {
		c.chargeTokenCount(int64(o.InputTokens) + int64(o.OutputTokens))
	}
}

// chargeTokenCount charges n tokens to k's token limit, a key with one,
// at this replica's share of it (KeyShare: each token costs 1/share
// times its cost alone; the minute's tolerance stays).
func (k *keyState) chargeTokenCount(n int64) {
	cost := int64(min(float64(n)*k.tokenCost*k.scaled(), maxTokenCharge))
	now := k.now().UnixNano()
	for {
		tat := k.tokenTat.Load()
		if k.tokenTat.CompareAndSwap(tat, max(tat, now)+cost) {
			return
		}
	}
}

// chargeBudget adds n tokens this process's answer used to k's budget
// count, and spends the key at once when that reaches its budget in the
// period the last sum counted (after that period, the next sum counts
// afresh: the period's end lets the key in, and it is summed at once).
func (k *keyState) chargeBudget(n int64) {
	local := k.local.Add(n)
	start := k.usedStart.Load()
	if start == 0 || k.used.Load()+local < k.budget {
		return
	}
	_, end := sluice.BudgetPeriod(k.budgetPeriod, time.Unix(0, start))
	if k.now().UnixNano() < end.UnixNano() {
		k.spentUntil.Store(end.UnixNano())
	}
}

// Admit checks that the request's key may use model, as sent ("chat",
// "chat:v1.2.0" or "chat@canary"); it is Options.Admit's signature. On an
// inference request of a rate-limited key with models it then takes the
// request's token (see takesInAdmit), so a refused model costs none. A
// request that did not pass through Wrap is refused. A body that names
// "model" twice (a way past a key's scope) never gets here: the proxy
// refuses it for every caller.
func (ks *KeySet) Admit(r *http.Request, model string) error {
	c, _ := r.Context().Value(callerKey{}).(*keyState)
	if c == nil {
		return errNoKey
	}
	if c.models == nil {
		return nil
	}
	name := model
	for i := 0; i < len(name); i++ {
		if name[i] == ':' || name[i] == '@' {
			name = name[:i]
			break
		}
	}
	if !c.models[name] {
		return sluice.Errorf(sluice.CodeForbidden, "API key %s may not use model %q: it may use %s", c.name, name, c.list)
	}
	if c.takesInAdmit(r) {
		if wait, ok := c.take(c.now().UnixNano()); !ok {
			return &overLimitError{c, wait}
		}
	}
	return nil
}

// admitRefusedHeaders sets again, on the answer to a request Admit refused,
// the x-ratelimit-* headers Wrap set as if the request would spend a
// token: a request refused there spends none (a 403), or found the bucket
// emptied by others (a 429), so the headers say what remains now. Only on
// that error path.
func admitRefusedHeaders(w http.ResponseWriter, r *http.Request) {
	if c, _ := r.Context().Value(callerKey{}).(*keyState); c != nil && c.takesInAdmit(r) {
		c.limitHeaders(w.Header(), c.now().UnixNano(), false)
	}
}

// chargeUnadmitted spends the rate-limit token of an inference request
// refused before its model was checked (a body too large or not JSON):
// such a request never reaches Admit, and without the charge a key
// sending broken bodies was never rate limited.
func chargeUnadmitted(r *http.Request) {
	if c, _ := r.Context().Value(callerKey{}).(*keyState); c != nil && c.takesInAdmit(r) {
		c.take(c.now().UnixNano())
	}
}

// ForceAllowed says whether the request's key may use the force-version
// header: a key with force_version, or an operator or admin token.
func (ks *KeySet) ForceAllowed(r *http.Request) bool {
	c, _ := r.Context().Value(callerKey{}).(*keyState)
	return c != nil && c.force
}

// mayActOn reports whether the caller of r may act on what a request sent
// with client key key made ("" for no key or a token): the same key, or
// an operator or admin token. Without client keys everything is "".
func mayActOn(r *http.Request, key string) bool {
	if key == "" {
		return true
	}
	c, _ := r.Context().Value(callerKey{}).(*keyState)
	return c == tokenCaller || (c != nil && c.name == key)
}

// errNotYourResponse is the answer to a response id another client key
// asked for: a response holds that key's conversation.
func errNotYourResponse(id string) error {
	return sluice.Errorf(sluice.CodeNotFound, "response %s was not made with this API key: a response can be read, continued (previous_response_id) or deleted only with the key that made it", id)
}

// clientKeyName returns the name of the client key that sent r, for the
// request log and the per-key counters: "" without client keys and for an
// operator or admin token, which is no client key.
func clientKeyName(r *http.Request) string {
	if c, _ := r.Context().Value(callerKey{}).(*keyState); c != nil && !c.token {
		return c.name
	}
	return ""
}

// KeyName returns the name of the key that sent r ("" for a token or no
// key), for logs.
func KeyName(r *http.Request) string {
	if c, _ := r.Context().Value(callerKey{}).(*keyState); c != nil && c != tokenCaller {
		return c.name
	}
	return ""
}
