package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/analysis"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// overloadedBackend answers every request with status and the headers a
// model server sends when it refuses for load (TGI's "Model is
// overloaded", vLLM behind a queue limit, a hosted backend), before any
// byte of an answer. It counts the requests it refused.
func overloadedBackend(tb testing.TB, status int, hdr ...string) (string, *atomic.Int64) {
	tb.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":{"message":"Model is overloaded","type":"overloaded_error","code":%d}}`, status)
	}))
	tb.Cleanup(srv.Close)
	return srv.URL, &n
}

// What the user does: runs a canary at 50% whose backend refuses for load
// before any byte of its answer (429 with Retry-After, a 408, or a 503
// with Retry-After), and sends chat requests (openai-go, no SDK retries)
// as sticky users, whole and streamed, through the gateway's own client
// and an http.Transport.
// What happened: the users the split sent to the canary got its 429; their
// SDK retried after the Retry-After and, sticky, landed on the canary
// again; stable had room (trial-clients finding 5).
// What must happen: the refusal is a failed attempt of the canary, retried
// on stable as a 5xx is: every request is answered by stable, the canary's
// attempts are logged upstream_overloaded and retried, the canary analysis
// sees them in its error rate and fails the canary, and outlier ejection
// does not count them (a refusal for load says nothing of the version's
// health, and ejecting a stable version that refuses under load would send
// its load to the candidate). A pinned request gets the backend's own
// refusal, its Retry-After intact.
func TestOverloadedCandidateRetriedOnStable(t *testing.T) {
	good := MustBackend(t, fakellm.Config{})
	cases := []struct {
		name   string
		status int
		hdr    []string
	}{
		{"429", 429, []string{"Retry-After", "2", "Retry-After-Ms", "1500"}},
		{"408", 408, nil},
		{"503RetryAfter", 503, []string{"Retry-After", "3"}},
	}
	for _, tr := range transports {
		for _, tc := range cases {
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				bad, refused := overloadedBackend(t, tc.status, tc.hdr...)
				rec, log, res := newSpyRecorder(), &spyLog{}, newResults()
				start := time.Now()
				_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), bad, 50), Recorder: rec, Log: log, Transport: tr.rt, OnResult: res.on})
				client := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0))
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				params := func(model string) openai.ChatCompletionNewParams {
					return openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
				}

				const users = 200
				for i := range users {
					user := option.WithHeader("X-User-Id", fmt.Sprintf("user-%d", i))
					var hr *http.Response
					if i%4 == 3 {
						s := client.Chat.Completions.NewStreaming(ctx, params("chat"), user, option.WithResponseInto(&hr))
						var text string
						for s.Next() {
							if ch := s.Current(); len(ch.Choices) > 0 {
								text += ch.Choices[0].Delta.Content
							}
						}
						if err := s.Err(); err != nil || text == "" {
							t.Fatalf("user %d, streamed: %v (%q), want stable's answer", i, err, text)
						}
					} else {
						c, err := client.Chat.Completions.New(ctx, params("chat"), user, option.WithResponseInto(&hr))
						if err != nil || len(c.Choices) == 0 || c.Choices[0].Message.Content == "" {
							t.Fatalf("user %d: %v, want stable's answer", i, err)
						}
					}
					if v := hr.Header.Get("X-Model-Version"); v != "chat:v1" {
						t.Fatalf("user %d answered by %q, want chat:v1 (the canary refused it)", i, v)
					}
				}
				n := refused.Load()
				if n < users/4 || n > users*3/4 {
					t.Fatalf("the canary's backend got %d of %d requests, want about half (the 50%% split)", n, users)
				}
				rows := log.all()
				var cand, retries int
				for _, o := range rows {
					switch {
					case o.Version == "v2":
						cand++
						if o.ErrorClass != sluice.ClassOverloaded || o.Status != tc.status || !o.Retried || o.Route != "split" {
							t.Errorf("canary row %s: class %q status %d retried %v route %q, want %s %d retried split", o.RequestID, o.ErrorClass, o.Status, o.Retried, o.Route, sluice.ClassOverloaded, tc.status)
						}
					case o.Route == "retry":
						retries++
						if o.ErrorClass != "" || o.Status != 200 {
							t.Errorf("stable's retry %s: class %q status %d, want its answer", o.RequestID, o.ErrorClass, o.Status)
						}
					}
				}
				if int64(cand) != n || retries != cand {
					t.Errorf("request log: %d canary rows and %d retries on stable, want %d each", cand, retries, n)
				}

				// The analysis, as the rollout controller reads the windows
				// of a split: the canary's refusals are its errors.
				spec := sluice.AnalysisSpec{MinSamples: 10}
				in := analysis.Input{
					Baseline:  analysis.FromSample(rec.Randomized("chat", "v1", "", start)),
					Candidate: analysis.FromSample(rec.Randomized("chat", "v2", "", start)),
				}
				if in.Candidate.Requests != int(n) || in.Candidate.Errors != int(n) {
					t.Errorf("the canary's analysis window: %d requests, %d errors, want %d of each", in.Candidate.Requests, in.Candidate.Errors, n)
				}
				if v := analysis.Analyze(analysis.WithDefaults(spec), in, time.Now()); v.Outcome != sluice.OutcomeFail {
					t.Errorf("analysis verdict %s (%s), want fail: the canary refused every request", v.Outcome, v.Reason)
				}
				if f, ok := res.get("chat:v2"); f != 0 || ok != 0 {
					t.Errorf("outlier ejection saw %d failures and %d successes of chat:v2, want neither (a refusal for load is no health signal)", f, ok)
				}

				// Pinned: the caller named the version and gets its refusal.
				var hr *http.Response
				_, err := client.Chat.Completions.New(ctx, params("chat:v2"), option.WithResponseInto(&hr))
				var apiErr *openai.Error
				if !errors.As(err, &apiErr) || apiErr.StatusCode != tc.status {
					t.Fatalf("pinned request: %v, want the backend's %d", err, tc.status)
				}
				for i := 0; i+1 < len(tc.hdr); i += 2 {
					if got := hr.Header.Get(tc.hdr[i]); got != tc.hdr[i+1] {
						t.Errorf("pinned %d: %s %q, want the backend's %q", tc.status, tc.hdr[i], got, tc.hdr[i+1])
					}
				}
				if v := hr.Header.Get("X-Model-Version"); v != "chat:v2" {
					t.Errorf("pinned request answered as %q, want chat:v2", v)
				}
				waitFor(t, "the pinned row", func() bool { return len(log.all()) == len(rows)+1 })
				if o := log.all()[len(rows)]; o.Version != "v2" || o.ErrorClass != sluice.ClassOverloaded || o.Status != tc.status || o.Retried || o.Route != "pin" {
					t.Errorf("pinned row: %s class %q status %d retried %v route %q, want v2 %s %d pin", o.Version, o.ErrorClass, o.Status, o.Retried, o.Route, sluice.ClassOverloaded, tc.status)
				}
			})
		}
	}
}

