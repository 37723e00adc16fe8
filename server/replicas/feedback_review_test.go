package replicas_test

// The tests here came from a review of feedback taken by any replica, with
// the bugs they found; their comments say what the code did before the
// fix.

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/proxy"
)

// TestReplicas_FeedbackReview: two replicas on one PostgreSQL schema, B
// reaching the store through a proxy the test can cut; feedback on A's
// answers goes to B, which reads the answer's row from the fleet's
// request log.
func TestReplicas_FeedbackReview(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two gateway processes (skipped under -short)")
	}
	// Requests of category "long" are answered 400 tokens at 40 a second:
	// a stream of 10 s, which the test reads the start of.
	backend := fakellm.New(fakellm.Config{Categories: map[string]fakellm.Behavior{
		"long": {TokensPerSecond: 40, OutputTokens: fakellm.TokenCount{Mean: 400}}}})
	if err := backend.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(backend.Close)
	dir := t.TempDir()
	models := filepath.Join(dir, "models.yaml")
	os.WriteFile(models, []byte(strings.ReplaceAll(modelsYAML, "BACKEND", backend.URL())), 0o644)
	const flush = 50 * time.Millisecond // writeFleetConfig's request_log.flush_interval
	cfg := writeFleetConfig(dir, models, `client_keys:
  - {name: app, secret: `+appKey+`}
  - {name: other, secret: `+otherKey+`}
`)
	dsn := pgtest.Schema(t)
	link := pgtest.NewProxy(t, dsn)
	f := &fleet{t: t, dir: dir, cfg: cfg, dsn: dsn, backend: backend}
	a := f.start(1)[0]
	f.dsn = link.DSN(dsn)
	b := f.start(1)[0]
	ctx := t.Context()

	// ask has r answer one chat request sent with key app and returns its
	// X-Request-Id, once the fleet's request log holds its row.
	ask := func(t *testing.T, r *replica) string {
		t.Helper()
		sdk := openai.NewClient(option.WithBaseURL(r.url+"/v1/"), option.WithAPIKey(appKey), option.WithMaxRetries(0))
		var raw *http.Response
		if _, err := sdk.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("a question")}}, option.WithResponseInto(&raw)); err != nil {
			t.Fatal(err)
		}
		id := raw.Header.Get("X-Request-Id")
		waitFor(t, 20*time.Second, "the request log's row of "+id, func() bool {
			got, err := a.client.Requests(ctx, sluice.RequestQuery{RequestID: id})
			return err == nil && len(got) > 0
		})
		return id
	}
	rate := func(t *testing.T, r *replica, key, id string) (int, string, time.Duration) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, r.url+"/v1/feedback", strings.NewReader(`{"request_id":"`+id+`","thumbs":"down"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		start := time.Now()
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(body), time.Since(start)
	}

	// Another key's answer gets the same 404 as no answer at all, so that
	// a key learns nothing of another's requests: it got it at once,
	// where an id with no row waits for it, so the time of the 404 told
	// another key's request from none.
	t.Run("OtherKeysAnswerTakesAsLongAsNone", func(t *testing.T) {
		id := ask(t, a)
		code, body, took := rate(t, b, otherKey, id)
		if code != http.StatusNotFound {
			t.Fatalf("key other rated key app's answer through the other replica: %d %s, want 404", code, body)
		}
		if wait := flush + proxy.DefaultFeedbackWait; took < wait {
			t.Errorf("key other's 404 for key app's answer came in %v, before the %v an id with no row waits for its row: the time tells another key's request from none", took, wait)
		}
		if code, body, _ := rate(t, b, appKey, id); code != http.StatusAccepted {
			t.Errorf("key app's feedback on its answer through the other replica, after key other's: %d %s, want 202", code, body)
		}
	})

	// An answer still streaming from A has no row in the log yet (its row
	// is written once it ends), so feedback sent to B meanwhile finds none
	// after its wait. The 404 gave the reasons of an answer that never
	// comes (refused, canceled, another key's, too old) and a store that
	// is behind, not this one, which A's own 404 names: a user's thumbs
	// down in the middle of a long answer, sent again once it has ended,
	// counts.
	t.Run("StillStreamingOnA", func(t *testing.T) {
		sdk := openai.NewClient(option.WithBaseURL(a.url+"/v1/"), option.WithAPIKey(appKey), option.WithMaxRetries(0))
		sctx, stop := context.WithCancel(ctx)
		defer stop()
		var raw *http.Response
		st := sdk.Chat.Completions.NewStreaming(sctx, openai.ChatCompletionNewParams{Model: "chat",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("write me a long story")}},
			option.WithHeader("X-Request-Category", "long"), option.WithResponseInto(&raw))
		for n := 0; n < 3 && st.Next(); n++ {
		}
		if st.Err() != nil || raw == nil {
			t.Fatalf("stream: %v", st.Err())
		}
		id := raw.Header.Get("X-Request-Id")
		code, body, _ := rate(t, b, appKey, id)
		if code != http.StatusNotFound || !strings.Contains(body, "still being answered") {
			t.Errorf("feedback through B on an answer A is still streaming: %d %s, want a 404 saying that an answer still being answered takes feedback once it has ended", code, body)
		}
		st.Close()
	})

	// With the store cut off, feedback the store must decide on is a 503
	// to send again, for another replica's answer (B cannot read its row)
	// and for B's own (B cannot claim its one score). Its words reached
	// the client with the store's error, which names the PostgreSQL host,
	// port, database and user, and tells an operator to check the server:
	// the data plane's clients are not the store's operators (/readyz
	// says nothing of the store's error, for the same reason).
	t.Run("StoreDown", func(t *testing.T) {
		others, own := ask(t, a), ask(t, b)
		link.Cut()
		defer link.Restore()
		host, _, _ := strings.Cut(strings.SplitN(link.DSN(dsn), "@", 2)[1], "/") // 127.0.0.1:port
		for _, id := range []string{others, own} {
			code, body, _ := rate(t, b, appKey, id)
			if code != http.StatusServiceUnavailable || !strings.Contains(body, "send it again") {
				t.Errorf("feedback on %s with the store cut off: %d %s, want 503 saying to send it again", id, code, body)
			}
			for _, leak := range []string{host, "PostgreSQL", "user sluice"} {
				if strings.Contains(body, leak) {
					t.Errorf("feedback's 503 tells the data plane's client %q of the store: %s", leak, body)
				}
			}
		}
	})
}
