package replicas_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestReplicas_DrillsShareASmallPool: through the admin API of a gateway
// whose PostgreSQL pool has 2 connections (pool_max_conns=2 in its DSN),
// fire drills of 4 models at once. Each drill held its lock on a pooled
// connection for its whole length, and its changes needed more: the
// drills stalled the replica's every change and failed after 15 s or more.
// They now all pass. The candidates' backend holds each drill's first
// request to it until all 4 drills have sent one, so all 4 hold their
// locks and canaries at once.
func TestReplicas_DrillsShareASmallPool(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL-backed process")
	}
	const n = 4
	stable := fakellm.New(fakellm.Config{})
	if err := stable.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stable.Close)
	target, _ := url.Parse(stable.URL())
	forward := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	arrived, all := 0, make(chan struct{})
	candidate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			mu.Lock()
			if arrived++; arrived == n {
				close(all)
			}
			mu.Unlock()
			select {
			case <-all:
			case <-r.Context().Done():
				return
			}
		}
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(candidate.Close)

	var b strings.Builder
	b.WriteString("models:\n")
	for i := range n {
		fmt.Fprintf(&b, `  - name: m%d
    policy: {kind: specific, version: v1}
    labels: {stable: v1}
    versions:
      - {version: v1, endpoints: [%s], stage: production}
      - {version: v2, endpoints: [%s], stage: production}
`, i, stable.URL(), candidate.URL)
	}
	dir := t.TempDir()
	models := filepath.Join(dir, "models.yaml")
	os.WriteFile(models, []byte(b.String()), 0o644)
	dsn := pgtest.Schema(t)
	if !strings.Contains(dsn, "?") {
		t.Fatalf("the test DSN %q is not a URL: pool_max_conns cannot be added", dsn)
	}
	f := &fleet{t: t, dir: dir, cfg: writeFleetConfig(dir, models, ""), dsn: dsn + "&pool_max_conns=2"}
	r := f.start(1)[0]

	// Generous: the drills take well under a second; stalled ones fail at it.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m := fmt.Sprintf("m%d", i)
			rep, err := r.client.Drill(ctx, m, "v2", 50, "drills at once")
			if err != nil || !rep.OK {
				t.Errorf("drill of %s, one of %d at once on a pool of 2 connections: %v, steps %+v", m, n, err, rep.Steps)
			}
		})
	}
	wg.Wait()
	for i := range n {
		m := fmt.Sprintf("m%d", i)
		if p, err := r.policyOf(ctx, m); err != nil || p != "specific v1" {
			t.Errorf("model %s after its drill: routing %q, %v; want specific v1 as before", m, p, err)
		}
	}
}
