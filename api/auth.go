package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
)

// Auth checks admin tokens. It knows the static tokens from the config file
// and the tokens created through the API, which it reads from the store
// and caches. Secrets are never kept, only their SHA-256.
type Auth struct {
	// CacheFor is how long store tokens are trusted before they are read
	// again, so that a token deleted through another replica stops working
	// there too. NewAuth sets 30 seconds; zero means until Reload. Set it
	// before the Auth is used.
	CacheFor time.Duration
	// Now is the clock expiry and last use are read by; nil is time.Now.
	// Set it before the Auth is used.
	Now func() time.Time

	store  sluice.Store
	static []sluice.Token

	mu       sync.Mutex // guards the fields below; never held across a store call
	cached   []sluice.Token
	loadedAt time.Time
	loaded   bool
	applied  uint64        // the sequence number of the read in cached
	started  uint64        // the last read's sequence number
	inflight chan struct{} // closed when the refresh under way ends; nil if none
	failedAt time.Time     // when the last refresh failed
	lastErr  error
	// A read of the tokens for AuthenticateAdmin's unknown secrets, when
	// one runs, and when it started: one at a time, each serving every
	// secret that arrived before it started.
	missRead      chan struct{}
	missReadStart time.Time
	// touched is, by token name, the last use this Auth wrote or began
	// writing to the store; touches counts those writes under way.
	touched map[string]lastTouch
	touches sync.WaitGroup
}

// TouchEvery is how often, at most, an Auth writes a token's last use to
// the store: the request path never waits for that write, and a busy
// token costs the store one small write a minute per replica.
const TouchEvery = time.Minute

// Bounds on waiting for the store's tokens: a refresh gives up after
// refreshTimeout; a caller that has tokens read before waits at most
// staleWait for a refresh, then uses them; after a failed refresh, callers
// use the tokens read before without waiting for retryAfter.
const (
	refreshTimeout = 5 * time.Second
	staleWait      = time.Second
	retryAfter     = 5 * time.Second
)

// NewAuth returns an Auth over the store's tokens and the static ones, which
// come from the config file with their secrets already hashed. A nil store
// means static tokens only.
func NewAuth(store sluice.Store, static []sluice.Token) *Auth {
	s := make([]sluice.Token, len(static))
	copy(s, static)
	return &Auth{CacheFor: 30 * time.Second, store: store, static: s}
}

// Reload reads the store's tokens again. The API calls it after each token
// change it makes; call it after changing tokens in the store any other way.
func (a *Auth) Reload(ctx context.Context) error {
	return a.load(ctx)
}

// SetStatic replaces the static tokens (the config file's, read again on
// SIGHUP), so a token removed from the file stops working without a
// restart. It refuses, changing nothing, when that would leave no admin
// token (that has not expired) where there was one (in the file or the
// store): no one could administer the gateway, nor create a token.
func (a *Auth) SetStatic(ctx context.Context, static []sluice.Token) error {
	if err := a.load(ctx); err != nil && !hasAdmin(static, a.now()) {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if !hasAdmin(static, now) && !hasAdmin(a.cached, now) && hasAdmin(a.static, now) {
		return sluice.Errorf(sluice.CodeInvalid, "the config file now has no admin token and the store has none: no one could administer the gateway, so the tokens in force are kept; create an admin token first (sluice token create NAME --role admin) or keep one in the file")
	}
	a.static = slices.Clone(static)
	return nil
}

// hasAdmin reports whether ts holds an admin token that has not expired at
// now.
func hasAdmin(ts []sluice.Token, now time.Time) bool {
	return slices.ContainsFunc(ts, func(t sluice.Token) bool { return t.Role == sluice.RoleAdmin && !t.Expired(now) })
}

// load reads the store's tokens and keeps them, unless a read that started
// later was kept already. The lock is not held while the store answers.
func (a *Auth) load(ctx context.Context) error {
	a.mu.Lock()
	if a.store == nil {
		a.loaded = true
		a.mu.Unlock()
		return nil
	}
	a.started++
	seq := a.started
	a.mu.Unlock()
	ts, err := a.store.Tokens(ctx)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		// A caller that hung up (a reload after a change, its client
		// gone) says nothing of the store.
		if !errors.Is(ctx.Err(), context.Canceled) {
			a.failedAt = time.Now()
			a.lastErr = ErrTokenStoreDown
		}
		return sluice.Errorf(sluice.CodeUnavailable, "cannot read admin tokens from the store: %v: check the store and retry", err)
	}
	if seq > a.applied {
		a.cached, a.loadedAt, a.loaded, a.applied = ts, time.Now(), true, seq
		a.failedAt, a.lastErr = time.Time{}, nil
	}
	return nil
}

