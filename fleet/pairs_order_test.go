package fleet_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fleet"
)

// countingPairStore records the pairs written to it; after limit writes it
// refuses, so that a Flush that writes forever ends.
type countingPairStore struct {
	mu     sync.Mutex
	writes int
	limit  int
	seqs   []int64
}

func (s *countingPairStore) PutShadowPairs(_ context.Context, pairs []sluice.ShadowPair, _ int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.writes > s.limit {
		return errors.New("too many writes")
	}
	for _, p := range pairs {
		s.seqs = append(s.seqs, p.Seq)
	}
	return nil
}

func (s *countingPairStore) ShadowPairs(context.Context, sluice.ShadowPairQuery) ([]sluice.ShadowPair, bool, error) {
	return nil, false, nil
}

// TestPairs_FlushOutOfOrder: the proxy numbers a pair under its ring's lock
// and hands it to Add after, from one of several shadow workers, so pairs
// can arrive out of their Seq order. A flush writes them once and empties
// the queue; it took off only a prefix up to the batch's last Seq, so with
// pair 2 added before pair 1 it removed nothing and wrote the same batch
// again, in a loop, without end.
func TestPairs_FlushOutOfOrder(t *testing.T) {
	st := &countingPairStore{limit: 5}
	ps := fleet.NewPairs(fleet.PairsOptions{Store: st, Replica: "r"})
	ps.Add(pair("chat", 2))
	ps.Add(pair("chat", 1))
	if err := ps.Flush(t.Context()); err != nil {
		t.Fatalf("Flush: %v (after %d writes)", err, st.writes)
	}
	if n := ps.Pending(); n != 0 || st.writes != 1 || len(st.seqs) != 2 {
		t.Fatalf("after a flush: %d pending, %d writes of seqs %v; want none pending, one write of the two", n, st.writes, st.seqs)
	}
	// Out of order inside a batch with more after it: each written once.
	ps.Add(pair("chat", 4))
	ps.Add(pair("chat", 3))
	ps.Add(pair("chat", 5))
	if err := ps.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := ps.Pending(); n != 0 || len(st.seqs) != 5 {
		t.Fatalf("after the second flush: %d pending, seqs written %v; want all five written once", n, st.seqs)
	}
}

// TestPairs_FlushWritesInMadeOrder: the store numbers pairs fleet-wide in
// the order a flush gives them, and the pairs list shows them newest first
// by that number. Pairs added out of their Seq order (several shadow
// workers) are written in their Seq order, the order they were made, so a
// pair made later is never listed as older.
func TestPairs_FlushWritesInMadeOrder(t *testing.T) {
	st := &countingPairStore{limit: 5}
	ps := fleet.NewPairs(fleet.PairsOptions{Store: st, Replica: "r"})
	for _, seq := range []int{3, 1, 4, 2} {
		ps.Add(pair("chat", seq))
	}
	if err := ps.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if want := []int64{1, 2, 3, 4}; !slices.Equal(st.seqs, want) {
		t.Errorf("written in the order %v, want %v (their Seq)", st.seqs, want)
	}
}
