package postgres

import (
	"context"
	"testing"

	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestStore_HoldSessionSettings: a drill's lock lives on a connection of
// its own that is idle for the drill's length; with the server's default
// TCP keepalive, a replica whose host was lost mid-drill kept the lock
// (and every drill and start of the model refused) for hours. The hold's
// session asks the server to probe it after 5 s idle and give up within
// seconds.
func TestStore_HoldSessionSettings(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := s.connectHold(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for name, want := range map[string]string{"tcp_keepalives_idle": "5", "tcp_keepalives_interval": "2", "tcp_keepalives_count": "3", "tcp_user_timeout": "10000"} {
		var got string
		if err := conn.QueryRow(ctx, "SHOW "+name).Scan(&got); err != nil {
			t.Fatalf("SHOW %s: %v", name, err)
		}
		if got != want {
			t.Errorf("%s = %q on a hold's session, want %q", name, got, want)
		}
	}
}
