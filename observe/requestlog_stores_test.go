package observe_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/sqlite"
)

// A row with a NUL or invalid UTF-8 in a text field (a backend's
// finish_reason reached the log as sent before the proxy cleaned it) does
// not cost the rows logged with it, on either store. PostgreSQL refused
// the whole COPY (SQLSTATE 22021); the RequestLog retried the batch for
// about 40 s, writing nothing else, then dropped it: up to 512 requests
// served normally were missing from GET /admin/v1/requests and audit --at.
func TestRequestLog_OddTextKeepsBatch(t *testing.T) {
	now := time.Now().UTC()
	rows := []sluice.Observation{
		{RequestID: "req_0123456789ab_1", At: now, Model: "chat", Version: "v1", Status: 200, FinishReason: "stop"},
		{RequestID: "req_0123456789ab_2", At: now, Model: "chat", Version: "v1", Status: 200, FinishReason: "stop"},
		// A backend that answered {"finish_reason": "\u0000"}.
		{RequestID: "req_0123456789ab_3", At: now, Model: "chat", Version: "v1", Status: 200, FinishReason: "\x00"},
		{RequestID: "req_0123456789ab_4", At: now, Model: "chat", Version: "v1", Status: 200, FinishReason: "stop"},
	}
	lite, err := sqlite.Open(filepath.Join(t.TempDir(), "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	pg, err := postgres.Open(t.Context(), pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()

	for _, st := range []struct {
		name  string
		store sluice.Store
	}{{"sqlite", lite}, {"postgres", pg}} {
		opt := quiet()
		opt.Retention = -1
		opt.MaxRetries = 2
		l := observe.NewRequestLog(st.store, opt)
		for _, o := range rows {
			l.Enqueue(o)
		}
		if err := l.Close(t.Context()); err != nil {
			t.Fatalf("%s: Close: %v", st.name, err)
		}
		for _, o := range rows {
			if o.FinishReason != "stop" {
				continue // the odd row itself: its loss is arguable
			}
			got, err := st.store.Requests(t.Context(), sluice.RequestQuery{RequestID: o.RequestID})
			if err != nil {
				t.Fatalf("%s: Requests: %v", st.name, err)
			}
			if len(got) != 1 {
				t.Errorf("%s: request %s, served normally, is not in the request log (%d rows found; log dropped %d rows)",
					st.name, o.RequestID, len(got), l.Dropped())
			}
		}
	}
}

// The request log retries a batch whose write failed. When the failure was
// a connection lost after PostgreSQL had committed (the acknowledgement
// never arrived), the retry used to write every row of the batch a second
// time: requests counted twice in GET /admin/v1/requests and audit --at.
func TestRequestLog_LostCommitAckWrittenOnce(t *testing.T) {
	dsn := pgtest.Schema(t)
	p := pgtest.NewProxy(t, dsn)
	pg, err := postgres.Open(t.Context(), p.DSN(dsn))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	opt := quiet()
	opt.Retention = -1
	l := observe.NewRequestLog(pg, opt)
	now := time.Now().UTC()
	p.LoseNextCommitAck()
	for i := range 100 {
		o := row(i)
		o.At = now
		l.Enqueue(o)
	}
	if err := l.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	got, err := pg.Requests(t.Context(), sluice.RequestQuery{Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 100 || l.Written() != 100 || l.Dropped() != 0 {
		t.Errorf("100 requests logged through a lost COMMIT acknowledgement: %d rows in the store, %d written, %d dropped; want 100, 100, 0",
			len(got), l.Written(), l.Dropped())
	}
}
