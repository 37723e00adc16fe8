package proxy_test

import (
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
	"github.com/sluicehq/sluice/route"
)

// TestRoute_CategoryRuleSeesBodyCategory: the README documents the
// request category as the X-Request-Category header "(fallback: body
// metadata.category)" and shows the rule
// {header: X-Request-Category, values: [payments], version: v1.1.0}
// to keep a category off the canary. The proxy filed a request whose
// category is in metadata.category under "payments" for the analysis, but
// the rule only looked at headers, so the same request went to the split.
func TestRoute_CategoryRuleSeesBodyCategory(t *testing.T) {
	b := MustBackend(t, fakellm.Config{})
	e := sluice.NewRegistry().Edit("test", "fixture", t0)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("fixture: %v", err)
		}
	}
	_, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: "v1.1.0", Stage: sluice.StageProduction, Endpoints: []string{b.URL()}})
	must(err)
	_, err = e.RegisterVersion(sluice.Version{Model: "chat", Version: "v1.2.0", Stage: sluice.StageStaging, Endpoints: []string{b.URL()}})
	must(err)
	// The whole split on the candidate, so the test does not depend on a
	// user's bucket: only the rule can send the request to v1.1.0.
	must(e.SetSplit("chat", []sluice.Weight{{Version: "v1.2.0", Percent: 100}}))
	must(e.SetRules("chat", []sluice.Rule{{Header: "X-Request-Category", Values: []string{"payments"}, Version: "v1.1.0"}}))
	_, err = e.Finish()
	must(err)
	rec := newSpyRecorder()
	_, url := MustProxy(t, proxy.Options{Routes: route.NewHolder(route.Build(e.Registry(), nil, route.NewOptions())), Recorder: rec})

	// By header: the rule applies (sanity).
	resp, _ := chat(t, url, "chat", "X-Request-Category", "payments")
	if v := resp.Header.Get("X-Model-Version"); v != "chat:v1.1.0" {
		t.Fatalf("category by header went to %s, want chat:v1.1.0", v)
	}
	// By body metadata: the proxy's documented fallback.
	resp, body := post(t, url, "/v1/chat/completions", `{"model":"chat","metadata":{"category":"payments"},"messages":[{"role":"user","content":"refund"}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	obs := rec.all()
	last := obs[len(obs)-1]
	if v := resp.Header.Get("X-Model-Version"); v != "chat:v1.1.0" {
		t.Errorf("a request the gateway files under category %q (metadata.category) went to %s by route %q: the payments rule kept it only when the category came as a header", last.Category, v, last.Route)
	}
}

// TestRoute_EmptyCategoryHeaderKeepsBodyCategory: an empty
// X-Request-Category header (a client template with an unset variable)
// hid the body's metadata.category: the request was filed under category
// "" instead of "payments". The sticky headers and the force header treat
// an empty value as absent (route.Table.stickyKey, Decide); now the
// category header does too.
func TestRoute_EmptyCategoryHeaderKeepsBodyCategory(t *testing.T) {
	b := MustBackend(t, fakellm.Config{})
	rec := newSpyRecorder()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, b.URL(), ""), Recorder: rec})
	resp, body := post(t, url, "/v1/chat/completions", `{"model":"chat","metadata":{"category":"payments"},"messages":[{"role":"user","content":"refund"}]}`, "X-Request-Category", "")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	obs := rec.all()
	if got := obs[len(obs)-1].Category; got != "payments" {
		t.Errorf("category %q, want %q from metadata.category (the header was empty)", got, "payments")
	}
}
