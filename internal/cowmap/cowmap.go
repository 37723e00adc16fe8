// Package cowmap is a map of values made on first use, read without a lock:
// the counters the request path keeps per version, per client key and per
// endpoint.
package cowmap

import (
	"maps"
	"sync"
	"sync/atomic"
)

// Map maps keys to values made on first use, for counters read on the
// request path: a read is one atomic load and a map lookup, with no lock;
// a new key copies the map under mu. Keys are few and long-lived (versions;
// client keys by model and status; endpoints), so the copies are rare. The
// zero Map is empty and ready to use; a Map must not be copied after first
// use.
type Map[K comparable, V any] struct {
	m  atomic.Pointer[map[K]*V]
	mu sync.Mutex
}

// Lookup returns k's value, nil when k has none yet.
func (c *Map[K, V]) Lookup(k K) *V {
	if m := c.m.Load(); m != nil {
		return (*m)[k]
	}
	return nil
}

// Get returns k's value, making it on first use.
func (c *Map[K, V]) Get(k K) *V {
	if v := c.Lookup(k); v != nil {
		return v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var old map[K]*V
	if m := c.m.Load(); m != nil {
		old = *m
	}
	if v := old[k]; v != nil {
		return v
	}
	next := make(map[K]*V, len(old)+1)
	maps.Copy(next, old)
	v := new(V)
	next[k] = v
	c.m.Store(&next)
	return v
}

// All returns the map as it is now, nil when empty; it is never changed
// after, so it may be read without a lock, but not written.
func (c *Map[K, V]) All() map[K]*V {
	if m := c.m.Load(); m != nil {
		return *m
	}
	return nil
}

// Lock holds off every Get of a key not in the map until Unlock; Lookup,
// All and a Get of a key already there go on. A test uses it to catch a
// request just before its count exists.
func (c *Map[K, V]) Lock() { c.mu.Lock() }

// Unlock ends a Lock.
func (c *Map[K, V]) Unlock() { c.mu.Unlock() }
