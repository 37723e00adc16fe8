package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/server"
	"github.com/sluicehq/sluice/sqlite"
)

// TestBuildInfo_SaysWhichBinary: an operator upgrading a fleet in place
// could not tell which replicas ran the new binary: no metric, no log
// line and no command named a release or the schemas it knows (a first
// trial of a rolling upgrade). A gateway's /metrics now has
// sluice_build_info with the newest SQLite and PostgreSQL schemas the
// binary knows, and its `sluice listening` line names the release and the
// schema it runs its store at.
func TestBuildInfo_SaysWhichBinary(t *testing.T) {
	var log syncBuffer
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
	gw, err := server.New(context.Background(), server.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	defer gw.Shutdown(context.Background())
	resp, err := http.Get("http://" + gw.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var line string
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, "sluice_build_info{") {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("/metrics has no sluice_build_info:\n%s", body)
	}
	for _, want := range []string{
		`release="devel"`,
		fmt.Sprintf(`sqlite_schema="%d"`, sqlite.LatestSchema()),
		fmt.Sprintf(`postgres_schema="%d"`, postgres.LatestSchema()),
		`goversion="go`,
	} {
		if !strings.Contains(line, want) {
			t.Errorf("sluice_build_info lacks %s: %s", want, line)
		}
	}
	if !strings.HasSuffix(line, "} 1") {
		t.Errorf("sluice_build_info is not 1: %s", line)
	}
	if sqlite.LatestSchema() < 25 || postgres.LatestSchema() < 31 {
		t.Errorf("latest schemas SQLite %d, PostgreSQL %d: below the migrations this tree holds (25, 31)", sqlite.LatestSchema(), postgres.LatestSchema())
	}
	want := fmt.Sprintf("release=devel schema=%d", sqlite.LatestSchema())
	if !strings.Contains(log.String(), want) {
		t.Errorf("the start's log does not say %q:\n%s", want, log.String())
	}
}
