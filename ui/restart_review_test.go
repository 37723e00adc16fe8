package ui_test

// The tests here came from a review, with the bugs they found; their
// comments say what the dashboard did before the fix.

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/server"
)

// TestLiveViewAfterGatewayRestart: sessions live in the gateway's
// memory, so a restart (a deploy, a crash) ends them. The open dashboard's
// EventSource reconnects, gets 401, and stops for good; the page never
// goes to the sign-in page (only call() does that, on a click), so an SRE
// watching a rollout sees frozen numbers with nothing but a grey dot.
// That dot also kept its words, "● live", only greyed (colour alone said
// the view had stopped); now it says "not live: reconnecting".
func TestLiveViewAfterGatewayRestart(t *testing.T) {
	start, stop := restartable(t)
	a := start()
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{
		Name:     "chat",
		Policy:   &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.0.0"},
		Versions: []sluice.Version{{Version: "v1.0.0", Endpoints: []string{"http://127.0.0.1:1"}, Stage: sluice.StageProduction}},
	}}}
	if _, err := a.Control.Do(context.Background(), "test", "setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		t.Fatalf("apply: %v", err)
	}
	secret, err := a.CreateToken(context.Background(), "victor-viewer", sluice.RoleViewer, "test", "setup")
	if err != nil {
		t.Fatal(err)
	}
	ctx, jsErrors := newBrowser(t)
	if err := chromedp.Do(ctx,
		signedIn(a.AdminURL(), secret),
		chromedp.WaitVisible(chromedp.CSS(`#live.on`)),
	); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	stop(a)
	// While the gateway is down the page says, in words, that it is not
	// live: it showed the same "● live", only greyed, which read as live.
	waitFor(t, "the page to see the stream drop", 15*time.Second, func() bool {
		off, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("live").classList.contains("off")`))
		return err == nil && off
	})
	if txt, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("live").textContent`)); err != nil || !strings.Contains(txt, "not live") {
		t.Errorf("with the gateway down the live indicator reads %q (%v), want it to say it is not live", txt, err)
	}
	b := start()
	t.Cleanup(func() { stop(b) })

	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById("login-form") ? "sign-in" : "dashboard") + " live=" + ((document.getElementById("live") || {}).className || "")`))
		if err != nil {
			t.Fatal(err)
		}
		if st == "sign-in live=" || st == "dashboard live=live on" {
			return // sent to sign in again, or live again
		}
		if time.Now().After(deadline) {
			t.Fatalf("15 s after the gateway restarted (the session is gone; GET /ui/api/events answers 401) the page is %q: neither live again nor back at the sign-in page", st)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// restartable returns start, which starts a gateway on one address and
// one SQLite store (the same each time, so a restart keeps them), and
// stop, which shuts one down. The address is picked ahead (a restart needs
// the same one, and the server cannot be handed a listener).
func restartable(t *testing.T) (start func() *server.Server, stop func(*server.Server)) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	store := filepath.Join(t.TempDir(), "sluice.db")
	start = func() *server.Server {
		cfg := config.Default()
		cfg.Listen = addr
		cfg.Store = store
		s, err := server.New(context.Background(), server.Options{Config: cfg})
		if err != nil {
			t.Fatalf("new gateway: %v", err)
		}
		if err := s.Start(); err != nil {
			t.Fatalf("start gateway: %v", err)
		}
		return s
	}
	stop = func(s *server.Server) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}
	return start, stop
}
