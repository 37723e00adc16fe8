package ui_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/server"
)

// replicasBox is what the Overview's Replicas box shows.
type replicasBox struct {
	Shown    bool
	Line     string
	Warnings []string
	Rows     [][]string
}

const readReplicasBox = `(() => {
  const card = document.getElementById("replicas-card"), line = document.getElementById("replicas-line");
  const table = document.getElementById("replicas-table");
  return {
    Shown: !card.hidden,
    Line: line ? line.textContent : "",
    Warnings: [...document.querySelectorAll("#replicas-warnings .replicas-warn")].map((p) => p.textContent),
    Rows: table.hidden ? [] : [...table.querySelectorAll("tbody tr")].map((tr) => [...tr.cells].map((c) => c.textContent)),
  };
})()`

// TestDashboard_ReplicasLone: on a lone gateway (SQLite) the Overview's
// Replicas box is one line saying it is the only replica, its release and
// routing revision, with no table.
func TestDashboard_ReplicasLone(t *testing.T) {
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{}))
	ctx, jsErrors := newBrowser(t)
	if err := chromedp.Do(ctx, signedIn(g.AdminURL(), g.viewer), chromedp.WaitVisible(chromedp.CSS("#replicas-line"))); err != nil {
		t.Fatalf("open the dashboard: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[replicasBox](readReplicasBox))
	if err != nil {
		t.Fatal(err)
	}
	want := "A lone gateway, the only replica: release devel, routing revision 1, 0 requests in flight (a fleet of replicas shares a PostgreSQL store)."
	if !got.Shown || got.Line != want || len(got.Rows) != 0 || len(got.Warnings) != 0 {
		t.Errorf("the Replicas box on a lone gateway: %+v; want the line %q alone", got, want)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}

// TestDashboard_ReplicasOverlap: reads of the replicas that overlap (a
// return to the Overview while the timer's read waits on a slow store)
// fill the box once: before, each cleared the box as it started and
// appended as it answered, so the box showed its rows (here the lone
// gateway's line) twice.
func TestDashboard_ReplicasOverlap(t *testing.T) {
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{}))
	ctx, jsErrors := newBrowser(t)
	if err := chromedp.Do(ctx, signedIn(g.AdminURL(), g.viewer), chromedp.WaitVisible(chromedp.CSS("#replicas-line"))); err != nil {
		t.Fatalf("open the dashboard: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	// Every answer of the replicas now takes 300 ms; the Overview is
	// left and shown again three times within 60 ms.
	const overlap = `(() => {
  const f = window.fetch;
  window.fetch = (path, opts) => String(path).endsWith("/replicas") ? new Promise((r) => setTimeout(r, 300)).then(() => f(path, opts)) : f(path, opts);
  for (const [i, tab] of ["#history", "#overview", "#history", "#overview", "#history", "#overview"].entries()) setTimeout(() => { location.hash = tab; }, 10 * i);
  return true;
})()`
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](overlap)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#replicas-warnings p").length`))
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		box, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("replicas-card").textContent`))
		t.Errorf("the Replicas box after overlapping reads has %d lines, want 1: %q", n, box)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}

// TestDashboard_ReplicasFleet: on two replicas sharing PostgreSQL, while
// a third replica of an older release beats, the Overview's Replicas box
// lists the three (release, one leader, routing revision, in flight,
// draining, last beat) under the warning line naming the two releases;
// once the older one stops beating (stalled or killed), its row stays,
// marked stale, under a warning naming it, and the releases' warning
// goes (it counts the live ones); once its beat is deleted (as a replica
// stopping cleanly deletes its own), its row and the warning go at the
// box's next read.
func TestDashboard_ReplicasFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two gateways on PostgreSQL (skipped under -short)")
	}
	dsn := pgtest.Schema(t)
	const admin = "ui-replicas-admin-0123456789abcdef"
	start := func() *server.Server {
		cfg := config.Default()
		cfg.Listen = "127.0.0.1:0"
		cfg.Store = dsn
		cfg.Tokens = []config.TokenConfig{{Name: "ci", Role: sluice.RoleViewer, Secret: admin}}
		s, err := server.New(context.Background(), server.Options{Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s.Shutdown(ctx)
		})
		return s
	}
	a, b := start(), start()
	// A registry revision the older replica's beat (0) is behind.
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Policy: &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.0.0"},
		Versions: []sluice.Version{{Version: "v1.0.0", Endpoints: []string{MustBackend(t, fakellm.Config{}).URL()}, Stage: sluice.StageProduction}}}}}
	if _, err := a.Control.Do(t.Context(), "test", "setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		t.Fatal(err)
	}
	// A replica of v0.9.1 mid-upgrade, beating every 300 ms until stopped.
	bctx, stopOld := context.WithCancel(t.Context())
	beat := func() {
		pgtest.Exec(t, dsn, `INSERT INTO replica_beats (replica, revision, inflight, release, leader) VALUES ('gw-v091', 0, '{"chat:v1.0.0": 2}', 'v0.9.1', false)
			ON CONFLICT (replica) DO UPDATE SET beat_at = now()`)
	}
	beat()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-bctx.Done():
				return
			case <-time.After(300 * time.Millisecond):
				beat()
			}
		}
	}()
	t.Cleanup(func() { stopOld(); <-done })

	ctx, jsErrors := newBrowser(t)
	if err := chromedp.Do(ctx, signedIn(a.AdminURL(), admin)); err != nil {
		t.Fatalf("open the dashboard: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	var got replicasBox
	waitFor(t, "the Replicas box to list three replicas, one leading", 20*time.Second, func() bool {
		got, _ = chromedp.Run(ctx, chromedp.Evaluate[replicasBox](readReplicasBox))
		leaders := 0
		for _, r := range got.Rows {
			if len(r) == 7 && r[2] == "leader" {
				leaders++
			}
		}
		return len(got.Rows) == 3 && leaders == 1
	})
	if want := []string{"2 releases: v0.9.1 on 1 replica, devel on 2"}; !got.Shown || len(got.Warnings) != 1 || got.Warnings[0] != want[0] || got.Line != "" {
		t.Errorf("the Replicas box: %+v; want the warning %q", got, want[0])
	}
	rows := map[string][]string{}
	for _, r := range got.Rows {
		rows[strings.TrimSuffix(r[0], " (this page's)")] = r
	}
	if r := rows["gw-v091"]; r == nil || r[1] != "v0.9.1" || r[2] != "" || r[3] != "0 (behind)" || r[4] != "2" || r[5] != "no" || !strings.HasSuffix(r[6], " s ago") {
		t.Errorf("the older replica's row: %q", r)
	}
	for _, s := range []*server.Server{a, b} {
		r := rows[s.Replica()]
		if r == nil || r[1] != "devel" || strings.Contains(r[3], "behind") || r[5] != "no" {
			t.Errorf("replica %s's row: %q (rows %q)", s.Replica(), r, got.Rows)
		}
	}
	if !strings.HasSuffix(evalString(ctx, t, `document.querySelector('#replicas-table tr[data-name="`+a.Replica()+`"] td').textContent`), "(this page's)") {
		t.Errorf("the answering replica's row is not marked")
	}

	// The older replica stalls: no more beats.
	stopOld()
	<-done
	waitFor(t, "the Replicas box to mark the stalled replica stale", 20*time.Second, func() bool {
		got, _ = chromedp.Run(ctx, chromedp.Evaluate[replicasBox](readReplicasBox))
		return len(got.Rows) == 3 && len(got.Warnings) == 1 && strings.HasPrefix(got.Warnings[0], "replica gw-v091 has written no beat for ")
	})
	for _, r := range got.Rows {
		if stale := strings.HasSuffix(r[6], " s ago (stale)"); stale != (r[0] == "gw-v091") {
			t.Errorf("row %q: stale %v", r, stale)
		}
	}
	if sub := evalString(ctx, t, `document.getElementById("replicas-sub").textContent`); !strings.HasPrefix(sub, "2 live (a beat in the last 5 s), 1 stale, ") {
		t.Errorf("the box's heading says %q", sub)
	}
	// It stops cleanly (a replica deletes its own beat as it stops).
	pgtest.Exec(t, dsn, `DELETE FROM replica_beats WHERE replica = 'gw-v091'`)
	waitFor(t, "the Replicas box to drop the stopped replica and the warning", 20*time.Second, func() bool {
		got, _ = chromedp.Run(ctx, chromedp.Evaluate[replicasBox](readReplicasBox))
		return len(got.Rows) == 2 && len(got.Warnings) == 0
	})
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
