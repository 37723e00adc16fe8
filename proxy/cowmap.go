package proxy

import (
	"maps"
	"sync"
	"sync/atomic"
)

// cowMap maps keys to values made on first use, for counters read on the
// request path: a read is one atomic load and a map lookup, with no lock;
// a new key copies the map under mu. Keys are few and long-lived (versions;
// client keys by model and status), so the copies are rare.
type cowMap[K comparable, V any] struct {
	m  atomic.Pointer[map[K]*V]
	mu sync.Mutex
}

// lookup returns k's value, nil when k has none yet.
func (c *cowMap[K, V]) lookup(k K) *V {
	if m := c.m.Load(); m != nil {
		return (*m)[k]
	}
	return nil
}

// get returns k's value, making it on first use.
func (c *cowMap[K, V]) get(k K) *V {
	if v := c.lookup(k); v != nil {
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

// all returns the map as it is now, nil when empty; it is never changed
// after, so it may be read without a lock, but not written.
func (c *cowMap[K, V]) all() map[K]*V {
	if m := c.m.Load(); m != nil {
		return *m
	}
	return nil
}
