package ui_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/ui"
)

// browserless is a client of the dashboard that behaves like the page:
// same-origin requests, the session cookie, and the CSRF header.
type browserless struct {
	t      *testing.T
	base   string
	cookie *http.Cookie
	csrf   string
}

func (b *browserless) do(method, path, body string, hdr map[string]string) (*http.Response, []byte) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base+path, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if b.cookie != nil {
		req.AddCookie(b.cookie)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}

// signIn signs in with secret and keeps the cookie and CSRF token.
func signIn(t *testing.T, base, secret string) *browserless {
	t.Helper()
	b := &browserless{t: t, base: base}
	resp, body := b.do("POST", "/ui/login", `{"token":"`+secret+`"}`, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("sign-in: %d %s", resp.StatusCode, body)
	}
	for _, c := range resp.Cookies() {
		if c.Name == ui.CookieName {
			b.cookie = c
		}
	}
	var info ui.SessionInfo
	if err := json.Unmarshal(body, &info); err != nil || info.CSRF == "" || b.cookie == nil {
		t.Fatalf("sign-in answer %s, cookie %v", body, b.cookie)
	}
	b.csrf = info.CSRF
	return b
}

// TestSession checks sign-in, the cookie, CSRF and role enforcement over
// plain HTTP against a real gateway.
func TestSession(t *testing.T) {
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{Seed: 2})
	g := MustGateway(t, stable, cand)
	base := g.AdminURL()
	startLoad(t, g.URL(), 2)
	startCanary(t, g)

	t.Run("RedirectAndSignInPage", func(t *testing.T) {
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Get(base + "/ui")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/ui/" {
			t.Errorf("/ui: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		b := &browserless{t: t, base: base}
		resp, body := b.do("GET", "/ui/", "", nil)
		if resp.StatusCode != 200 || !strings.Contains(string(body), `id="login-form"`) {
			t.Errorf("signed-out /ui/: %d, no sign-in form", resp.StatusCode)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("CSP %q", csp)
		}
	})

	t.Run("ErrUnknownToken", func(t *testing.T) {
		b := &browserless{t: t, base: base}
		resp, _ := b.do("POST", "/ui/login", `{"token":"sluice_not-a-token"}`, nil)
		if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
			t.Errorf("unknown token: %d, cookies %v", resp.StatusCode, resp.Cookies())
		}
		resp, _ = b.do("GET", "/ui/api/series?model=chat", "", nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("series without a session: %d", resp.StatusCode)
		}
	})

	t.Run("CookieHoldsNoSecret", func(t *testing.T) {
		b := signIn(t, base, g.operator)
		c := b.cookie
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/ui" || strings.Contains(c.Value, g.operator) || c.Value == sluice.HashSecret(g.operator) {
			t.Errorf("cookie %+v", c)
		}
		resp, body := b.do("GET", "/ui/", "", nil)
		if resp.StatusCode != 200 || !strings.Contains(string(body), "olga-operator") || strings.Contains(string(body), g.operator) {
			t.Errorf("dashboard page: %d; names the token: %v", resp.StatusCode, strings.Contains(string(body), "olga-operator"))
		}
	})

	t.Run("ErrNoCSRF", func(t *testing.T) {
		b := signIn(t, base, g.operator)
		resp, body := b.do("POST", "/ui/api/admin/v1/rollouts/chat/pause", `{"reason":"x"}`, nil)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "CSRF") {
			t.Errorf("no CSRF header: %d %s", resp.StatusCode, body)
		}
		resp, _ = b.do("POST", "/ui/api/admin/v1/rollouts/chat/pause", `{"reason":"x"}`, map[string]string{ui.CSRFHeader: b.csrf, "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site request: %d", resp.StatusCode)
		}
		if ph := g.Control.Registry().Rollouts["chat"].Phase; ph != sluice.PhaseProgressing {
			t.Errorf("phase %s after refused requests", ph)
		}
	})

	t.Run("ErrViewerActs", func(t *testing.T) {
		b := signIn(t, base, g.viewer)
		rev := g.Control.Registry().Revision
		before := g.Control.Registry().Models["chat"].Policy.String()
		for _, c := range []struct{ method, path, body string }{
			{"POST", "/ui/api/admin/v1/rollouts/chat/promote", `{"reason":"x"}`},
			{"POST", "/ui/api/admin/v1/rollouts/chat/abort", `{"reason":"x"}`},
			{"PUT", "/ui/api/admin/v1/models/chat/split", `{"weights":[{"version":"v1.0.0","percent":50},{"version":"v1.1.0","percent":50}],"reason":"x"}`},
		} {
			resp, body := b.do(c.method, c.path, c.body, map[string]string{ui.CSRFHeader: b.csrf})
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "viewer") {
				t.Errorf("%s %s by a viewer: %d %s", c.method, c.path, resp.StatusCode, body)
			}
		}
		if r := g.Control.Registry(); r.Models["chat"].Policy.String() != before || r.Rollouts["chat"].Phase != sluice.PhaseProgressing {
			t.Errorf("a viewer changed something: revision %d → %d, policy %s", rev, r.Revision, r.Models["chat"].Policy)
		}
		resp, body := b.do("GET", "/ui/api/admin/v1/rollouts/chat", "", nil)
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"progressing"`) {
			t.Errorf("a viewer reads the rollout: %d", resp.StatusCode)
		}
		resp, _ = b.do("GET", "/ui/api/admin/v1/tokens", "", nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("tokens through the dashboard: %d", resp.StatusCode)
		}
	})

	t.Run("OperatorSetsSplitAudited", func(t *testing.T) {
		b := signIn(t, base, g.operator)
		resp, body := b.do("POST", "/ui/api/admin/v1/rollouts/chat/pause", `{"reason":"look closer"}`, map[string]string{ui.CSRFHeader: b.csrf})
		if resp.StatusCode != 200 {
			t.Fatalf("pause: %d %s", resp.StatusCode, body)
		}
		resp, body = b.do("POST", "/ui/api/admin/v1/rollouts/chat/resume", `{"reason":"fine"}`, map[string]string{ui.CSRFHeader: b.csrf})
		if resp.StatusCode != 200 {
			t.Fatalf("resume: %d %s", resp.StatusCode, body)
		}
		entries, err := g.Store.Audit(context.Background(), sluice.AuditQuery{Action: "rollout.pause"})
		if err != nil || len(entries) == 0 || entries[0].Actor != "olga-operator" || entries[0].Reason != "look closer" {
			t.Errorf("audit of the pause: %+v %v", entries, err)
		}
	})

	t.Run("DeletedTokenEndsSession", func(t *testing.T) {
		ctx := context.Background()
		secret, err := g.CreateToken(ctx, "temp-viewer", sluice.RoleViewer, "test", "setup")
		if err != nil {
			t.Fatal(err)
		}
		b := signIn(t, base, secret)
		if resp, _ := b.do("GET", "/ui/api/session", "", nil); resp.StatusCode != 200 {
			t.Fatalf("session: %d", resp.StatusCode)
		}
		if err := g.Store.DeleteToken(ctx, "temp-viewer", false, sluice.AuditEntry{Actor: "test", Action: "token.delete", Subject: "temp-viewer", Reason: "test"}); err != nil {
			t.Fatal(err)
		}
		if err := g.Auth.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if resp, _ := b.do("GET", "/ui/api/session", "", nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("session of a deleted token: %d", resp.StatusCode)
		}
	})

	t.Run("SignOut", func(t *testing.T) {
		b := signIn(t, base, g.viewer)
		if resp, _ := b.do("POST", "/ui/logout", "", nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("sign-out without CSRF: %d", resp.StatusCode)
		}
		if resp, _ := b.do("POST", "/ui/logout", "", map[string]string{ui.CSRFHeader: b.csrf}); resp.StatusCode != 200 {
			t.Errorf("sign-out: %d", resp.StatusCode)
		}
		if resp, _ := b.do("GET", "/ui/api/session", "", nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("after sign-out: %d", resp.StatusCode)
		}
	})

	t.Run("EventsStream", func(t *testing.T) {
		b := signIn(t, base, g.viewer)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/ui/api/events?model=chat", nil)
		req.AddCookie(b.cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("content type %q", ct)
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok || data == "{}" {
				continue
			}
			var tick ui.Tick
			if err := json.Unmarshal([]byte(data), &tick); err != nil {
				t.Fatalf("tick %q: %v", data, err)
			}
			if len(tick.Series["v1.0.0"]) > 0 && len(tick.Series["v1.1.0"]) > 0 {
				if tick.Baseline != "v1.0.0" || tick.Candidate != "v1.1.0" || tick.Revision == 0 {
					t.Errorf("tick %+v", tick)
				}
				return
			}
		}
		t.Fatalf("no tick with both versions' points: %v", sc.Err())
	})
}

// TestAssets_NoOutsideResources: the page loads nothing from another host.
func TestAssets_NoOutsideResources(t *testing.T) {
	url := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasPrefix(path, "assets") || strings.HasPrefix(path, "templates")) {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range url.FindAllString(string(b), -1) {
			if m != "http://www.w3.org" {
				t.Errorf("%s refers to %s: the dashboard must not load anything from outside", path, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
