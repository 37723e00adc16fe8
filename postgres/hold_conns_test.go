package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// holdServer is a store on a fresh schema whose connections the server
// can tell apart (an application_name of its own), and a way to ask the
// server which of them are open.
type holdServer struct {
	t   *testing.T
	dsn string // the store's, application_name set
	app string
	adm *pgx.Conn
}

func newHoldServer(t *testing.T) *holdServer {
	t.Helper()
	dsn := pgtest.Schema(t)
	var b [4]byte
	rand.Read(b[:])
	app := "sluice_hold_test_" + hex.EncodeToString(b[:])
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	adm, err := pgx.Connect(t.Context(), pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { adm.Close(context.Background()) })
	return &holdServer{t: t, dsn: u.String(), app: app, adm: adm}
}

// open opens a store whose pool has at most one connection.
func (h *holdServer) open() *postgres.Store {
	h.t.Helper()
	st, err := postgres.OpenOptions(h.t.Context(), h.dsn, postgres.Options{MaxConns: 1})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { st.Close() })
	return st
}

// sessions returns the process ids of the server's sessions opened by the
// stores of h, in order.
func (h *holdServer) sessions() []int {
	h.t.Helper()
	rows, err := h.adm.Query(h.t.Context(), "SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid", h.app)
	if err != nil {
		h.t.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		h.t.Fatal(err)
	}
	return pids
}

// TestStore_HoldsShareOneConnection: each fire drill held its lock on a
// server connection of its own, with no cap: drills of many models at
// once through one replica took as many of the server's connections,
// which it needs for every replica's pool, and a server out of them
// refused the replicas' other work too. A store now holds all its locks on
// one connection: however many are held, it has one more session than its
// pool's.
func TestStore_HoldsShareOneConnection(t *testing.T) {
	h := newHoldServer(t)
	st := h.open()
	pool := h.sessions()
	const n = 8
	releases := make([]func(), n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			release, held, err := st.TryHold(t.Context(), fmt.Sprintf("drill:m%d", i))
			if err != nil || !held {
				t.Errorf("hold drill:m%d: held %v, %v", i, held, err)
				return
			}
			releases[i] = release
		})
	}
	wg.Wait()
	if got := h.sessions(); len(got) > len(pool)+1 {
		t.Errorf("%d locks held: the store has %d sessions on the server, its pool %d; want at most one more for all the locks", n, len(got), len(pool))
	}
	// Each is held fleet-wide, and one is free again once released.
	other := h.open()
	for i := range n {
		if _, held, err := other.TryHold(t.Context(), fmt.Sprintf("drill:m%d", i)); err != nil || held {
			t.Errorf("another replica took drill:m%d while it is held: held %v, %v", i, held, err)
		}
	}
	// And once only through this store: a second hold of a name it holds
	// is refused, as through another replica.
	if _, held, err := st.TryHold(t.Context(), "drill:m0"); err != nil || held {
		t.Errorf("the store took drill:m0 twice: held %v, %v", held, err)
	}
	for i, r := range releases {
		if r != nil {
			r()
			r() // twice is once
		}
		r, held, err := other.TryHold(t.Context(), fmt.Sprintf("drill:m%d", i))
		if err != nil || !held {
			t.Errorf("drill:m%d after its release: held %v, %v", i, held, err)
			continue
		}
		r()
	}
}

// TestStore_HoldRetriesReuseTheConnection: a drill at the moment a start
// commits through another replica waits it out, trying the lock up to 20
// times; each try opened a server connection and closed it. The tries now
// reuse the store's one connection for its locks.
func TestStore_HoldRetriesReuseTheConnection(t *testing.T) {
	h := newHoldServer(t)
	holder := h.open()
	release, held, err := holder.TryHold(t.Context(), "drill:chat")
	if err != nil || !held {
		t.Fatalf("the other replica's hold: %v %v", held, err)
	}
	defer release()
	before := h.sessions()
	st := h.open()
	pool := h.sessions()
	var kept []int
	for try := range 20 {
		if _, held, err := st.TryHold(t.Context(), "drill:chat"); err != nil || held {
			t.Fatalf("try %d while another replica holds it: held %v, %v", try+1, held, err)
		}
		var hold []int
		for _, pid := range h.sessions() {
			if !slices.Contains(pool, pid) && !slices.Contains(before, pid) {
				hold = append(hold, pid)
			}
		}
		if len(hold) != 1 {
			t.Fatalf("after try %d the store has %d sessions besides its pool's (%v), want the one it keeps for its locks", try+1, len(hold), hold)
		}
		if kept == nil {
			kept = hold
		} else if !slices.Equal(kept, hold) {
			t.Fatalf("try %d ran on session %v, the earlier ones on %v: want one connection for every try", try+1, hold, kept)
		}
	}
}

// TestStore_CloseEndsHolds: Store.Close closed the pool only; a drill's
// lock connection stayed open, and the lock held, until the drill
// released it, or for ever if it did not run to its end. Close now closes
// the store's lock connection too, which frees its locks on the server.
func TestStore_CloseEndsHolds(t *testing.T) {
	h := newHoldServer(t)
	st := h.open()
	// The drills still run: their releases are kept, to be called after
	// the Close (harmlessly).
	var releases []func()
	defer func() {
		for _, r := range releases {
			r()
		}
	}()
	for _, name := range []string{"drill:chat", "drill:embed"} {
		release, held, err := st.TryHold(t.Context(), name)
		if err != nil || !held {
			t.Fatalf("hold %s: held %v, %v", name, held, err)
		}
		releases = append(releases, release)
	}
	st.Close()
	other, err := postgres.Open(t.Context(), pgtest.WithSearchPath(pgtest.DSN(t), st.Schema()))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	// The server ends a closed session's backend, and frees its locks, a
	// moment after the close.
	deadline := time.Now().Add(10 * time.Second)
	for left := h.sessions(); len(left) > 0; left = h.sessions() {
		if time.Now().After(deadline) {
			t.Fatalf("after Close the store still has %d sessions on the server (%v)", len(left), left)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, name := range []string{"drill:chat", "drill:embed"} {
		r, held, err := other.TryHold(t.Context(), name)
		if err != nil || !held {
			t.Errorf("%s after the store holding it was closed: held %v, %v", name, held, err)
			continue
		}
		r()
	}
	if _, _, err := st.TryHold(t.Context(), "drill:chat"); err == nil {
		t.Errorf("a hold through a closed store did not fail")
	}
}

// TestStore_HoldReconnects: the store's lock connection is kept between
// holds; when the server ends it meanwhile (a restart, an administrator,
// a network fault), the next hold opens another rather than failing.
func TestStore_HoldReconnects(t *testing.T) {
	h := newHoldServer(t)
	st := h.open()
	pool := h.sessions()
	release, held, err := st.TryHold(t.Context(), "drill:chat")
	if err != nil || !held {
		t.Fatalf("hold: %v %v", held, err)
	}
	release()
	var hold []int
	for _, pid := range h.sessions() {
		if !slices.Contains(pool, pid) {
			hold = append(hold, pid)
		}
	}
	if len(hold) != 1 {
		t.Fatalf("after a release the store has sessions %v besides its pool's %v, want its lock connection kept", hold, pool)
	}
	if _, err := h.adm.Exec(t.Context(), "SELECT pg_terminate_backend($1)", hold[0]); err != nil {
		t.Fatal(err)
	}
	release, held, err = st.TryHold(t.Context(), "drill:chat")
	if err != nil || !held {
		t.Fatalf("hold after the server ended the lock connection: held %v, %v", held, err)
	}
	release()
}
