package rollout_test

import (
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/postgres"
)

// pgControl opens a PostgreSQL store on dsn whose pool holds at most
// maxConns connections (0: pgxpool's default) and a control service on it,
// both closed with the test.
func pgControl(t *testing.T, dsn string, maxConns int32) (*postgres.Store, *control.Service) {
	t.Helper()
	ctx := t.Context()
	st, err := postgres.OpenOptions(ctx, dsn, postgres.Options{MaxConns: maxConns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctl, err := control.New(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st, ctl
}

// setupModels gives each model named v1 (production, labelled stable) and
// v2 (staging), in one change through ctl.
func setupModels(t *testing.T, ctl *control.Service, models ...string) {
	t.Helper()
	if len(models) == 0 {
		return
	}
	_, err := ctl.Do(t.Context(), "test", "setup", func(e *sluice.Edit) error {
		for _, m := range models {
			for _, v := range []sluice.Version{
				{Model: m, Version: "v1", Endpoints: []string{"http://127.0.0.1:1"}, Stage: sluice.StageProduction},
				{Model: m, Version: "v2", Endpoints: []string{"http://127.0.0.1:2"}, Stage: sluice.StageStaging},
			} {
				if _, err := e.RegisterVersion(v); err != nil {
					return err
				}
			}
			if err := e.SetLabel(m, "stable", "v1"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
