package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/rollout"
)

// roleCases is every endpoint with a request that succeeds for a token with
// the role needed, on a seeded server (see mustRoleEnv).
var roleCases = []struct {
	method, pattern, path string
	body                  string
	need                  sluice.Role
	ok                    int
}{
	{"GET", "/admin/v1/whoami", "/admin/v1/whoami", "", sluice.RoleViewer, 200},
	{"GET", "/admin/v1/replicas", "/admin/v1/replicas", "", sluice.RoleViewer, 200},
	{"GET", "/admin/v1/models", "/admin/v1/models", "", sluice.RoleViewer, 200},
	{"GET", "/admin/v1/models/{model}", "/admin/v1/models/chat", "", sluice.RoleViewer, 200},
	{"GET", "/admin/v1/versions", "/admin/v1/versions?model=chat", "", sluice.RoleViewer, 200},
	{"GET", "/admin/v1/versions/{id}", "/admin/v1/versions/chat:v1.0.0", "", sluice.RoleViewer, 200},
	{"POST", "/admin/v1/apply", "/admin/v1/apply", `{"doc":{"models":[{"name":"chat","policy":{"kind":"all"}}]},"reason":"r"}`, sluice.RoleAdmin, 200},
	{"POST", "/admin/v1/versions", "/admin/v1/versions", `{"version":{"model":"chat","version":"v1.3.0","endpoints":["http://127.0.0.1:9003"]},"reason":"r"}`, sluice.RoleAdmin, 201},
	{"PUT", "/admin/v1/versions/{id}/stage", "/admin/v1/versions/chat:v1.2.0/stage", `{"stage":"production","reason":"r"}`, sluice.RoleOperator, 200},
	{"PUT", "/admin/v1/models/{model}/policy", "/admin/v1/models/summ/policy", `{"policy":{"kind":"specific","version":"v1"},"reason":"r"}`, sluice.RoleOperator, 200},
	{"PUT", "/admin/v1/models/{model}/split", "/admin/v1/models/summ/split", `{"weights":[{"version":"v1","percent":90},{"version":"v2","percent":10}],"reason":"r"}`, sluice.RoleOperator, 200},
	{"PATCH", "/admin/v1/models/{model}/labels", "/admin/v1/models/chat/labels", `{"labels":{"beta":"v1.1.0"},"reason":"r"}`, sluice.RoleOperator, 200},
	{"PUT", "/admin/v1/models/{model}/labels/{label}", "/admin/v1/models/chat/labels/canary", `{"version":"v1.1.0","reason":"r"}`, sluice.RoleOperator, 200},
	{"DELETE", "/admin/v1/models/{model}/labels/{label}", "/admin/v1/models/summ/labels/stable", `{"reason":"r"}`, sluice.RoleOperator, 200},
	{"PUT", "/admin/v1/models/{model}/rules", "/admin/v1/models/chat/rules", `{"rules":[{"header":"X-Segment","values":["beta"],"version":"v1.1.0"}],"reason":"r"}`, sluice.RoleOperator, 200},
	{"GET", "/admin/v1/routes", "/admin/v1/routes", "", sluice.RoleViewer, 200},
	{"GET", "/admin/v1/routes/{model}", "/admin/v1/routes/chat", "", sluice.RoleViewer, 200},
	{"GET", "/admin/v1/summary/{model}", "/admin/v1/summary/chat?since=1h", "", sluice.RoleViewer, 200},
	{"GET", "/admin/v1/audit", "/admin/v1/audit?model=chat", "", sluice.RoleViewer, 200},
	{"GET", "/admin/v1/audit/at", "/admin/v1/audit/at?model=chat&at=2026-11-22T10:00", "", sluice.RoleViewer, 200},
	{"GET", "/admin/v1/requests", "/admin/v1/requests?model=chat", "", sluice.RoleViewer, 200},
	{"GET", "/admin/v1/usage", "/admin/v1/usage?since=7d&by=version", "", sluice.RoleViewer, 200},
	{"GET", "/admin/v1/tokens", "/admin/v1/tokens", "", sluice.RoleAdmin, 200},
	{"POST", "/admin/v1/tokens", "/admin/v1/tokens", `{"name":"newbie","role":"viewer","reason":"r"}`, sluice.RoleAdmin, 201},
	{"DELETE", "/admin/v1/tokens/{name}", "/admin/v1/tokens/doomed", `{"reason":"r"}`, sluice.RoleAdmin, 200},
	{"GET", "/admin/v1/keys", "/admin/v1/keys", "", sluice.RoleViewer, 200},
	{"POST", "/admin/v1/keys", "/admin/v1/keys", `{"name":"team-new","models":["chat"],"reason":"r"}`, sluice.RoleAdmin, 201},
	{"POST", "/admin/v1/keys/{name}/rotate", "/admin/v1/keys/doomed-key/rotate", `{"grace":"1h","reason":"r"}`, sluice.RoleAdmin, 200},
	{"PATCH", "/admin/v1/keys/{name}", "/admin/v1/keys/doomed-key", `{"rate_limit":5,"reason":"r"}`, sluice.RoleAdmin, 200},
	{"DELETE", "/admin/v1/keys/{name}", "/admin/v1/keys/doomed-key", `{"reason":"r"}`, sluice.RoleAdmin, 200},
	{"GET", "/admin/v1/rollouts", "/admin/v1/rollouts", "", sluice.RoleViewer, 200},
	{"GET", "/admin/v1/rollouts", "/admin/v1/rollouts?model=chat&history=true&limit=5", "", sluice.RoleViewer, 200},
	{"GET", "/admin/v1/rollouts/{model}", "/admin/v1/rollouts/chat", "", sluice.RoleViewer, 200},
	{"GET", "/admin/v1/rollouts/{model}", "/admin/v1/rollouts/chat?id=chat-1", "", sluice.RoleViewer, 200},
	{"POST", "/admin/v1/rollouts", "/admin/v1/rollouts", `{"spec":{"model":"summ","candidate":"v2","strategy":"canary"},"reason":"r"}`, sluice.RoleOperator, 201},
	{"POST", "/admin/v1/rollouts/{model}/{action}", "/admin/v1/rollouts/chat/pause", `{"reason":"r"}`, sluice.RoleOperator, 200},
	{"GET", "/admin/v1/shadow/{model}/pairs", "/admin/v1/shadow/chat/pairs?differ=true", "", sluice.RoleViewer, 200},
	{"GET", "/admin/v1/plan/{model}", "/admin/v1/plan/chat?to=v1.2.0", "", sluice.RoleViewer, 200},
	{"POST", "/admin/v1/drills", "/admin/v1/drills", `{"model":"summ","to":"v2","reason":"r"}`, sluice.RoleOperator, 200},
	{"POST", "/admin/v1/alerts/test", "/admin/v1/alerts/test", `{"severity":"warning","reason":"r"}`, sluice.RoleAdmin, 200},
}

