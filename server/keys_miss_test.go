package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// storeKeyedGateway starts a gateway on an SQLite store wrapped by wrap,
// with require_client_keys and a chat model served by a simulated backend.
func storeKeyedGateway(t *testing.T, wrap func(sluice.Store) sluice.Store) *server.Server {
	t.Helper()
	ctx := context.Background()
	b := MustBackend(t, fakellm.Config{})
	dir := t.TempDir()
	raw, err := server.OpenStore(ctx, filepath.Join(dir, "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(dir, "sluice.db")
	cfg.RequireClientKeys = true
	gw, err := server.New(ctx, server.Options{Config: cfg, Store: wrap(raw)})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	if _, err := gw.Control.Do(ctx, "test", "setup", func(e *sluice.Edit) error {
		return e.Apply(chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil))
	}); err != nil {
		t.Fatal(err)
	}
	return gw
}

// keysCounted counts the reads of the store's client keys.
type keysCounted struct {
	sluice.Store
	reads atomic.Int64
}

func (s *keysCounted) ClientKeys(ctx context.Context) ([]sluice.StoredKey, error) {
	s.reads.Add(1)
	return s.Store.ClientKeys(ctx)
}

// TestGateway_UnknownKeyFloodBounded sends a flood of secrets that are no
// key from several clients at once: each may make the gateway read the
// store's keys (a key issued through another replica a moment ago), but
// those reads run one at a time and at most one every 200 ms, so the
// store sees a handful, not one per request; each request still gets its
// 401.
func TestGateway_UnknownKeyFloodBounded(t *testing.T) {
	var st *keysCounted
	gw := storeKeyedGateway(t, func(raw sluice.Store) sluice.Store { st = &keysCounted{Store: raw}; return st })
	before := st.reads.Load()
	began := time.Now()
	const clients, each = 8, 40
	var wg sync.WaitGroup
	var wrong atomic.Int64
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				req, _ := http.NewRequest("GET", gw.URL()+"/v1/models", nil)
				req.Header.Set("Authorization", fmt.Sprintf("Bearer not-a-key-%d-%d-padding", c, i))
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					wrong.Add(1)
					continue
				}
				res.Body.Close()
				if res.StatusCode != http.StatusUnauthorized {
					wrong.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(began)
	if n := wrong.Load(); n != 0 {
		t.Errorf("%d of the unknown secrets got no 401", n)
	}
	reads := st.reads.Load() - before
	// One read per 200 ms of the flood, and one under way at its start
	// and end; a read per request would be 320.
	if most := int64(took/(200*time.Millisecond)) + 2; reads > most {
		t.Errorf("%d requests with unknown secrets over %s read the store's keys %d times, want at most %d", clients*each, took, reads, most)
	}
	if reads == 0 {
		t.Errorf("no read of the store's keys for a secret not held: a key issued through another replica would be refused")
	}
}

// TestGateway_IssueKeyNotRequired: a gateway whose data plane requires no
// key refuses to issue one (a 409 saying how to require keys), writing
// nothing, rather than hand out a key no one is asked for.
func TestGateway_IssueKeyNotRequired(t *testing.T) {
	gw, secret := MustGateway(t, "", sluice.ApplyDoc{})
	cl := api.NewClient(gw.AdminURL(), secret)
	_, err := cl.CreateKey(context.Background(), api.KeyRequest{Name: "team-a", Reason: "r"})
	var se *sluice.Error
	if !errors.As(err, &se) || se.Code != sluice.CodeConflict || !strings.Contains(se.Message, "require_client_keys: true") {
		t.Fatalf("issue a key on an open gateway: %v, want a 409 naming require_client_keys", err)
	}
	if ks, err := gw.Store.ClientKeys(context.Background()); err != nil || len(ks) != 0 {
		t.Fatalf("the store holds %+v (%v), want nothing", ks, err)
	}
	list, err := cl.Keys(context.Background())
	if err != nil || list.Required || len(list.Keys) != 0 {
		t.Fatalf("list = %+v (%v), want none and not required", list, err)
	}
}
