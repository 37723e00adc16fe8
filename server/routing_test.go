package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

func post(t *testing.T, url, body string, headers map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/v1/chat/completions", strings.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestGateway_Routing covers the decisions ahead of the split over real
// HTTP: rules, the force header (authorised callers only), retry on
// stable, and health-based exclusion.
func TestGateway_Routing(t *testing.T) {
	b1 := MustBackend(t, fakellm.Config{})
	b2 := MustBackend(t, fakellm.Config{})
	doc := chatDoc(map[string]string{"v1.0.0": b1.URL(), "v1.1.0": b2.URL()}, []sluice.Weight{{Version: "v1.0.0", Percent: 50}, {Version: "v1.1.0", Percent: 50}}, map[string]string{"stable": "v1.0.0"})
	doc.Models[0].Rules = []sluice.Rule{{Header: "X-User-Segment", Values: []string{"beta"}, Version: "v1.1.0"}}
	gw, admin := MustGateway(t, "", doc)
	ctx := context.Background()
	viewer, err := gw.CreateToken(ctx, "vic", sluice.RoleViewer, "test", "setup")
	if err != nil {
		t.Fatal(err)
	}
	body := `{"model":"chat","messages":[]}`

	t.Run("RuleBySegment", func(t *testing.T) {
		for i := 0; i < 20; i++ {
			if v := post(t, gw.URL(), body, map[string]string{"X-User-Segment": "beta"}).Header.Get("X-Model-Version"); v != "chat:v1.1.0" {
				t.Fatalf("beta segment served by %s", v)
			}
		}
	})
	t.Run("ForceHeaderNeedsOperator", func(t *testing.T) {
		for i := 0; i < 20; i++ {
			r := post(t, gw.URL(), body, map[string]string{"X-Sluice-Version": "v1.0.0", "Authorization": "Bearer " + admin, "X-User-Segment": "beta"})
			if v := r.Header.Get("X-Model-Version"); v != "chat:v1.0.0" {
				t.Fatalf("forced request served by %s", v)
			}
		}
		// A viewer's or an anonymous caller's force header is ignored: the
		// rule decides.
		for _, auth := range []string{"", "Bearer " + viewer} {
			r := post(t, gw.URL(), body, map[string]string{"X-Sluice-Version": "v1.0.0", "Authorization": auth, "X-User-Segment": "beta"})
			if v := r.Header.Get("X-Model-Version"); v != "chat:v1.1.0" {
				t.Fatalf("force header honoured for %q: served by %s", auth, v)
			}
		}
	})
	t.Run("RetryOnStable", func(t *testing.T) {
		b2.SetBehavior("", fakellm.Behavior{ErrorRate: 1})
		defer b2.SetBehavior("", fakellm.Behavior{})
		for i := 0; i < 20; i++ {
			r := post(t, gw.URL(), body, map[string]string{"X-User-Segment": "beta"})
			if r.StatusCode != 200 || r.Header.Get("X-Model-Version") != "chat:v1.0.0" {
				t.Fatalf("status %d from %s, want 200 from the stable version after a retry", r.StatusCode, r.Header.Get("X-Model-Version"))
			}
		}
		// The failures count against the version that failed.
		w := gw.Recorder.Window("chat", "v1.1.0", "", time.Now().Add(-time.Minute))
		if w.Errors < 20 {
			t.Errorf("candidate window holds %d errors, want the 20 failed attempts", w.Errors)
		}
	})
	t.Run("UnhealthyLeftOutOfSplit", func(t *testing.T) {
		b2.SetHealthy(false)
		defer b2.SetHealthy(true)
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if s := gw.Routes.Load().Models()[0].Split; len(s) == 2 && s[1].Effective == 0 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		for i := 0; i < 50; i++ {
			body := `{"model":"chat","user":"u` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `","messages":[]}`
			if v := post(t, gw.URL(), body, nil).Header.Get("X-Model-Version"); v != "chat:v1.0.0" {
				t.Fatalf("unhealthy version served a split request (%s)", v)
			}
		}
	})
}
