package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/rollout"
	"github.com/sluicehq/sluice/sqlite"
)

// The static tokens every test server knows.
const (
	viewerSecret   = "viewer-secret"
	operatorSecret = "operator-secret"
	adminSecret    = "admin-secret"
)

// clock is a settable clock shared by the control service and the API.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// env is a running admin API over a real SQLite store.
type env struct {
	Store  *sqlite.Store
	Auth   *api.Auth
	Ctl    *control.Service
	Clock  *clock
	URL    string
	Admin  *api.Client
	Oper   *api.Client
	Viewer *api.Client
	// KeyReloads counts the API's calls of Options.ReloadKeys; KeyReloadErr,
	// when set, is their answer.
	KeyReloads   *atomic.Int64
	KeyReloadErr *atomic.Pointer[error]
}

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// MustEnv starts an admin API server on loopback with a fresh store, three
// static tokens (viewer, operator, admin), a routes view and a summary.
func MustEnv(tb testing.TB) *env {
	tb.Helper()
	return mustEnvWith(tb, nil)
}

// mustEnvWith is MustEnv with the store the API and the control plane use
// wrapped by wrap (nil: as opened); env.Store is the store as opened.
func mustEnvWith(tb testing.TB, wrap func(sluice.Store) sluice.Store) *env {
	tb.Helper()
	st, err := sqlite.Open(filepath.Join(tb.TempDir(), "s.db"))
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	var used sluice.Store = st
	if wrap != nil {
		used = wrap(st)
	}
	clk := &clock{t: t0}
	ctl, err := control.New(context.Background(), used, clk.Now)
	if err != nil {
		tb.Fatalf("control: %v", err)
	}
	auth := api.NewAuth(st, []sluice.Token{
		{Name: "vera", Role: sluice.RoleViewer, Hash: sluice.HashSecret(viewerSecret)},
		{Name: "otto", Role: sluice.RoleOperator, Hash: sluice.HashSecret(operatorSecret)},
		{Name: "ada", Role: sluice.RoleAdmin, Hash: sluice.HashSecret(adminSecret)},
	})
	auth.Now = clk.Now
	ctrl := rollout.New(rollout.Options{Control: ctl, Windows: observe.New(observe.Options{Now: clk.Now}), Now: clk.Now})
	reloads, reloadErr := new(atomic.Int64), new(atomic.Pointer[error])
	srv := api.New(api.Options{
		// One config file key, and keys required.
		ConfigKeys: func() ([]sluice.StoredKey, bool) {
			return []sluice.StoredKey{{Name: "web-app", Hash: sluice.HashSecret(webAppSecret), Models: []string{"chat"}, RateLimit: 5}}, true
		},
		ReloadKeys: func(context.Context) error {
			reloads.Add(1)
			if p := reloadErr.Load(); p != nil {
				return *p
			}
			return nil
		},
		Control:  ctl,
		Auth:     auth,
		Rollouts: rolloutsAdapter{ctrl},
		Alerts:   &rollout.Webhooks{},
		Routes:   func() any { return map[string]any{"revision": ctl.Registry().Revision} },
		ModelRoutes: func(model string) (any, bool) {
			if ctl.Registry().Models[model] == nil {
				return nil, false
			}
			return map[string]any{"name": model, "revision": ctl.Registry().Revision}, true
		},
		Summary: func(model string, since time.Time) any {
			return map[string]any{"model": model, "since": since}
		},
		Replicas: func(context.Context) (api.ReplicaList, error) {
			return api.ReplicaList{Replicas: []api.Replica{{Name: "lone", Release: "devel"}}}, nil
		},
		ShadowPairs: keptPairs{{Seq: 1, Model: "chat", Prompt: "hi", Diff: sluice.ShadowDiff{Refusal: "none", Error: "none", ToolCall: "none"}}},
	})
	hs := httptest.NewServer(srv.Handler())
	tb.Cleanup(hs.Close)
	return &env{
		Store: st, Auth: auth, Ctl: ctl, Clock: clk, URL: hs.URL, KeyReloads: reloads, KeyReloadErr: reloadErr,
		Admin:  &api.Client{BaseURL: hs.URL, Token: adminSecret, HTTP: hs.Client()},
		Oper:   &api.Client{BaseURL: hs.URL, Token: operatorSecret, HTTP: hs.Client()},
		Viewer: &api.Client{BaseURL: hs.URL, Token: viewerSecret, HTTP: hs.Client()},
	}
}

// rolloutsAdapter gives the API a real rollout controller whose fire
// drills have no data plane to send through (the server package tests
// drills end to end).
type rolloutsAdapter struct{ *rollout.Controller }