// What the user does: the split sends a request to stable itself, whose
// backend refuses for load.
// What must happen: there is no version to retry on: the client gets the
// backend's 429 with its Retry-After (the SDKs wait and retry it), logged
// upstream_overloaded on stable, and not counted by outlier ejection.
func TestOverloadedStableAnsweredAsIs(t *testing.T) {
	bad, refused := overloadedBackend(t, 429, "Retry-After", "2")
	good := MustBackend(t, fakellm.Config{})
	log, res := &spyLog{}, newResults()
	_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, bad, good.URL(), 100), Log: log, OnResult: res.on})
	resp, body := post(t, url, "/v1/chat/completions", `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" || resp.Header.Get("X-Model-Version") != "chat:v1" {
		t.Fatalf("status %d Retry-After %q from %q, want stable's 429 with its Retry-After: %s", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("X-Model-Version"), body)
	}
	if refused.Load() != 1 {
		t.Errorf("stable's backend got %d requests, want 1", refused.Load())
	}
	rows := log.all()
	if len(rows) != 1 || rows[0].ErrorClass != sluice.ClassOverloaded || rows[0].Retried {
		t.Fatalf("rows %+v, want one, stable's, %s and not retried", rows, sluice.ClassOverloaded)
	}
	if f, ok := res.get("chat:v1"); f != 0 || ok != 0 {
		t.Errorf("outlier ejection saw %d failures and %d successes of chat:v1, want neither", f, ok)
	}
}

// What the user does: a version's backend answers 503 without
// Retry-After (a dead pod behind a Service, a proxy with no healthy
// upstream).
// What must happen: as before, upstream_5xx, a failure outlier ejection
// counts (only a 503 that says when to come back is a refusal for load).
func TestUnavailableWithoutRetryAfterIsA5xx(t *testing.T) {
	bad, _ := overloadedBackend(t, 503)
	good := MustBackend(t, fakellm.Config{})
	log, res := &spyLog{}, newResults()
	_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), bad, 0), Log: log, OnResult: res.on})
	resp, body := post(t, url, "/v1/chat/completions", `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 || resp.Header.Get("X-Model-Version") != "chat:v1" {
		t.Fatalf("status %d from %q, want stable's answer: %s", resp.StatusCode, resp.Header.Get("X-Model-Version"), body)
	}
	if rows := log.all(); len(rows) != 2 || rows[0].ErrorClass != "upstream_5xx" {
		t.Fatalf("rows %+v, want the canary's upstream_5xx and stable's answer", rows)
	}
	if f, _ := res.get("chat:v2"); f != 1 {
		t.Errorf("outlier ejection saw %d failures of chat:v2, want 1", f)
	}
}
