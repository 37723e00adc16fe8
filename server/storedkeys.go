package server

import (
	"context"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/proxy"
)

// Client keys issued through the admin API (sluice key create) live in
// the store beside the config file's client_keys. Every replica holds them
// in its KeySet, so the data plane never reads the store for a key it
// knows: the set is read again when the store says something changed (a
// PostgreSQL notification, at once, or the reconcile every
// ReconcileInterval when notifications were lost), after each change this
// replica's admin API makes, and on SIGHUP. A secret that is neither a
// key held nor a token makes one read of the store's keys (keyMiss), at
// most one at a time and one every keyMissEvery, so a key created through
// another replica a moment ago is accepted at once while a flood of
// unknown secrets costs the store a few small reads a second.

// keyMissEvery is the least time between two reads of the store's keys for
// secrets not held.
const keyMissEvery = 200 * time.Millisecond

// keyMissWait bounds how long a request waits for such a read.
const keyMissWait = time.Second

// maxRevoked bounds the revoked keys a replica remembers, to say "revoked"
// rather than "not known".
const maxRevoked = 10000

// storedKeys is the server's copy of the store's client keys.
type storedKeys struct {
	// reloading makes ReloadStoredKeys one at a time, from its read to
	// putting what it read in force: a read that began before a revoke
	// must not end after the revoke's own read and put the key back. A
	// channel of one, so that waiting for it ends with the caller's ctx.
	reloading chan struct{}
	// Guarded by Server.keysMu.
	list    []sluice.StoredKey // in force, then revoked (tombstones)
	revoked map[string]string  // hex hash → name, of keys this process saw go that the store no longer says are revoked

	// touches counts the writes of keys' last use under way (touchKey).
	touches sync.WaitGroup

	missMu    sync.Mutex
	missCh    chan struct{} // closed when the read under way ends; nil if none
	missStart time.Time     // when the last read for a miss started
	missErr   error         // that read's error
}

// keyed reports whether the data plane requires a key.
func (s *Server) keyed() bool { return s.Keys != nil }

// clientKeysOf converts the config file's keys and the store's into the
// proxy's, config first. A stored key whose name or secret a config key
// has is left out: the file's key wins (the admin API refuses such a
// name, but a file edited since may take it).
func clientKeysOf(cfg []config.ClientKey, stored []sluice.StoredKey) (keys []proxy.ClientKey, shadowed []string) {
	names, hashes := map[string]bool{}, map[string]bool{}
	for _, k := range cfg {
		h := k.Hash()
		keys = append(keys, proxy.ClientKey{Name: k.Name, Hash: h, Models: k.Models, RateLimit: k.RateLimit, Burst: k.Burst, TokensPerMinute: int64(k.TokensPerMinute),
			TokenBudget: int64(k.TokenBudget), BudgetPeriod: k.BudgetPeriod, ForceVersion: k.ForceVersion})
		names[k.Name], hashes[h] = true, true
	}
	for _, k := range stored {
		if k.IsRevoked() {
			continue
		}
		if names[k.Name] || hashes[k.Hash] {
			shadowed = append(shadowed, k.Name)
			continue
		}
		var retired []proxy.RetiredSecret
		for _, r := range k.Retired {
			if !hashes[r.Hash] {
				retired = append(retired, proxy.RetiredSecret{Hash: r.Hash, Until: r.Until})
			}
		}
		keys = append(keys, proxy.ClientKey{Name: k.Name, Hash: k.Hash, Models: k.Models, RateLimit: k.RateLimit, Burst: k.Burst, TokensPerMinute: k.TokensPerMinute,
			TokenBudget: k.TokenBudget, BudgetPeriod: k.BudgetPeriod, ForceVersion: k.ForceVersion, ExpiresAt: k.ExpiresAt,
			Created: k.CreatedAt, LastUsedAt: k.LastUsedAt, Retired: retired})
	}
	return keys, shadowed
}

// revokedOf returns the revoked keys' secrets, by hex hash, with their
// names: the store's tombstones (stored) and those this process saw go
// (seen).
func revokedOf(stored []sluice.StoredKey, seen map[string]string) map[string]string {
	out := make(map[string]string, len(seen))
	for h, name := range seen {
		out[h] = name
	}
	for _, k := range stored {
		if !k.IsRevoked() {
			continue
		}
		out[k.Hash] = k.Name
		for _, r := range k.Retired {
			out[r.Hash] = k.Name
		}
	}
	return out
}

// sameKeys reports whether two reads of the store's keys put the same keys
// in force: a key's last use, which the replicas write without telling
// each other, does not count.
func sameKeys(a, b []sluice.StoredKey) bool {
	return slices.EqualFunc(a, b, func(x, y sluice.StoredKey) bool {
		x.LastUsedAt, y.LastUsedAt = time.Time{}, time.Time{}
		return reflect.DeepEqual(x, y)
	})
}

// touchKey writes a stored key's last use to the store in the background
// (proxy.KeySet.SetTouch): the request that used it does not wait, and a
// write that fails is tried again at the key's next use a minute later.
func (s *Server) touchKey(name string, created, at time.Time) {
	s.stored.touches.Add(1)
	go func() {
		defer s.stored.touches.Done()
		ctx, cancel := context.WithTimeout(context.Background(), refreshKeysTimeout)
		defer cancel()
		if err := s.Store.TouchClientKey(ctx, name, created, at); err != nil {
			s.storeWrites.failed(whatKeyUse)()
			s.logger.Warn("cannot write a client key's last use to the store; tried again at its next use a minute later", "key", name, "err", err)
		}
	}()
}

