package postgres

import (
	"flag"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/storetest"
)

var update = flag.Bool("update", false, "record the stored documents' fields again in testdata (after a migration)")

// TestRolloutDoc_FieldsTakeAMigration: a field added to the stored rollout
// document (or removed from it) takes a migration, which makes an older
// sluice refuse the store rather than drop the field on rewrite. A pending
// rollback's pause_close went in without one.
func TestRolloutDoc_FieldsTakeAMigration(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	storetest.DocShape(t, "testdata/rollout_doc.golden", ms[len(ms)-1].version, *update, sluice.Rollout{})
}
