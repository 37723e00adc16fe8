package rollout_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
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
	// Generous: the drills take milliseconds here; a stalled one fails at it.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var start, wg sync.WaitGroup
	start.Add(n)
	errs := make([]error, n)
	reps := make([]rollout.DrillReport, n)
	for i, m := range models {
		wg.Go(func() {
			reps[i], errs[i] = c.Drill(ctx, "op", "drill", m, "v2", 5, drillSender(ctl, &start))
		})
	}
	wg.Wait()
	for i, m := range models {
		if errs[i] != nil || !reps[i].OK {
			t.Errorf("drill of %s, one of %d at once: %v, steps %+v", m, n, errs[i], reps[i].Steps)
		}
	}
	reg := ctl.Registry()
	for _, m := range models {
		if p := reg.Models[m].Policy; p.Kind == sluice.PolicySplit {
			t.Errorf("model %s kept the drill's canary %s", m, p)
		}
	}
}
