package postgres

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestLeader_ShutdownIsNotALostConnection: a leader whose process is
// shutting down stops leading with its context, and says so at INFO. When
// the shutdown came while its check was under way, it also logged "lost
// the connection to PostgreSQL" at WARN with err="context canceled": a
// false alarm in every log alert on WARN, on an ordinary rolling restart.
// A connection that really fails is still a WARN.
func TestLeader_ShutdownIsNotALostConnection(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var log bytes.Buffer
	l := s.NewLeader(LeaderOptions{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	conn, err := s.connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	l.leading.Store(true)

	stopping, stop := context.WithCancel(ctx)
	stop()
	if l.check(stopping, conn) {
		t.Fatal("check with the context ended reported the connection working")
	}
	if strings.Contains(log.String(), "WARN") {
		t.Errorf("a leader shutting down logged a warning:\n%s", log.String())
	}

	// The connection really lost: a warning, as before.
	conn.Close(ctx)
	if l.check(ctx, conn) {
		t.Fatal("check on a closed connection reported it working")
	}
	if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "lost the connection to PostgreSQL") {
		t.Errorf("a lost connection was not logged as a warning:\n%s", log.String())
	}
}
