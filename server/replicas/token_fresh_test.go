package replicas_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestReplicas_NewTokenWorksEverywhereAtOnce: a token created through one
// replica and used at once through another (a CI job's next step behind a
// load balancer) was refused there as "not known (it may have been
// deleted)" until that replica read the tokens again, and so was signing
// in to that replica's dashboard with it.
func TestReplicas_NewTokenWorksEverywhereAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL-backed processes")
	}
	f := newFleet(t, pgtest.Schema(t))
	rs := f.start(2)
	ctx := context.Background()
	for i := range 10 {
		tok, err := rs[0].client.CreateToken(ctx, fmt.Sprintf("ci-%d", i), sluice.RoleViewer, "a CI job")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := api.NewClient(rs[1].url, tok.Secret).Models(ctx); err != nil {
			t.Fatalf("token %d created through %s, used at once through %s: %v", i, rs[0].name, rs[1].name, err)
		}
		// And to sign in to the dashboard.
		tok, err = rs[0].client.CreateToken(ctx, fmt.Sprintf("dash-%d", i), sluice.RoleViewer, "on call")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(rs[1].url+"/ui/login", "application/json", strings.NewReader(`{"token":"`+tok.Secret+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("dashboard sign-in through %s with token %d just created through %s: %s", rs[1].name, i, rs[0].name, resp.Status)
		}
	}
}