func (a rolloutsAdapter) Drill(ctx context.Context, actor, reason, model, cand string, p float64) (rollout.DrillReport, error) {
	return a.Controller.Drill(ctx, actor, reason, model, cand, p, func(context.Context, string) (string, error) {
		return "", errors.New("no data plane in this test")
	})
}

// version returns a version of model chat with tag and stage.
func version(tag string, stage sluice.Stage) sluice.Version {
	return sluice.Version{Model: "chat", Version: tag, Endpoints: []string{"http://127.0.0.1:9001"}, Family: "llama-3", Stage: stage}
}

// MustRegister registers versions through the API as the admin.
func (e *env) MustRegister(tb testing.TB, vs ...sluice.Version) {
	tb.Helper()
	for _, v := range vs {
		if _, err := e.Admin.RegisterVersion(context.Background(), v, "test setup"); err != nil {
			tb.Fatalf("register %s: %v", v.ID(), err)
		}
	}
}

// MustSeed registers chat v1.0.0 and v1.1.0 in production and v1.2.0 in
// staging.
func (e *env) MustSeed(tb testing.TB) {
	tb.Helper()
	e.MustRegister(tb, version("v1.0.0", sluice.StageProduction), version("v1.1.0", sluice.StageProduction), version("v1.2.0", sluice.StageStaging))
}

// response is a raw HTTP answer.
type response struct {
	Status int
	Body   []byte
	Err    api.ErrorDetail
}

// do sends a raw request with the bearer secret (none when empty).
func (e *env) do(tb testing.TB, method, path, secret string, body []byte) response {
	tb.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := response{Status: resp.StatusCode, Body: b}
	if resp.StatusCode >= 400 {
		var eb api.ErrorBody
		if err := json.Unmarshal(b, &eb); err != nil {
			tb.Fatalf("%s %s: error body is not JSON: %v: %s", method, path, err, b)
		}
		if eb.Error.Code == "" || eb.Error.Type != eb.Error.Code || eb.Error.Message == "" {
			tb.Fatalf("%s %s: error body lacks code, type or message: %s", method, path, b)
		}
		r.Err = eb.Error
	}
	return r
}

// wantStatus checks a raw answer's status and that its error message holds
// every one of the substrings.
func (r response) want(tb testing.TB, status int, substrings ...string) {
	tb.Helper()
	if r.Status != status {
		tb.Fatalf("status = %d, want %d; body: %s", r.Status, status, r.Body)
	}
	for _, s := range substrings {
		if !strings.Contains(r.Err.Message, s) {
			tb.Errorf("message %q does not contain %q", r.Err.Message, s)
		}
	}
}

// wantFields checks the fields the error names.
func (r response) wantFields(tb testing.TB, fields ...string) {
	tb.Helper()
	for _, f := range fields {
		if !slices.Contains(r.Err.Fields, f) {
			tb.Errorf("fields %q do not contain %q", r.Err.Fields, f)
		}
	}
}

// wantErr checks that err is a *sluice.Error with the code (and so the
// status), naming the fields and holding the substrings.
func wantErr(tb testing.TB, err error, code sluice.Code, fields []string, substrings ...string) {
	tb.Helper()
	var se *sluice.Error
	if !errors.As(err, &se) {
		tb.Fatalf("err = %v (%T), want a *sluice.Error with code %s", err, err, code)
	}
	if se.Code != code {
		tb.Fatalf("code = %s (status %d), want %s (status %d); message: %s", se.Code, se.Code.HTTPStatus(), code, code.HTTPStatus(), se.Message)
	}
	for _, f := range fields {
		if !slices.Contains(se.Fields, f) {
			tb.Errorf("fields %q do not contain %q", se.Fields, f)
		}
	}
	for _, s := range substrings {
		if !strings.Contains(se.Message, s) {
			tb.Errorf("message %q does not contain %q", se.Message, s)
		}
	}
}

// mustJSON marshals v.
func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// keptPairs stands for the proxy's shadow pairs: the server package tests
// the pairs of a real shadow run end to end.
type keptPairs []sluice.ShadowPair

func (k keptPairs) FindShadowPairs(_ context.Context, q sluice.ShadowPairQuery) ([]sluice.ShadowPair, bool, error) {
	var out []sluice.ShadowPair
	for i := range k {
		if q.Match(&k[i]) {
			out = append(out, k[i])
		}
	}
	return out, false, nil
}

func (k keptPairs) Shadow(string) (string, float64) { return "", 0 }
func (k keptPairs) ShadowPairsKept() int            { return len(k) }
func (k keptPairs) FleetPairs() bool                { return false }
