package postgres_test

import (
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestRequestCategory_Cost: an empty answer to a category filter asks the
// store whether any row of the model has the category in the whole log
// (RequestCategory), and for a typo lists those it has. On 200,000 rows
// (a category on three in five) a category the log holds is found at its
// first row (an EXISTS, well under a millisecond), and a typo costs two
// reads of the model's rows (the EXISTS and the DISTINCT). No index serves
// them: one on (model, category), even partial, made a bulk insert of
// 300,000 such rows 2x slower (3.1-3.4 s to 6.8 s), a cost every row would
// pay for an error's words. The times are logged (go test -v); the answers
// are checked.
func TestRequestCategory_Cost(t *testing.T) {
	if testing.Short() {
		t.Skip("200,000 rows")
	}
	s, _ := storeWithRows(t, `INSERT INTO requests (request_id, at, model, version, category)
		SELECT 'req_' || g, now() - interval '4 hours' + g * interval '72 milliseconds',
			CASE WHEN g % 10 = 0 THEN 'embed' ELSE 'chat' END, 'v1',
			(ARRAY['', 'code', 'support', 'payments', ''])[g % 5 + 1]
		FROM generate_series(1, 200000) g`)
	for _, c := range []struct {
		category string
		found    bool
	}{{"code", true}, {"paymnts", false}} {
		var took []time.Duration
		for range 5 {
			start := time.Now()
			found, others, err := s.RequestCategory(t.Context(), "chat", c.category)
			took = append(took, time.Since(start))
			if err != nil || found != c.found || !found && !slices.Equal(others, []string{"code", "payments", "support"}) {
				t.Fatalf("RequestCategory(chat, %s) = %v, %q, %v; want found %v, else the three categories", c.category, found, others, err, c.found)
			}
		}
		slices.Sort(took)
		t.Logf("RequestCategory(chat, %s) on 200,000 rows: median %v (of %v)", c.category, took[2], took)
	}
}

// storeWithRows opens a store on a schema of its own whose request log
// holds the rows insert (SQL) adds, analyzed, and returns it with the
// schema's DSN; the store is closed when the test ends.
func storeWithRows(t *testing.T, insert string) (*postgres.Store, string) {
	t.Helper()
	dsn := pgtest.Schema(t)
	s, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	pgtest.Exec(t, dsn, insert+"; ANALYZE requests")
	return s, dsn
}
