package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestReadyz_StoreErrorNotTold: /readyz needs no token and, without
// admin_listen, is served on the data plane's address, where any client
// reaches it. A store that fails made it answer with the store's error,
// which names its file (or its PostgreSQL host, user and database); the
// answer now says the store is unavailable and the log says why.
func TestReadyz_StoreErrorNotTold(t *testing.T) {
	var logs syncBuffer
	s, _ := mustGatewayWith(t, nil, &logs, sluice.ApplyDoc{})
	s.Store.Close() // every read fails from here, naming the file
	resp, err := http.Get(s.URL() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the store closed: %d %s, want 503", resp.StatusCode, b)
	}
	if strings.Contains(string(b), s.Config.Store) || strings.Contains(string(b), "sluice.db") {
		t.Errorf("/readyz tells any client the store's file: %s", b)
	}
	if !strings.Contains(logs.String(), s.Config.Store) {
		t.Errorf("the log does not say why the store failed:\n%s", logs.String())
	}
}
