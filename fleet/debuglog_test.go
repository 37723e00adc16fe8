package fleet_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/fleet"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestWindows_DebugLogsNewReplica: at debug, a replica says when it first
// reads another replica's observations (the fleet it analyses grew), once
// per replica; at info it says nothing of it.
func TestWindows_DebugLogsNewReplica(t *testing.T) {
	dsn := pgtest.Schema(t)
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		var log bytes.Buffer
		a := newReplica(t, dsn, "a-"+level.String(), fleet.Options{Logger: slog.New(slog.NewJSONHandler(&log, &slog.HandlerOptions{Level: level}))})
		b := newReplica(t, dsn, "b-"+level.String(), fleet.Options{})
		traffic(b.rec, "v1", "chat", time.Now(), 10)
		mustFlush(t, b)
		mustPull(t, a)
		traffic(b.rec, "v1", "chat", time.Now(), 10)
		mustFlush(t, b)
		mustPull(t, a)
		n := strings.Count(log.String(), `"msg":"fleet: reading a replica's observations"`)
		want := 0
		if level == slog.LevelDebug {
			want = 1
			if !strings.Contains(log.String(), `"replica":"`+b.win.Replica()+`"`) {
				t.Errorf("the record does not name the replica %s:\n%s", b.win.Replica(), log.String())
			}
		}
		if n != want {
			t.Errorf("at %s: %d records of a new replica, want %d:\n%s", level, n, want, log.String())
		}
	}
}
