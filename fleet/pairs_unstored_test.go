package fleet_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fleet"
)

// gatedPairStore holds each write until its outcome is sent on result.
type gatedPairStore struct {
	entered chan struct{}
	result  chan error
	mu      sync.Mutex
	seqs    []int64
}

func (s *gatedPairStore) PutShadowPairs(_ context.Context, pairs []sluice.ShadowPair, _ int) error {
	s.entered <- struct{}{}
	if err := <-s.result; err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range pairs {
		s.seqs = append(s.seqs, p.Seq)
	}
	return nil
}

func (s *gatedPairStore) ShadowPairs(context.Context, sluice.ShadowPairQuery) ([]sluice.ShadowPair, bool, error) {
	return nil, false, nil
}

// TestPairs_UnstoredCountsOnlyPairsNeverWritten: while a slow write is in
// flight, more than Kept pairs arrive and Add drops the oldest waiting,
// which are in that write. sluice_shadow_pairs_unstored_total counts them
// only if that write fails: when it succeeds they are stored. Before, they
// were counted at the drop, so a slow store showed pairs "dropped
// unwritten" that the pairs list holds.
func TestPairs_UnstoredCountsOnlyPairsNeverWritten(t *testing.T) {
	for _, tc := range []struct {
		name         string
		write        error
		wantUnstored float64
		wantStored   []int64
	}{
		{"WriteSucceeds", nil, 0, []int64{1, 2, 3, 4, 5}},
		{"WriteFails", errors.New("connection reset"), 2, []int64{3, 4, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &gatedPairStore{entered: make(chan struct{}), result: make(chan error)}
			ps := fleet.NewPairs(fleet.PairsOptions{Store: st, Replica: "r", Kept: 3})
			reg := prometheus.NewRegistry()
			reg.MustRegister(ps)
			for i := 1; i <= 3; i++ {
				ps.Add(pair("chat", i))
			}
			done := make(chan error, 1)
			go func() { done <- ps.Flush(context.Background()) }()
			<-st.entered // 1, 2 and 3 are being written
			ps.Add(pair("chat", 4))
			ps.Add(pair("chat", 5)) // over Kept: 1 and 2 dropped from the queue
			st.result <- tc.write
			if tc.write == nil {
				<-st.entered // 4 and 5 (3 was written)
				st.result <- nil
			}
			<-done
			if tc.write != nil {
				// The store is back: the next flush writes what waits.
				go func() { done <- ps.Flush(context.Background()) }()
				<-st.entered
				st.result <- nil
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}
			st.mu.Lock()
			seqs := slices.Clone(st.seqs)
			st.mu.Unlock()
			if !slices.Equal(seqs, tc.wantStored) {
				t.Errorf("stored %v, want %v", seqs, tc.wantStored)
			}
			if got := metric(t, reg, "sluice_shadow_pairs_unstored_total", ""); got != tc.wantUnstored {
				t.Errorf("sluice_shadow_pairs_unstored_total = %v, want %v (stored %v)", got, tc.wantUnstored, seqs)
			}
		})
	}
}