// callers are the credentials each endpoint is tried with.
var callers = []struct {
	name   string
	secret string
	role   sluice.Role // "" for no or a bad token
}{
	{"NoToken", "", ""},
	{"BadToken", "slk_not-a-real-token", ""},
	{"Viewer", viewerSecret, sluice.RoleViewer},
	{"Operator", operatorSecret, sluice.RoleOperator},
	{"Admin", adminSecret, sluice.RoleAdmin},
}

// mustRoleEnv is a seeded server with a label "stable", a stored token
// "doomed" and a stored client key "doomed-key", so that every row of roleCases succeeds once (a label of
// chat, whose live rollout owns its stable label, is changed as beta or
// canary; summ's stable is the one removed).
func mustRoleEnv(tb testing.TB) *env {
	tb.Helper()
	e := MustEnv(tb)
	e.MustSeed(tb)
	ctx := context.Background()
	if _, err := e.Oper.SetLabel(ctx, "chat", "stable", "v1.0.0", "setup"); err != nil {
		tb.Fatal(err)
	}
	if _, err := e.Admin.CreateToken(ctx, "doomed", sluice.RoleViewer, "setup"); err != nil {
		tb.Fatal(err)
	}
	if _, err := e.Admin.CreateKey(ctx, api.KeyRequest{Name: "doomed-key", Reason: "setup"}); err != nil {
		tb.Fatal(err)
	}
	// A second model to start rollouts and drills on and to set the policy
	// of, and a live rollout of chat to read and pause (it owns chat's
	// policy).
	summ := []sluice.Version{
		{Model: "summ", Version: "v1", Endpoints: []string{"http://127.0.0.1:9001"}, Stage: sluice.StageProduction},
		{Model: "summ", Version: "v2", Endpoints: []string{"http://127.0.0.1:9002"}, Stage: sluice.StageStaging},
	}
	e.MustRegister(tb, summ...)
	if _, err := e.Oper.SetLabel(ctx, "summ", "stable", "v1", "setup"); err != nil {
		tb.Fatal(err)
	}
	_, err := e.Ctl.Do(ctx, "setup", "a live rollout", func(ed *sluice.Edit) error {
		r, _, err := rollout.Start("chat-1", sluice.RolloutSpec{Model: "chat", Baseline: "v1.0.0", Candidate: "v1.2.0", Strategy: sluice.StrategyCanary}, ed.Registry().Models["chat"], "setup", "setup", t0)
		if err != nil {
			return err
		}
		r, _, err = rollout.Next(r, rollout.Event{Kind: rollout.EvWarmed}, t0)
		if err != nil {
			return err
		}
		return ed.PutRollout(r)
	})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

func TestServer_Roles(t *testing.T) {
	for _, tc := range roleCases {
		t.Run(tc.method+" "+tc.pattern, func(t *testing.T) {
			t.Parallel()
			denied := mustRoleEnv(t) // only reads succeed here
			before := auditCount(t, denied)
			for _, c := range callers {
				t.Run(c.name, func(t *testing.T) {
					var body []byte
					if tc.body != "" {
						body = []byte(tc.body)
					}
					switch {
					case c.role == "":
						r := denied.do(t, tc.method, tc.path, c.secret, body)
						r.want(t, http.StatusUnauthorized, "Authorization: Bearer", "sluice token create")
					case !c.role.Allows(tc.need):
						r := denied.do(t, tc.method, tc.path, c.secret, body)
						r.want(t, http.StatusForbidden, "has role "+string(c.role), "this needs "+string(tc.need))
					default:
						e := denied
						if tc.method != "GET" {
							e = mustRoleEnv(t) // each change on a fresh server
						}
						r := e.do(t, tc.method, tc.path, c.secret, body)
						r.want(t, tc.ok)
					}
				})
			}
			if after := auditCount(t, denied); after != before {
				t.Errorf("refused requests wrote %d audit entries", after-before)
			}
		})
	}
}

func TestEndpoints_CoveredByRoleTable(t *testing.T) {
	covered := map[string]sluice.Role{}
	for _, tc := range roleCases {
		covered[tc.method+" "+tc.pattern] = tc.need
	}
	eps := api.Endpoints()
	// A path may have more than one row: a query that reads something
	// else (a model's rollout history, an older rollout by its id).
	if len(eps) != len(covered) {
		t.Errorf("%d endpoints, %d in the role table", len(eps), len(covered))
	}
	for _, ep := range eps {
		need, ok := covered[ep.Method+" "+ep.Path]
		if !ok {
			t.Errorf("%s %s is missing from the role table", ep.Method, ep.Path)
		} else if need != ep.Role {
			t.Errorf("%s %s needs %s, the role table says %s", ep.Method, ep.Path, ep.Role, need)
		}
	}
}

// auditCount counts every audit entry.
func auditCount(tb testing.TB, e *env) int {
	tb.Helper()
	entries, err := e.Admin.Audit(context.Background(), sluice.AuditQuery{Limit: api.MaxLimit})
	if err != nil {
		tb.Fatal(err)
	}
	return len(entries)
}
