package proxy_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
	"github.com/sluicehq/sluice/route"
)

// laterTurnsFail is a Responses backend in front of b that answers a
// conversation's later turns (a request with previous_response_id) whose
// input says "fail" with a 500: a candidate that mishandles the state of a
// conversation, and answers its first turns well.
func laterTurnsFail(t *testing.T, b *fakellm.Server) string {
	t.Helper()
	u, err := url.Parse(b.URL())
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if bytes.Contains(body, []byte(`"previous_response_id"`)) && bytes.Contains(body, []byte(`"fail`)) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error":{"message":"conversation state lost","type":"server_error"}}`)
			return
		}
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestProxy_ResponsesSplitConversation: during a split (a canary's two
// arms), the later turns of a Responses conversation the split began go
// to the version that answered its first turn, logged with route
// previous_response and marked the split's (SplitConversation), and the
// canary analysis's sample (observe's Randomized) counts them: a candidate
// that fails only later turns has those failures counted against it. A
// conversation begun with a pin stays out of the sample, its turns too.
func TestProxy_ResponsesSplitConversation(t *testing.T) {
	stable, cand := MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{})
	rec, log := newSpyRecorder(), &spyLog{}
	routes := route.NewHolder(respSplitRoutes(t, stable.URL(), laterTurnsFail(t, cand)))
	_, gw := MustProxy(t, proxy.Options{Routes: routes, Recorder: rec, Log: log})
	c := respSDK(gw)
	ctx := context.Background()

	// conversation sends a first turn as model (the split's "chat", or a
	// pin), then three later turns as the bare "chat": the second streamed,
	// the last saying "fail". It returns the version that answered and
	// the later turns' request log rows.
	conversation := func(model, user string) (string, []sluice.Observation) {
		t.Helper()
		var hr *http.Response
		r, err := c.Responses.New(ctx, respInput(model, "turn one"), option.WithResponseInto(&hr), option.WithHeader("X-User-Id", user))
		if err != nil {
			t.Fatalf("%s's first turn: %v", user, err)
		}
		version, prev := hr.Header.Get("X-Model-Version"), r.ID
		var rows []sluice.Observation
		for i, input := range []string{"turn two", "turn three", "fail on turn four"} {
			p := respInput("chat", input)
			p.PreviousResponseID = openai.String(prev)
			// Another user key on each turn: the split alone would send
			// some of them elsewhere.
			user := option.WithHeader("X-User-Id", fmt.Sprintf("%s-turn-%d", user, i+2))
			if i == 1 {
				st := c.Responses.NewStreaming(ctx, p, option.WithResponseInto(&hr), user)
				for st.Next() {
					if ev := st.Current(); ev.Type == "response.completed" {
						prev = ev.Response.ID
					}
				}
				if err := st.Err(); err != nil {
					t.Fatalf("%s's streamed turn %d: %v", model, i+2, err)
				}
			} else {
				r, err := c.Responses.New(ctx, p, option.WithResponseInto(&hr), user)
				switch {
				case err == nil:
					prev = r.ID
				case version != "chat:v2" || input[:4] != "fail":
					t.Fatalf("%s's turn %d on %s: %v", model, i+2, version, err)
				}
			}
			if got := hr.Header.Get("X-Model-Version"); got != version {
				t.Fatalf("turn %d served by %s, want %s (turn one's)", i+2, got, version)
			}
			rows = append(rows, lastRow(t, log, hr.Header.Get("X-Request-Id")))
		}
		return version, rows
	}

	// Conversations through the split until each version has begun one.
	began := map[string]int{}
	for i := 0; began["chat:v1"] == 0 || began["chat:v2"] == 0; i++ {
		if i == 64 {
			t.Fatalf("the split began conversations on %v only", began)
		}
		v, rows := conversation("chat", fmt.Sprintf("user-%d", i))
		began[v]++
		for _, o := range rows {
			if o.Route != proxy.RoutePrevious || !o.SplitConversation {
				t.Fatalf("a later turn of a conversation the split began on %s: route %q, split conversation %v; want %q, true", v, o.Route, o.SplitConversation, proxy.RoutePrevious)
			}
		}
		if v == "chat:v2" && rows[2].ErrorClass != "upstream_5xx" {
			t.Fatalf("the candidate's failed later turn is logged with error class %q, want upstream_5xx", rows[2].ErrorClass)
		}
	}
	// A conversation a QA suite began pinned to the candidate.
	if v, rows := conversation("chat:v2", "qa"); v != "chat:v2" {
		t.Fatalf("pinned conversation answered by %s", v)
	} else {
		for _, o := range rows {
			if o.Route != proxy.RoutePrevious || o.SplitConversation {
				t.Fatalf("a later turn of a pinned conversation: route %q, split conversation %v; want %q, false", o.Route, o.SplitConversation, proxy.RoutePrevious)
			}
		}
	}

	// Every conversation the split began is 4 requests in its version's
	// sample; the candidate failed 1 of each of its own, and the pinned
	// conversation's 4 are left out.
	want := map[string]struct{ requests, errors, left int64 }{
		"v1": {4 * int64(began["chat:v1"]), 0, 0},
		"v2": {4 * int64(began["chat:v2"]), int64(began["chat:v2"]), 4},
	}
	for v, w := range want {
		var s struct{ requests, errors, left int64 }
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			got := rec.Randomized("chat", v, "", time.Time{})
			s.requests, s.errors, s.left = got.Requests, got.Errors, got.NotRandomized
			if s == w || time.Now().After(deadline) {
				break
			}
		}
		if v == "v1" {
			// The heuristic scores of their answers too (the candidate's
			// failed turn has none).
			if got := len(rec.Randomized("chat", v, "", time.Time{}).QualityBySource["heuristic"]); int64(got) != w.requests {
				t.Errorf("%s's sample of the split holds %d heuristic scores, want %d", v, got, w.requests)
			}
		}
		if s != w {
			t.Errorf("%s's sample of the split: %d requests, %d errors, %d not judged; want %d, %d, %d (conversations begun: %v)", v, s.requests, s.errors, s.left, w.requests, w.errors, w.left, began)
		}
	}
}
