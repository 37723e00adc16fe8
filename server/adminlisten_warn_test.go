package server_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/server"
)

// TestStart_WarnsAdminOnDataPlane checks that a gateway serving its admin
// API, dashboard and /metrics on a data plane address that is not loopback
// says so at start, and one on loopback or with admin_listen does not.
func TestStart_WarnsAdminOnDataPlane(t *testing.T) {
	for _, c := range []struct {
		name, listen, admin string
		warn                bool
	}{
		{"AllInterfaces", ":0", "", true},
		{"Loopback", "127.0.0.1:0", "", false},
		{"AdminApart", ":0", "127.0.0.1:0", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var log syncBuffer
			cfg := config.Default()
			cfg.Listen, cfg.AdminListen = c.listen, c.admin
			cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
			s, err := server.New(context.Background(), server.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(&log, nil))})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Start(); err != nil {
				t.Fatal(err)
			}
			defer s.Shutdown(context.Background())
			if got := strings.Contains(log.String(), "set admin_listen"); got != c.warn {
				t.Errorf("listen %q, admin_listen %q: warned %v, want %v; log:\n%s", c.listen, c.admin, got, c.warn, log.String())
			}
		})
	}
}