// storeTokens returns the cached store tokens, reading them first when the
// cache is empty or older than CacheFor. One refresh runs at a time, on
// its own deadline; callers that have tokens read before wait for it at
// most staleWait and, after a failed refresh, not at all for retryAfter:
// a store outage neither locks every operator out nor makes every request
// wait on the store.
func (a *Auth) storeTokens(ctx context.Context) ([]sluice.Token, error) {
	a.mu.Lock()
	if a.store == nil || (a.loaded && (a.CacheFor <= 0 || time.Since(a.loadedAt) <= a.CacheFor)) {
		defer a.mu.Unlock()
		return a.cached, nil
	}
	if a.loaded && !a.failedAt.IsZero() && time.Since(a.failedAt) < retryAfter {
		defer a.mu.Unlock()
		return a.cached, nil
	}
	done := a.inflight
	if done == nil {
		done = make(chan struct{})
		a.inflight = done
		go func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
			defer cancel()
			a.load(ctx)
			a.mu.Lock()
			a.inflight = nil
			a.mu.Unlock()
			close(done)
		}()
	}
	stale := a.loaded
	a.mu.Unlock()
	var wait <-chan time.Time
	if stale {
		t := time.NewTimer(staleWait)
		defer t.Stop()
		wait = t.C
	}
	select {
	case <-done:
	case <-wait:
	case <-ctx.Done():
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.loaded {
		if a.lastErr != nil {
			return nil, a.lastErr
		}
		return nil, ErrTokenStoreDown
	}
	return a.cached, nil
}

// storeDown reports whether the last read of the store's tokens failed,
// so that the tokens held may lack some.
func (a *Auth) storeDown() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.store != nil && a.lastErr != nil
}

// Static returns the static tokens (from the config file).
func (a *Auth) Static() []sluice.Token {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]sluice.Token(nil), a.static...)
}

// ErrTokenStoreDown is the answer to a secret that matches no token while
// the store's tokens cannot be read (the last read failed): it may be a
// token this gateway has not read yet, so it is a 503 to retry, not a 401
// saying it is not known. Callers not yet known to be admins get no
// detail of the store (its host, user, database): /readyz and the logs
// say it.
var ErrTokenStoreDown = sluice.Errorf(sluice.CodeUnavailable, "cannot check the admin token: the token store is unavailable, and this gateway has not read every token there (one made since its last read can be checked only once the store answers); retry shortly (the gateway's /readyz says why)")

// IsTokenStoreDown reports whether err is ErrTokenStoreDown: a secret
// that could not be checked, as against one not known.
func IsTokenStoreDown(err error) bool { return err == ErrTokenStoreDown }

// errUnknownToken is the answer to a secret that matches no token.
var errUnknownToken = sluice.Errorf(sluice.CodeUnauthorized, "the admin token is not known (it may have been deleted): send Authorization: Bearer <token>; create one with sluice token create")

// errNoToken is the answer to a request without usable credentials.
var errNoToken = sluice.Errorf(sluice.CodeUnauthorized, "this endpoint needs an admin token: send Authorization: Bearer <token>; create one with sluice token create")

