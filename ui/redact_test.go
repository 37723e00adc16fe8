package ui_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// TestDashboard_RedactsEndpointCredentials checks that a viewer's and an
// operator's dashboard reads show a backend URL's credentials as REDACTED,
// and an admin's as written.
func TestDashboard_RedactsEndpointCredentials(t *testing.T) {
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 2}))
	_, err := g.Control.Do(context.Background(), "alice-admin", "a backend behind basic auth", func(e *sluice.Edit) error {
		_, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: "v2.0.0", Endpoints: []string{"http://svc:pa55word@127.0.0.1:9"}, Stage: sluice.StageStaging})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + g.AdminAddr()
	for _, c := range []struct {
		name, secret string
		sees         bool
	}{{"viewer", g.viewer, false}, {"operator", g.operator, false}, {"admin", g.admin, true}} {
		b := signIn(t, base, c.secret)
		for _, path := range []string{"/ui/api/admin/v1/models", "/ui/api/admin/v1/versions/chat:v2.0.0", "/ui/api/admin/v1/audit?model=chat"} {
			resp, body := b.do("GET", path, "", nil)
			if resp.StatusCode != 200 {
				t.Fatalf("%s GET %s: %d %s", c.name, path, resp.StatusCode, body)
			}
			if got := strings.Contains(string(body), "svc:pa55word@"); got != c.sees {
				t.Errorf("%s GET %s shows the credentials: %v, want %v: %s", c.name, path, got, c.sees, body)
			}
		}
	}
}
