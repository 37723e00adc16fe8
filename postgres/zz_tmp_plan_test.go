package postgres_test

import (
	"os"
	"time"

	"github.com/sluicehq/sluice"
	"testing"

	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

func TestZZTmpMakeSchema(t *testing.T) {
	if os.Getenv("ZZ_SCHEMA") == "" {
		t.Skip()
	}
	dsn := pgtest.WithSearchPath(pgtest.DSN(t), os.Getenv("ZZ_SCHEMA"))
	pgtest.Exec(t, pgtest.DSN(t), "DROP SCHEMA IF EXISTS "+os.Getenv("ZZ_SCHEMA")+" CASCADE; CREATE SCHEMA "+os.Getenv("ZZ_SCHEMA"))
	s, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	sql, args := postgres.RequestsSQL(sluiceQuery())
	t.Log(sql, args)
}

func sluiceQuery() sluice.RequestQuery {
	return sluice.RequestQuery{Model: "chat", Version: "v2", Since: time.Now().Add(-4 * time.Hour), Until: time.Now().Add(-13 * time.Minute), Limit: 65536}
}
