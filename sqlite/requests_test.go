package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestStore_AppendRequests checks the segment writer: a call of more rows
// than one segment holds (two full segments and a partial one) writes every
// row with every field, a row without a time gets the store's clock, and a
// call whose context has ended writes nothing.
func TestStore_AppendRequests(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		s := MustOpen(t, filepath.Join(t.TempDir(), "sluice.db"))
		base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
		rows := benchRows(1100, base)
		rows[1099].At = time.Time{} // stamped by the store
		rows[3].ErrorClass, rows[3].Refusal, rows[3].Retried, rows[3].Stream = "upstream_5xx", true, true, false
		rows[3].StickyHash = 1 << 63
		if err := s.AppendRequests(t.Context(), rows); err != nil {
			t.Fatalf("AppendRequests: %v", err)
		}
		got, err := s.Requests(t.Context(), sluice.RequestQuery{Limit: 5000})
		if err != nil {
			t.Fatalf("Requests: %v", err)
		}
		if len(got) != len(rows) {
			t.Fatalf("Requests returned %d rows, want %d", len(got), len(rows))
		}
		byID := map[string]sluice.Observation{}
		for _, o := range got {
			byID[o.RequestID] = o
		}
		for i, want := range rows {
			o, ok := byID[want.RequestID]
			if !ok {
				t.Fatalf("row %d (%s) missing", i, want.RequestID)
			}
			if i == 1099 {
				if o.At.IsZero() || time.Since(o.At) > time.Minute {
					t.Errorf("row without a time: At = %v, want the store's clock", o.At)
				}
				want.At = o.At
			}
			if !o.At.Equal(want.At) {
				t.Errorf("row %d At = %v, want %v", i, o.At, want.At)
			}
			o.At, want.At = time.Time{}, time.Time{}
			if o != want {
				t.Errorf("row %d = %+v\nwant %+v", i, o, want)
			}
		}
	})
	t.Run("ErrCanceled", func(t *testing.T) {
		s := MustOpen(t, filepath.Join(t.TempDir(), "sluice.db"))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := s.AppendRequests(ctx, benchRows(100, time.Now())); err == nil {
			t.Fatal("AppendRequests with an ended context succeeded")
		}
		got, err := s.Requests(t.Context(), sluice.RequestQuery{Limit: 5000})
		if err != nil || len(got) != 0 {
			t.Fatalf("after a canceled append: %d rows, %v; want none", len(got), err)
		}
	})
}
