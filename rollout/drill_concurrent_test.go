package rollout_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/rollout"
	"github.com/sluicehq/sluice/sqlite"
)

// TestController_DrillsAtOnceOnSQLite: on the embedded store a drill
// takes no fleet-wide lock (Options.Hold nil), so the PostgreSQL pool's
// stall (TestController_DrillsShareASmallPool) has no counterpart; drills
// of several models at once, all holding their canaries together, still
// each run to the end and restore their routing.
func TestController_DrillsAtOnceOnSQLite(t *testing.T) {
	const n = 4
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctl, err := control.New(t.Context(), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	var models []string
	for i := range n {
		models = append(models, fmt.Sprintf("m%d", i))
	}
	setupModels(t, ctl, models...)
	c := rollout.New(rollout.Options{Control: ctl, Windows: busyWindows{}, Warmer: readyWarmer{}})
	t.Cleanup(c.Wait)
	drillAtOnce(t, c, ctl, models, " on SQLite")
}