// Authenticate returns the token whose secret the request carries in
// "Authorization: Bearer <secret>". It fails with CodeUnauthorized when
// there is no such header or no token matches.
func (a *Auth) Authenticate(r *http.Request) (*sluice.Token, error) {
	h := r.Header.Get("Authorization")
	scheme, secret, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
		return nil, errNoToken
	}
	return a.AuthenticateSecret(r.Context(), strings.TrimSpace(secret))
}

// AuthenticateAdmin is AuthenticateSecret for the admin API and the
// dashboard's sign-in: a secret that is not among the tokens read (a token
// created through another replica a moment ago, which a CI job's next step
// sends through this one) is looked for again in a read of the tokens that
// started after it arrived. Such a token was refused as "not known (it may
// have been deleted)" for up to CacheFor. These reads run one at a time,
// each serving every secret that arrived before it started, so unknown
// secrets cost the store one small query at a time at most. The data
// plane keeps AuthenticateSecret, which never waits on the store for an
// unknown secret.
func (a *Auth) AuthenticateAdmin(ctx context.Context, secret string) (*sluice.Token, error) {
	arrived := time.Now()
	t, err := a.AuthenticateSecret(ctx, secret)
	if (err != errUnknownToken && err != ErrTokenStoreDown) || a.store == nil {
		return t, err
	}
	wait := time.NewTimer(staleWait)
	defer wait.Stop()
	for {
		a.mu.Lock()
		ch, fresh := a.missRead, !a.missReadStart.Before(arrived)
		if ch == nil {
			// Start the read; it starts after this secret arrived.
			ch = make(chan struct{})
			a.missRead, a.missReadStart, fresh = ch, time.Now(), true
			go func() {
				lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
				defer cancel()
				a.load(lctx) // on failure the tokens read before stand
				a.mu.Lock()
				a.missRead = nil
				a.mu.Unlock()
				close(ch)
			}()
		}
		a.mu.Unlock()
		select {
		case <-ch:
		case <-wait.C:
			// The store did not answer in time: the secret could not be
			// checked, which is no answer that it is not known.
			return nil, ErrTokenStoreDown
		case <-ctx.Done():
			return nil, err
		}
		if fresh {
			return a.AuthenticateSecret(ctx, secret)
		}
		// That read started before this secret arrived: the next one.
	}
}

// AuthenticateSecret returns the token whose secret is secret, for callers
// that carry it elsewhere than the Authorization header (such as the data
// plane's force header). Every token is compared, in constant time, so the
// time taken does not tell which tokens exist.
func (a *Auth) AuthenticateSecret(ctx context.Context, secret string) (*sluice.Token, error) {
	if secret == "" {
		return nil, errNoToken
	}
	// The static ones first: they work without the store, and without
	// waiting on it.
	found := match(a.Static(), func(t *sluice.Token) bool { return t.Matches(secret) })
	var storeErr error
	fromStore := found == nil
	if found == nil {
		var stored []sluice.Token
		stored, storeErr = a.storeTokens(ctx)
		found = match(stored, func(t *sluice.Token) bool { return t.Matches(secret) })
	}
	if found == nil && storeErr != nil {
		return nil, storeErr
	}
	if found == nil && a.storeDown() {
		return nil, ErrTokenStoreDown
	}
	if found == nil {
		return nil, errUnknownToken
	}
	found.Hash = ""
	return a.admit(found, fromStore)
}

// now reads the Auth's clock.
func (a *Auth) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// admit refuses t once it has expired and, for a stored token, notes its
// use: found, the token a secret or hash matched.
func (a *Auth) admit(t *sluice.Token, stored bool) (*sluice.Token, error) {
	now := a.now()
	if t.Expired(now) && !stored {
		return nil, sluice.FileTokenExpired(t)
	}
	if t.Expired(now) {
		return nil, sluice.TokenExpired(t)
	}
	if stored {
		a.touch(t, now)
	}
	return t, nil
}

