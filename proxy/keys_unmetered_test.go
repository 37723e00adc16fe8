package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/proxy"
)

// What the user does: an app whose key has rate_limit 1 (burst 2) spends
// its burst on two chat completions (openai-go), then posts its users'
// ratings of both answers (the SDK's client.Post to /feedback), lists the
// models and reads one, while its next chat completion is held back.
// What happened: feedback and /v1/models spent the key's rate limit: the
// ratings got 429s (a plain fetch loses them) and took the tokens its next
// inference request needed (trial-clients finding 7).
// What must happen: feedback (202, and the repeat's 409, an unknown id's
// 404) and the model list (200) pass whatever the rate limit says, and
// spend none of it: the next chat completion is a 429 until the rate
// gives one token back, then exactly one passes.
func TestKeySet_FeedbackAndModelsSpendNoRateLimit(t *testing.T) {
	be := MustBackend(t, fakellm.Config{})
	const key = "sk-limited-0123456789"
	url, advance := keyedProxy(t, be.URL(), map[string]proxy.ClientKey{key: {Name: "limited", RateLimit: 1, Burst: 2}})
	client := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
	var ids []string
	for i := range 2 {
		var hr *http.Response
		if _, err := client.Chat.Completions.New(ctx, params, option.WithResponseInto(&hr)); err != nil {
			t.Fatalf("chat %d within the burst: %v", i, err)
		}
		ids = append(ids, hr.Header.Get("X-Request-Id"))
	}
	limited := func(what string) {
		t.Helper()
		_, err := client.Chat.Completions.New(ctx, params)
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("chat %s: %v, want the key's 429", what, err)
		}
	}
	limited("past the burst")

	status := func(err error) int {
		var apiErr *openai.Error
		if errors.As(err, &apiErr) {
			return apiErr.StatusCode
		}
		if err != nil {
			t.Fatalf("%v", err)
		}
		return 0
	}
	for _, id := range ids {
		var out map[string]any
		var hr *http.Response
		err := client.Post(ctx, "feedback", map[string]any{"request_id": id, "thumbs": "up"}, &out, option.WithResponseInto(&hr))
		if err != nil || hr.StatusCode != http.StatusAccepted || out["accepted"] != true {
			t.Fatalf("feedback on %s past the rate limit: %v (%v), want 202 accepted", id, err, out)
		}
	}
	if st := status(client.Post(ctx, "feedback", map[string]any{"request_id": ids[0], "thumbs": "up"}, nil)); st != http.StatusConflict {
		t.Errorf("feedback again on %s: %d, want 409 (already rated), not the rate limit's 429", ids[0], st)
	}
	if st := status(client.Post(ctx, "feedback", map[string]any{"request_id": "req_nope", "thumbs": "up"}, nil)); st != http.StatusNotFound {
		t.Errorf("feedback on an unknown id: %d, want 404, not the rate limit's 429", st)
	}
	for range 3 {
		page, err := client.Models.List(ctx)
		if err != nil || len(page.Data) == 0 {
			t.Fatalf("models.list past the rate limit: %v, want the list", err)
		}
		if m, err := client.Models.Get(ctx, "chat"); err != nil || m.ID != "chat" {
			t.Fatalf("models.retrieve past the rate limit: %v, want chat", err)
		}
	}

	// None of it spent the key's limit: one token back, one chat.
	limited("after feedback and models, before the rate gives a token back")
	advance(time.Second)
	if _, err := client.Chat.Completions.New(ctx, params); err != nil {
		t.Fatalf("chat a second later: %v, want it to pass (feedback and models took no token)", err)
	}
	limited("after that one")
}

