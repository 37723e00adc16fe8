package control

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
)

// Service holds the current registry and serialises changes to it.
type Service struct {
	store sluice.Store
	now   func() time.Time

	mu   sync.Mutex // serialises edits made through this process
	reg  atomic.Pointer[sluice.Registry]
	subs []func(*sluice.Registry)
	// writeFailed, if set, is called when a commit fails for the store
	// (SetWriteFailed).
	writeFailed func()
}

// SetWriteFailed has fn called after each commit that the store failed to
// write (unreachable, disk full: not a conflict with another writer, nor a
// change the store refused), for the gateway's
// sluice_store_write_errors_total. Call it before the service is used.
func (s *Service) SetWriteFailed(fn func()) { s.writeFailed = fn }

// storeFailed reports whether a commit's error is the store's failure
// rather than its answer about the change.
func storeFailed(err error) bool {
	switch sluice.ErrorCode(err) {
	case sluice.CodeConflict, sluice.CodeInvalid, sluice.CodeBadRequest, sluice.CodeNotFound, sluice.CodeGone:
		return false
	}
	return true
}

// Result is what a committed edit did.
type Result struct {
	// Revision is the registry revision after the edit.
	Revision int64 `json:"revision"`
	// Changed is false when the edit was a no-op (re-applying the same
	// content).
	Changed bool `json:"changed"`
	// Audit holds the audit entries written.
	Audit []sluice.AuditEntry `json:"audit,omitempty"`
}

// New loads the registry from store. now is the clock; nil means time.Now.
func New(ctx context.Context, store sluice.Store, now func() time.Time) (*Service, error) {
	if now == nil {
		now = time.Now
	}
	s := &Service{store: store, now: now}
	reg, err := store.LoadRegistry(ctx)
	if err != nil {
		return nil, fmt.Errorf("load registry: %w", err)
	}
	s.reg.Store(reg)
	return s, nil
}

// Store returns the store the service writes to.
func (s *Service) Store() sluice.Store { return s.store }

// Now returns the service clock's time.
func (s *Service) Now() time.Time { return s.now() }

// Registry returns the current registry. Callers must not modify it.
func (s *Service) Registry() *sluice.Registry { return s.reg.Load() }

// Subscribe calls fn with the current registry now and with every new one
// after a commit or reload. fn runs on the committing goroutine and must be
// quick.
func (s *Service) Subscribe(fn func(*sluice.Registry)) {
	s.mu.Lock()
	s.subs = append(s.subs, fn)
	reg := s.reg.Load()
	s.mu.Unlock()
	fn(reg)
}

// Do runs fn on an edit of the current registry and commits the result as
// one transaction. When another writer (another replica) committed first,
// Do reloads and runs fn again, up to three times, so fn must only describe
// the change. A no-op edit writes nothing and returns Changed false.
func (s *Service) Do(ctx context.Context, actor, reason string, fn func(e *sluice.Edit) error) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		base := s.reg.Load()
		e := base.Edit(actor, reason, s.now())
		err := fn(e)
		var ch sluice.Change
		if err == nil {
			ch, err = e.Finish()
		}
		if err != nil {
			// A refusal may come from a registry another replica has
			// already changed, its notice not yet here: a resume sent
			// right after a pause through another replica was refused
			// as "progressing: cannot resume". Judge it again on the
			// store's registry; a refusal on the current one stands.
			if attempt == 2 || !refusal(err) {
				return Result{}, err
			}
			newer := newerRegistry(ctx, s.store, base.Revision)
			if newer == nil {
				return Result{}, err
			}
			s.publishLocked(newer)
			continue
		}
		if ch.Empty() && len(ch.Audit) == 0 {
			return Result{Revision: base.Revision}, nil
		}
		// The change (its audit, the models it writes, the versions it
		// registers) is dated inside the transaction, just before its
		// COMMIT (Change.Stamp), by this clock, which also dates the
		// request log: not when the edit was prepared, before a wait for
		// the store's lock. To the microsecond, the finest time PostgreSQL
		// keeps: the registry published here, and the audit returned, must
		// equal what other replicas (and this one after a restart) read
		// back from the store.
		var stamped time.Time
		ch.Stamp = func() time.Time { stamped = s.now().UTC().Truncate(time.Microsecond); return stamped }
		rev, err := s.store.Commit(ctx, ch)
		if err == nil {
			for i := range ch.Audit {
				if !stamped.IsZero() {
					ch.Audit[i].At = stamped
				}
			}
			next := e.Registry()
			next.Revision = rev
			ch.StampRegistry(next, stamped) // as the store holds it
			s.publishLocked(next)
			return Result{Revision: rev, Changed: !ch.Empty(), Audit: ch.Audit}, nil
		}
		if sluice.ErrorCode(err) != sluice.CodeConflict {
			// A caller that gave up (an admin client gone, the
			// controller's tick at shutdown) says nothing of the store;
			// a deadline that ran out on a store that did not answer
			// does.
			if s.writeFailed != nil && storeFailed(err) && !errors.Is(ctx.Err(), context.Canceled) {
				s.writeFailed()
			}
			return Result{}, err
		}
		newer := newerRegistry(ctx, s.store, base.Revision)
		if newer == nil {
			return Result{}, err
		}
		lastErr = err
		s.publishLocked(newer)
	}
	return Result{}, fmt.Errorf("the registry kept changing under this edit; try again: %w", lastErr)
}

// refusal reports whether err is an edit's refusal of what it was asked
// (a conflict, an invalid or unknown name), which a newer registry may
// answer otherwise, rather than a failure to reach the store.
func refusal(err error) bool {
	switch sluice.ErrorCode(err) {
	case sluice.CodeConflict, sluice.CodeInvalid, sluice.CodeNotFound:
		return true
	}
	return false
}

// newerRegistry returns the store's registry when it has moved past
// base, which makes a refusal or a conflict worth judging again on it (a
// conflict on a still-current base is a real clash, such as a version that
// already exists), and nil otherwise, or when the store cannot be read:
// then the first answer stands. The registry read is the one published, so
// a refused edit costs the store one read, not two.
func newerRegistry(ctx context.Context, st sluice.Store, base int64) *sluice.Registry {
	reg, err := st.LoadRegistry(ctx)
	if err != nil || reg.Revision == base {
		return nil
	}
	return reg
}

// Reload re-reads the registry from the store and publishes it if its
// revision differs from the one held (another replica changed it, or a
// SIGHUP asked for it).
func (s *Service) Reload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reloadLocked(ctx)
}

func (s *Service) reloadLocked(ctx context.Context) error {
	reg, err := s.store.LoadRegistry(ctx)
	if err != nil {
		return fmt.Errorf("reload registry: %w", err)
	}
	if cur := s.reg.Load(); cur != nil && cur.Revision == reg.Revision {
		return nil
	}
	s.publishLocked(reg)
	return nil
}

func (s *Service) publishLocked(reg *sluice.Registry) {
	s.reg.Store(reg)
	for _, fn := range s.subs {
		fn(reg)
	}
}

// Republish hands the current registry to the subscribers again, for when
// something outside the registry that they depend on changed (backend
// health).
func (s *Service) Republish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.publishLocked(s.reg.Load())
}