// touch writes t's last use, now, to the store in the background, unless
// this Auth wrote it, or the store holds it (from any replica), within
// TouchEvery. The caller does not wait; a failed write is tried again at
// the token's next use a TouchEvery later.
func (a *Auth) touch(t *sluice.Token, now time.Time) {
	if a.store == nil {
		return
	}
	a.mu.Lock()
	last := a.touched[t.Name].of(t)
	if t.LastUsedAt.After(last) {
		last = t.LastUsedAt
	}
	if !last.IsZero() && now.Sub(last) < TouchEvery {
		a.mu.Unlock()
		return
	}
	if a.touched == nil {
		a.touched = make(map[string]lastTouch)
	}
	a.touched[t.Name] = lastTouch{created: t.CreatedAt, at: now}
	a.touches.Add(1)
	a.mu.Unlock()
	go func() {
		defer a.touches.Done()
		ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
		defer cancel()
		_ = a.store.TouchToken(ctx, t.Name, now)
	}()
}

// lastTouch is the last use an Auth wrote of the token created at
// created: a token deleted and created again under its name is another
// token, whose use the old one's must neither stand for nor hold back.
type lastTouch struct{ created, at time.Time }

// of returns the last use noted if it is t's, else zero.
func (l lastTouch) of(t *sluice.Token) time.Time {
	if !l.created.Equal(t.CreatedAt) {
		return time.Time{}
	}
	return l.at
}

// LastUsed returns when this Auth last saw t (by its name and creation
// time) used, as far as it wrote (or is writing) it to the store; zero if
// it has not.
func (a *Auth) LastUsed(t sluice.Token) time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.touched[t.Name].of(&t)
}

// WaitTouches waits for the last-use writes under way to end. Call it when
// no request is being authenticated (a test, or after a shutdown).
func (a *Auth) WaitTouches() {
	a.touches.Wait()
}

// match returns a copy of the first token in list that is, comparing every
// token (Matches is constant-time), so the time taken does not tell which
// one matched.
func match(list []sluice.Token, is func(*sluice.Token) bool) *sluice.Token {
	var found *sluice.Token
	for i := range list {
		if is(&list[i]) && found == nil {
			t := list[i]
			found = &t
		}
	}
	return found
}

// Authorize returns a CodeForbidden error unless t's role allows need.
func Authorize(t *sluice.Token, need sluice.Role) error {
	if t == nil {
		return errNoToken
	}
	if !t.Role.Allows(need) {
		return sluice.Errorf(sluice.CodeForbidden, "token %s has role %s; this needs %s: use a token with role %s or higher (an admin can create one with sluice token create)", t.Name, displayRole(t.Role), need, need)
	}
	return nil
}

func displayRole(r sluice.Role) string {
	if r.Valid() {
		return string(r)
	}
	return fmt.Sprintf("%q, which is not a role (fix it in the config file)", r)
}

// Middleware serves h only to requests whose token has role need or a
// stronger one, with the token in the request context (see ActorFrom).
// Other requests get a JSON 401 or 403 error.
func (a *Auth) Middleware(need sluice.Role, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, err := a.Authenticate(r)
		if err == errUnknownToken || err == ErrTokenStoreDown {
			_, secret, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
			t, err = a.AuthenticateAdmin(r.Context(), strings.TrimSpace(secret))
		}
		if err == nil {
			err = Authorize(t, need)
		}
		if err != nil {
			WriteError(w, err)
			return
		}
		h.ServeHTTP(w, r.WithContext(WithActor(r.Context(), t)))
	})
}

type actorKey struct{}

// WithActor returns ctx carrying token t as the actor of the request. The
// token's hash is dropped.
func WithActor(ctx context.Context, t *sluice.Token) context.Context {
	c := *t
	c.Hash = ""
	return context.WithValue(ctx, actorKey{}, &c)
}

// ActorFrom returns the token that authenticated the request, put there by
// Middleware or WithActor.
func ActorFrom(ctx context.Context) (*sluice.Token, bool) {
	t, ok := ctx.Value(actorKey{}).(*sluice.Token)
	return t, ok
}