// What the user does: on a fleet (a shared PostgreSQL store), a client
// key posts feedback for many ids whose answers no replica has logged
// (another replica's, not yet flushed, or none), at once.
// What must happen: each such post waits for the row (FeedbackWait), but
// a key has at most 64 waiting on one replica: the next gets a 429 with
// Retry-After at once, naming the key, and another key is not held back.
// Feedback spends none of the key's rate_limit, which had bounded these
// waits.
func TestKeySet_FleetFeedbackWaitsCappedPerKey(t *testing.T) {
	store, err := postgres.Open(context.Background(), pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	const key, other = "sk-rater-0123456789ab", "sk-other-0123456789ab"
	ks, err := proxy.NewKeySet([]proxy.ClientKey{{Name: "rater", Hash: sluice.HashSecret(key)}, {Name: "other", Hash: sluice.HashSecret(other)}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	be := MustBackend(t, fakellm.Config{})
	p := proxy.New(proxy.Options{Routes: MustRoutes(t, be.URL(), ""), Admit: ks.Admit, ForceAllowed: ks.ForceAllowed, FeedbackLog: store, FeedbackWait: 3 * time.Second})
	srv := httptest.NewServer(ks.Wrap(p))
	t.Cleanup(func() { p.Close(); srv.Close() })
	rate := func(secret string, i int) (int, http.Header, string) {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/feedback", strings.NewReader(fmt.Sprintf(`{"request_id":"req_0a1b2c3d4e5f_%d","thumbs":"up"}`, i)))
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0, nil, ""
		}
		defer resp.Body.Close()
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		return resp.StatusCode, resp.Header, string(buf[:n])
	}
	// 65 posts at once: 64 wait, and the one that finds them waiting
	// (whichever it is) is refused at once, so its answer is the first,
	// before any wait ends.
	const waiting = 64
	type answer struct {
		st   int
		h    http.Header
		body string
	}
	answers := make(chan answer, waiting+1)
	var wg sync.WaitGroup
	for i := range waiting + 1 {
		wg.Go(func() {
			st, h, body := rate(key, i+1)
			answers <- answer{st, h, body}
		})
	}
	if a := <-answers; a.st != http.StatusTooManyRequests || a.h.Get("Retry-After") != "1" || !strings.Contains(a.body, "rater") {
		t.Errorf("the first answer of 65 posts at once: %d Retry-After %q: %s; want a 429 before any wait ends, naming the key, Retry-After 1", a.st, a.h.Get("Retry-After"), a.body)
	}
	if st, _, body := rate(other, 1000); st != http.StatusNotFound {
		t.Errorf("another key's feedback meanwhile: %d %s, want its 404 after the wait", st, body)
	}
	wg.Wait()
	close(answers)
	for a := range answers {
		if a.st != http.StatusNotFound {
			t.Errorf("a waiting post: %d %s, want the 404 its wait ends in", a.st, a.body)
		}
	}
	if st, _, body := rate(key, waiting+2); st != http.StatusNotFound {
		t.Errorf("after the waits: %d %s, want a wait again (404)", st, body)
	}
	// The refusal is counted, with a reason of its own.
	if n := keyRefusedCounted(t, p, "feedback_waits"); n != 1 {
		t.Errorf("sluice_client_key_refused_total{reason=feedback_waits} = %v, want 1", n)
	}
}

// keyRefusedCounted returns sluice_client_key_refused_total of reason as
// p's collector exports it.
func keyRefusedCounted(t *testing.T, p *proxy.Proxy, reason string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(p.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "sluice_client_key_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("sluice_client_key_refused_total has no reason %q", reason)
	return 0
}

// What the user does: on a fleet, a client key has 64 feedback posts
// waiting on one replica for their answers' rows; meanwhile the keys are
// reloaded (sluice key create on any replica, SIGHUP with client_keys
// edited), and the key posts more.
// What happened: the reload built the key a new state with no waits, so
// each reload let another 64 wait on the store.
// What must happen: the posts still waiting count against the reloaded
// key's cap: the next post is a 429 at once; once they end, the key waits
// again.
func TestKeySet_FeedbackWaitsCapOutlivesReload(t *testing.T) {
	store, err := postgres.Open(context.Background(), pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	const key = "sk-rater-0123456789ab"
	keys := func() *proxy.KeySet {
		ks, err := proxy.NewKeySet([]proxy.ClientKey{{Name: "rater", Hash: sluice.HashSecret(key)}}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return ks
	}
	var cur atomic.Pointer[http.Handler]
	be := MustBackend(t, fakellm.Config{})
	// A wait far longer than the test's steps: the waiting posts end when
	// their clients leave, not on their own.
	p := proxy.New(proxy.Options{Routes: MustRoutes(t, be.URL(), ""), FeedbackLog: store, FeedbackWait: time.Minute})
	use := func(ks *proxy.KeySet) { h := ks.Wrap(p); cur.Store(&h) }
	first := keys()
	use(first)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*cur.Load()).ServeHTTP(w, r) }))
	t.Cleanup(func() { p.Close(); srv.Close() })
	// rate posts feedback on an id no replica gave; it returns the status,
	// or 0 when the post was still waiting after wait (it leaves then).
	rate := func(ctx context.Context, i int, wait time.Duration) int {
		ctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/feedback", strings.NewReader(fmt.Sprintf(`{"request_id":"req_0a1b2c3d4e5f_%d","thumbs":"up"}`, i)))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// 65 posts at once: 64 wait, the one that finds them waiting gets a
	// 429 (whichever it is), and none ends until its client leaves.
	waiting, leave := context.WithCancel(context.Background())
	defer leave()
	refused := make(chan int, 65)
	var wg sync.WaitGroup
	for i := range 65 {
		wg.Go(func() {
			if st := rate(waiting, i+1, time.Minute); st != 0 {
				refused <- st
			}
		})
	}
	select {
	case st := <-refused:
		if st != http.StatusTooManyRequests {
			t.Fatalf("one of 65 posts at once: %d, want a 429", st)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("65 posts at once: none refused, want one 429 once 64 wait")
	}
	// The keys are reloaded, as a server does: the new set carries the old.
	next := keys()
	next.Carry(first)
	use(next)
	if st := rate(context.Background(), 101, 2*time.Second); st != http.StatusTooManyRequests {
		t.Errorf("feedback past 64 posts waiting, after a reload of the keys: %d (0: it waited), want a 429: the posts waiting before the reload still count", st)
	}
	leave()
	wg.Wait()
	if len(refused) != 0 {
		t.Errorf("%d more of the 65 posts at once answered before their clients left, want 64 waiting", len(refused))
	}
	// Their places are free once the gateway sees their clients gone.
	deadline := time.Now().Add(30 * time.Second)
	for rate(context.Background(), 102, 2*time.Second) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("feedback once the waiting posts left: still a 429, want it to wait")
		}
	}
}
