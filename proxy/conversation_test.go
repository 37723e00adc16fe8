package proxy_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
	"github.com/sluicehq/sluice/route"
)

// TestProxy_ResponsesConversation: every turn of a Responses conversation
// (its first, and each that continues it, whole or streamed) carries one
// Conversation, named by the first response's id, which another
// conversation does not share: the analysis counts a conversation's turns
// as one cluster (stats.ClusteredRate).
func TestProxy_ResponsesConversation(t *testing.T) {
	stable, cand := MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{})
	log := &spyLog{}
	routes := route.NewHolder(respSplitRoutes(t, stable.URL(), cand.URL()))
	_, gw := MustProxy(t, proxy.Options{Routes: routes, Log: log})
	c := respSDK(gw)
	ctx := context.Background()

	convs := map[uint32]string{}
	for i := range 3 {
		user := option.WithHeader("X-User-Id", fmt.Sprintf("user-%d", i))
		var hr *http.Response
		r, err := c.Responses.New(ctx, respInput("chat", "turn one"), option.WithResponseInto(&hr), user)
		if err != nil {
			t.Fatal(err)
		}
		first := lastRow(t, log, hr.Header.Get("X-Request-Id"))
		if first.Conversation == 0 {
			t.Fatalf("conversation %d's first turn has no Conversation", i)
		}
		if other, ok := convs[first.Conversation]; ok {
			t.Fatalf("conversations %s and %s share Conversation %d", other, r.ID, first.Conversation)
		}
		convs[first.Conversation] = r.ID
		prev := r.ID
		for turn := 2; turn <= 4; turn++ {
			p := respInput("chat", fmt.Sprintf("turn %d", turn))
			p.PreviousResponseID = openai.String(prev)
			if turn == 3 {
				st := c.Responses.NewStreaming(ctx, p, option.WithResponseInto(&hr), user)
				for st.Next() {
					if ev := st.Current(); ev.Type == "response.completed" {
						prev = ev.Response.ID
					}
				}
				if err := st.Err(); err != nil {
					t.Fatal(err)
				}
			} else {
				r, err := c.Responses.New(ctx, p, option.WithResponseInto(&hr), user)
				if err != nil {
					t.Fatal(err)
				}
				prev = r.ID
			}
			o := lastRow(t, log, hr.Header.Get("X-Request-Id"))
			if o.Route != proxy.RoutePrevious || o.Conversation != first.Conversation {
				t.Fatalf("conversation %d's turn %d: route %q, Conversation %d; want %q, %d (its first turn's)", i, turn, o.Route, o.Conversation, proxy.RoutePrevious, first.Conversation)
			}
		}
	}
}
