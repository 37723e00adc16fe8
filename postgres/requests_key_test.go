package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// A row written before the request log kept the client key (migration
// 0012), as an older replica of a fleet mid-upgrade still writes it,
// without the column, reads back with none, and a filter by key passes
// over it.
func TestRequests_RowWithoutClientKey(t *testing.T) {
	dsn := pgtest.Schema(t)
	s := MustOpen(t, dsn)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	at := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	// The columns of 0008, as that release's COPY names them.
	if _, err := conn.Exec(ctx, `INSERT INTO requests (request_id, at, model, version, route, status, tools_offered)
		VALUES ('req_old_1', $1, 'chat', 'v1', 'split', 200, true)`, at); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendRequests(ctx, []sluice.Observation{{RequestID: "req_new_1", At: at.Add(time.Second), Model: "chat", Version: "v1", Status: 200, ClientKey: "team-a"}}); err != nil {
		t.Fatal(err)
	}
	all, err := s.Requests(ctx, sluice.RequestQuery{})
	if err != nil || len(all) != 2 {
		t.Fatalf("Requests: %d rows, %v", len(all), err)
	}
	if all[1].RequestID != "req_old_1" || all[1].ClientKey != "" || !all[1].ToolsOffered {
		t.Errorf("the old row: %+v, want no client key", all[1])
	}
	if all[0].ClientKey != "team-a" {
		t.Errorf("the new row: client key %q, want team-a", all[0].ClientKey)
	}
	keyed, err := s.Requests(ctx, sluice.RequestQuery{ClientKey: "team-a"})
	if err != nil || len(keyed) != 1 || keyed[0].RequestID != "req_new_1" {
		t.Errorf("Requests by key team-a = %+v, %v; want req_new_1 alone", keyed, err)
	}
}
