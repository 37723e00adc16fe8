package server_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/openai/openai-go/responses"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// storedRow waits for the request log row of request id in the gateway's
// store (SQLite) and returns it.
func storedRow(t *testing.T, st sluice.Store, id string) sluice.Observation {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rows, err := st.Requests(context.Background(), sluice.RequestQuery{RequestID: id})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if !r.Retried {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no request log row for %s", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestGateway_Responses: the OpenAI SDK's Responses API through a whole
// gateway (fasthttp front, proxy, SQLite request log) to two versions of
// model chat split 50/50 on fakellm backends. Whole answers (served on the
// fasthttp hot path) and streams are answered, logged with their tokens,
// TTFT and finish reason, and every later turn of a conversation reaches
// the version that answered the turn it continues.
func TestGateway_Responses(t *testing.T) {
	beh := fakellm.Behavior{OutputTokens: fakellm.TokenCount{Mean: 7}, TTFT: fakellm.Distribution{MedianMS: 40}}
	b1 := MustBackend(t, fakellm.Config{Model: "up-v1.0.0", Default: beh})
	b2 := MustBackend(t, fakellm.Config{Model: "up-v1.1.0", Default: beh})
	doc := chatDoc(map[string]string{"v1.0.0": b1.URL(), "v1.1.0": b2.URL()},
		[]sluice.Weight{{Version: "v1.0.0", Percent: 50}, {Version: "v1.1.0", Percent: 50}}, nil)
	gw, _ := MustGateway(t, "", doc)
	c := openaiClient(gw.URL())
	ctx := context.Background()
	input := func(s string) responses.ResponseNewParams {
		return responses.ResponseNewParams{Model: "chat", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String(s)}}
	}

	for turn, streamed := range []bool{false, true} {
		var hr *http.Response
		var prev string
		var conv string // the version of the conversation's first turn
		for i := range 6 {
			p := input("turn " + strconv.Itoa(i))
			if prev != "" {
				p.PreviousResponseID = openai.String(prev)
			}
			user := option.WithHeader("X-User-Id", "user-"+strconv.Itoa(turn)+"-"+strconv.Itoa(i))
			var usage responses.ResponseUsage
			var text string
			if streamed {
				st := c.Responses.NewStreaming(ctx, p, option.WithResponseInto(&hr), user)
				for st.Next() {
					if ev := st.Current(); ev.Type == "response.completed" {
						prev, usage, text = ev.Response.ID, ev.Response.Usage, ev.Response.OutputText()
					}
				}
				if err := st.Err(); err != nil {
					t.Fatalf("stream turn %d: %v", i+1, err)
				}
			} else {
				r, err := c.Responses.New(ctx, p, option.WithResponseInto(&hr), user)
				if err != nil {
					t.Fatalf("turn %d: %v", i+1, err)
				}
				prev, usage, text = r.ID, r.Usage, r.OutputText()
			}
			got := hr.Header.Get("X-Model-Version")
			if conv == "" {
				conv = got
			} else if got != conv {
				t.Fatalf("streamed %v: turn %d served by %s, the conversation began on %s", streamed, i+1, got, conv)
			}
			if fakellm.CountTokens(text) != 7 {
				t.Errorf("turn %d: text %q", i+1, text)
			}
			o := storedRow(t, gw.Store, hr.Header.Get("X-Request-Id"))
			if o.Endpoint != "/v1/responses" || o.Stream != streamed || o.ErrorClass != "" || o.FinishReason != "stop" ||
				o.InputTokens != int(usage.InputTokens) || o.OutputTokens != 7 || "chat:"+o.Version != conv {
				t.Errorf("streamed %v, turn %d: row %+v", streamed, i+1, o)
			}
			if wantRoute := proxy.RoutePrevious; i > 0 && o.Route != wantRoute {
				t.Errorf("turn %d: route %q, want %q", i+1, o.Route, wantRoute)
			}
			if streamed && (o.TTFT < 35*time.Millisecond || o.TTFT > o.Latency) {
				t.Errorf("turn %d: TTFT %v latency %v, want the first delta's (40 ms)", i+1, o.TTFT, o.Latency)
			}
		}
	}
}