// WaitKeyTouches waits for the writes of client keys' last use under way.
func (s *Server) WaitKeyTouches() { s.stored.touches.Wait() }

// ReloadStoredKeys reads the client keys issued through the admin API from
// the store and puts them in force with the config file's: a new key is
// accepted from the next request, a revoked one refused (401 saying it was
// revoked), and a key kept keeps its rate-limit buckets. It does nothing
// on a gateway that requires no keys. On an error the keys in force stay.
// Reloads run one at a time, so the last to read is the last put in force.
func (s *Server) ReloadStoredKeys(ctx context.Context) error {
	if !s.keyed() {
		return nil
	}
	// One at a time, each read bounded, so that none waits long.
	select {
	case s.stored.reloading <- struct{}{}:
	case <-ctx.Done():
		return sluice.Errorf(sluice.CodeUnavailable, "cannot read the client keys from the store: %v while another read of them ran: check the store; the keys read before stay in force", ctx.Err())
	}
	defer func() { <-s.stored.reloading }()
	rctx, cancel := context.WithTimeout(ctx, refreshKeysTimeout)
	stored, err := s.Store.ClientKeys(rctx)
	cancel()
	if err != nil {
		return sluice.Errorf(sluice.CodeUnavailable, "cannot read the client keys from the store: %v: check the store; the keys read before stay in force", err)
	}
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	if sameKeys(stored, s.stored.list) {
		return nil
	}
	// Every secret the store still knows of: a key's, one a rotation
	// retired, a revoked one's. A secret gone from all of them (a delete
	// by an older replica, or a tombstone pruned) is remembered here.
	now := make(map[string]bool, len(stored))
	for _, k := range stored {
		now[k.Hash] = true
		for _, r := range k.Retired {
			now[r.Hash] = true
		}
	}
	if s.stored.revoked == nil {
		s.stored.revoked = map[string]string{}
	}
	for _, k := range s.stored.list {
		if !now[k.Hash] && !k.IsRevoked() && len(s.stored.revoked) < maxRevoked {
			s.stored.revoked[k.Hash] = k.Name
		}
	}
	for h := range now {
		delete(s.stored.revoked, h)
	}
	ks, err := s.buildKeySet(s.keysCfg, stored)
	if err != nil {
		return err
	}
	ks.Carry(s.ClientKeys())
	s.keys.Store(ks)
	s.stored.list = slices.Clone(stored)
	s.kickBudgets()
	s.logger.Info("client keys read from the store", "stored", len(stored), "keys", ks.Len())
	return nil
}

// keyMiss reads the store's keys again for a secret the data plane does
// not hold, unless a read started within keyMissEvery (then nil: the
// secret is not known), and returns the keys in force after it. A read
// that started after the secret arrived serves it; reads run one at a time.
func (s *Server) keyMiss(ctx context.Context) (*proxy.KeySet, error) {
	arrived := time.Now()
	timer := time.NewTimer(keyMissWait)
	defer timer.Stop()
	sk := &s.stored
	for {
		sk.missMu.Lock()
		ch, start := sk.missCh, sk.missStart
		switch {
		case ch != nil:
			// A read under way: wait for it.
		case !start.Before(arrived):
			// A read that started after this secret arrived has ended.
			err := sk.missErr
			sk.missMu.Unlock()
			if err != nil {
				return nil, errKeysUnreadable
			}
			return s.ClientKeys(), nil
		case time.Since(start) < keyMissEvery:
			sk.missMu.Unlock()
			return nil, nil
		default:
			ch = make(chan struct{})
			sk.missCh, sk.missStart = ch, time.Now()
			go func() {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshKeysTimeout)
				defer cancel()
				err := s.ReloadStoredKeys(rctx)
				sk.missMu.Lock()
				sk.missCh, sk.missErr = nil, err
				sk.missMu.Unlock()
				close(ch)
			}()
		}
		sk.missMu.Unlock()
		select {
		case <-ch:
		case <-timer.C:
			return nil, errKeysUnreadable
		case <-ctx.Done():
			return nil, nil
		}
	}
}

// errKeysUnreadable is the data plane's answer to a secret it does not
// hold while the store's client keys (sluice key create) cannot be read:
// it may be a key issued through another replica a moment ago. It names
// neither the secret nor the store's error (the log has that).
var errKeysUnreadable = sluice.Errorf(sluice.CodeUnavailable, "cannot check the API key: it is not one of the client keys this gateway holds, and the client keys issued through the admin API cannot be read from the store right now (it may be one issued a moment ago); retry shortly (the gateway's /readyz and log say why)")

// refreshKeysTimeout bounds one read of the store's keys for a miss.
const refreshKeysTimeout = 5 * time.Second

// ConfigKeys returns the config file's client keys in force as the admin
// API lists them (names and settings, never a secret; the hash, which the
// API never writes out, for it to mark the stored keys these shadow), and
// whether the data plane requires keys.
func (s *Server) ConfigKeys() ([]sluice.StoredKey, bool) {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	out := make([]sluice.StoredKey, 0, len(s.keysCfg))
	for _, k := range s.keysCfg {
		out = append(out, sluice.StoredKey{Name: k.Name, Hash: k.Hash(), Models: k.Models, RateLimit: k.RateLimit, Burst: k.Burst, TokensPerMinute: int64(k.TokensPerMinute),
			TokenBudget: int64(k.TokenBudget), BudgetPeriod: k.BudgetPeriod, ForceVersion: k.ForceVersion})
	}
	return out, s.keyed()
}
