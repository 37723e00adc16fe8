package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/server"
)

// auditFails is a store whose audit log cannot be read.
type auditFails struct{ sluice.Store }

func (auditFails) Audit(context.Context, sluice.AuditQuery) ([]sluice.AuditEntry, error) {
	return nil, errors.New("disk I/O error")
}

// TestServer_AdminAPIErrorsInTheGatewaysLog: the admin API's internal
// errors go to the gateway's logger, in its format, not to slog.Default's
// text lines on stderr (one plain line among JSON records under
// log.format: json, which a log shipper reading JSON drops).
func TestServer_AdminAPIErrorsInTheGatewaysLog(t *testing.T) {
	ctx := context.Background()
	st, err := server.OpenStore(ctx, filepath.Join(t.TempDir(), "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	var log syncBuffer
	s, err := server.New(ctx, server.Options{Config: cfg, Store: auditFails{st}, Logger: slog.New(slog.NewJSONHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(sctx)
	})
	secret, err := s.CreateToken(ctx, "admin", sluice.RoleAdmin, "test", "test setup")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.NewClient(s.AdminURL(), secret).Audit(ctx, sluice.AuditQuery{}); err == nil {
		t.Fatal("reading an audit log that cannot be read succeeded")
	}
	for _, line := range strings.Split(log.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "admin api" && strings.Contains(rec["err"].(string), "disk I/O error") {
			return
		}
	}
	t.Errorf("the admin API's internal error is not in the gateway's log:\n%s", log.String())
}
