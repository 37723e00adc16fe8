package ui_test

import (
	"net/http"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/ui"
)

// uiRoleCases is every dashboard endpoint behind a session, with the role
// it needs and the status a caller with that role gets on the test's
// gateway (no rollout under way). need "" marks what no role may do
// through the dashboard at all.
var uiRoleCases = []struct {
	method, path, body string
	need               sluice.Role
	ok                 int
}{
	{"GET", "/ui/api/session", "", sluice.RoleViewer, 200},
	{"GET", "/ui/api/series?model=chat", "", sluice.RoleViewer, 200},
	{"GET", "/ui/api/categories?model=chat", "", sluice.RoleViewer, 200},
	{"GET", "/ui/api/verdicts?model=chat", "", sluice.RoleViewer, 200},
	{"GET", "/ui/api/shadow?model=chat", "", sluice.RoleViewer, 200},
	{"GET", "/ui/api/admin/v1/models", "", sluice.RoleViewer, 200},
	{"GET", "/ui/api/admin/v1/audit?model=chat", "", sluice.RoleViewer, 200},
	{"GET", "/ui/api/admin/v1/rollouts", "", sluice.RoleViewer, 200},
	// The Keys tab: the keys (never a secret) and their usage.
	{"GET", "/ui/api/admin/v1/keys", "", sluice.RoleViewer, 200},
	{"GET", "/ui/api/admin/v1/usage?by=key&since=24h", "", sluice.RoleViewer, 200},
	{"PUT", "/ui/api/admin/v1/models/chat/split", `{"weights":[{"version":"v1.0.0","percent":100}],"reason":"role table"}`, sluice.RoleOperator, 200},
	// No rollout: an operator gets past the role check to the 404.
	{"POST", "/ui/api/admin/v1/rollouts/chat/pause", `{"reason":"role table"}`, sluice.RoleOperator, 404},
	{"POST", "/ui/api/admin/v1/rollouts/chat/conclude", `{"pick":"candidate","reason":"role table"}`, sluice.RoleOperator, 404},
	// Not offered by the dashboard to anyone, admins included.
	{"GET", "/ui/api/admin/v1/tokens", "", "", 404},
	// Keys are issued and revoked with the CLI: the Keys tab is read-only.
	{"POST", "/ui/api/admin/v1/keys", `{"name":"x","reason":"r"}`, "", 404},
	{"DELETE", "/ui/api/admin/v1/keys/x", `{"reason":"r"}`, "", 404},
	{"POST", "/ui/api/admin/v1/tokens", `{"name":"x","role":"admin","reason":"r"}`, "", 404},
	{"POST", "/ui/api/admin/v1/apply", `{"doc":{"models":[{"name":"chat"}]},"reason":"r"}`, "", 404},
	{"POST", "/ui/api/admin/v1/versions", `{"version":{"model":"chat","version":"v9"},"reason":"r"}`, "", 404},
	{"PUT", "/ui/api/admin/v1/versions/chat:v1.1.0/stage", `{"stage":"retired","reason":"r"}`, "", 404},
	{"PUT", "/ui/api/admin/v1/models/chat/policy", `{"policy":{"kind":"latest"},"reason":"r"}`, "", 404},
}

// TestDashboard_Roles is the dashboard's role × endpoint table: without a
// session every endpoint answers 401; with one, a role below the need gets
// 403 and changes nothing, a role at or above it gets the endpoint's answer.
func TestDashboard_Roles(t *testing.T) {
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{Seed: 2})
	g := MustGateway(t, stable, cand)
	base := g.AdminURL()
	callers := []struct {
		name string
		b    *browserless
		role sluice.Role
	}{
		{"NoSession", &browserless{t: t, base: base}, ""},
		{"Viewer", signIn(t, base, g.viewer), sluice.RoleViewer},
		{"Operator", signIn(t, base, g.operator), sluice.RoleOperator},
		{"Admin", signIn(t, base, g.admin), sluice.RoleAdmin},
	}
	for _, c := range uiRoleCases {
		for _, who := range callers {
			t.Run(who.name+"_"+c.method+"_"+c.path, func(t *testing.T) {
				hdr := map[string]string{}
				if who.b.csrf != "" {
					hdr[ui.CSRFHeader] = who.b.csrf
				}
				rev := g.Control.Registry().Revision
				resp, body := who.b.do(c.method, c.path, c.body, hdr)
				want := c.ok
				switch {
				case who.role == "" && c.need != "":
					want = http.StatusUnauthorized
				case c.need != "" && !who.role.Allows(c.need):
					want = http.StatusForbidden
				}
				if resp.StatusCode != want {
					t.Fatalf("%d, want %d: %s", resp.StatusCode, want, body)
				}
				if want >= 400 && g.Control.Registry().Revision != rev {
					t.Error("a refused request changed the registry")
				}
			})
		}
	}
}
