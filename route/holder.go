package route

import "sync/atomic"

// Holder publishes the current Table to the request path. The control plane
// Stores a new Table whenever routing or health changes; requests Load
// whichever Table is current without taking a lock. The zero Holder holds
// no Table.
type Holder struct {
	p atomic.Pointer[Table]
}

// NewHolder returns a Holder holding t.
func NewHolder(t *Table) *Holder {
	h := &Holder{}
	h.p.Store(t)
	return h
}

// Load returns the current Table, or nil before the first Store.
func (h *Holder) Load() *Table { return h.p.Load() }

// Store makes t the current Table. Requests that already loaded the previous
// Table finish with it.
func (h *Holder) Store(t *Table) { h.p.Store(t) }

// Decide decides r with the current Table; see Table.Decide.
func (h *Holder) Decide(r *Request) (Decision, error) { return h.p.Load().Decide(r) }
