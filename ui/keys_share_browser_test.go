package ui_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/server"
)

// keyShares is what the Keys tab shows of the fleet's sharing of limits:
// its Share column's header, each key's Share cell, and the note.
type keyShares struct {
	Head  bool
	Share map[string]string
	Note  string
}

const readKeyShares = `(() => {
  const share = {};
  for (const tr of document.querySelectorAll("#keys-table tbody tr[data-key]")) {
    const c = tr.querySelector(".key-share");
    if (c) share[tr.dataset.key] = c.textContent;
  }
  return { Head: !!document.querySelector("#keys-table thead th.key-share-col"), Share: share, Note: document.getElementById("keys-note").textContent };
})()`

// TestKeysPage_FleetShares: on replicas sharing PostgreSQL each enforces
// its share of a key's rate_limit and tokens_per_minute, and the Keys tab
// showed the limits as configured with nothing to say so: an SRE reading
// "10/s" took it for what each gateway allows, as sluice key list's note
// and SHARE column say it is not. The tab now says how many replicas share
// the limits and gives the answering replica's share of each limited key,
// and says nothing of it on a replica alone.
func TestKeysPage_FleetShares(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two gateways on PostgreSQL (skipped under -short)")
	}
	dsn := pgtest.Schema(t)
	const admin = "ui-fleet-admin-0123456789abcdef"
	start := func() *server.Server {
		cfg := config.Default()
		cfg.Listen = "127.0.0.1:0"
		cfg.Store = dsn
		cfg.Tokens = []config.TokenConfig{{Name: "ci", Role: sluice.RoleAdmin, Secret: admin}}
		cfg.ClientKeys = []config.ClientKey{
			{Name: "web-app", Secret: "sk-ui-fleet-0123456789abcdef", RateLimit: 10, Burst: 2},
			{Name: "batch", Secret: "sk-ui-fleet-batch-0123456789ab"},
		}
		s, err := server.New(context.Background(), server.Options{Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		return s
	}
	stop := func(s *server.Server) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}
	a, b := start(), start()
	t.Cleanup(func() { stop(a) })
	waitFor(t, "both replicas to count two", 15*time.Second, func() bool { return a.LimitReplicas() == 2 && b.LimitReplicas() == 2 })
	list, err := api.NewClient(a.AdminURL(), admin).KeysAll(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if list.Replica == "" {
		t.Fatalf("the key list names no replica: %+v", list)
	}

	ctx, jsErrors := newBrowser(t)
	if err := chromedp.Do(ctx,
		signedIn(a.AdminURL(), admin),
		chromedp.Click(chromedp.CSS(`a[data-tab="keys"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#keys-table tbody tr[data-key="web-app"]`)),
	); err != nil {
		t.Fatalf("open the Keys tab: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[keyShares](readKeyShares))
	if err != nil {
		t.Fatal(err)
	}
	// No request yet: the even half, as sluice key list's SHARE gives it;
	// a key without a limit has none.
	if !got.Head || got.Share["web-app"] != "50%" || got.Share["batch"] != "-" {
		t.Errorf("on two replicas the Keys tab shows a Share column %v, shares %v; want one, web-app 50%%, batch -", got.Head, got.Share)
	}
	for _, want := range []string{"2 live replicas share these limits", list.Replica} {
		if !strings.Contains(got.Note, want) {
			t.Errorf("on two replicas the Keys tab's note says %q; want it to say %q", got.Note, want)
		}
	}
	// The limits themselves stay as configured: the fleet's.
	if rate := evalString(ctx, t, `document.querySelector('#keys-table tr[data-key="web-app"] td:nth-child(4)').textContent`); rate != "10/s" {
		t.Errorf("web-app's request limit reads %q on two replicas, want 10/s, as configured", rate)
	}

	// One replica left: the whole limits, no column, no note of sharing.
	stop(b)
	waitFor(t, "the replica left to count itself alone", 30*time.Second, func() bool { return a.LimitReplicas() == 1 })
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#keys-refresh"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the Keys tab to drop its Share column", 10*time.Second, func() bool {
		got, err = chromedp.Run(ctx, chromedp.Evaluate[keyShares](readKeyShares))
		return err == nil && !got.Head
	})
	if len(got.Share) != 0 || strings.Contains(got.Note, "share these limits") {
		t.Errorf("on one replica the Keys tab shows shares %v and the note %q; want neither", got.Share, got.Note)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
