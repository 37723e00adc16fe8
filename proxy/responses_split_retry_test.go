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

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
	"github.com/sluicehq/sluice/route"
)

// TestProxy_ResponsesSplitConversationRetried: a conversation whose first
// turn the split sent to the candidate, which failed it, and the stable
// version answered on the retry is not the split's: the split did not
// choose stable for it, so its later turns (on stable) stay out of the
// stable arm, which would otherwise gain exactly the conversations the
// candidate could not begin.
func TestProxy_ResponsesSplitConversationRetried(t *testing.T) {
	stable, cand := MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{})
	u, err := url.Parse(cand.URL())
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	failFirst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !bytes.Contains(body, []byte(`"previous_response_id"`)) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error":{"message":"down","type":"server_error"}}`)
			return
		}
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(failFirst.Close)
	log := &spyLog{}
	routes := route.NewHolder(respSplitRoutes(t, stable.URL(), failFirst.URL))
	_, gw := MustProxy(t, proxy.Options{Routes: routes, Log: log})
	c := respSDK(gw)
	ctx := context.Background()
	for i := 0; ; i++ {
		if i == 64 {
			t.Fatal("the split never sent a first turn to the candidate")
		}
		var hr *http.Response
		r, err := c.Responses.New(ctx, respInput("chat", "turn one"), option.WithResponseInto(&hr), option.WithHeader("X-User-Id", fmt.Sprintf("user-%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		first := lastRow(t, log, hr.Header.Get("X-Request-Id"))
		if first.Route != "retry" {
			continue // the split chose stable
		}
		p := respInput("chat", "turn two")
		p.PreviousResponseID = openai.String(r.ID)
		if _, err := c.Responses.New(ctx, p, option.WithResponseInto(&hr)); err != nil {
			t.Fatal(err)
		}
		o := lastRow(t, log, hr.Header.Get("X-Request-Id"))
		if o.Version != "v1" || o.Route != proxy.RoutePrevious || o.SplitConversation {
			t.Fatalf("the later turn of a conversation stable began on a retry: version %s, route %q, split conversation %v; want v1, %q, false", o.Version, o.Route, o.SplitConversation, proxy.RoutePrevious)
		}
		return
	}
}
