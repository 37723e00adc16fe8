package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
)

// ragBackend is a model server of one version that serves what vLLM and
// OpenAI-API servers serve besides chat: rerank and score (vLLM),
// moderations, image generation and speech. Each answer names the model
// the backend was sent; it keeps the models it saw by path.
type ragBackend struct {
	*httptest.Server
	mu   sync.Mutex
	seen map[string][]string
}

// audioOf is the audio answer of the backend sent model: binary bytes
// (NULs, bytes that are not UTF-8, line ends) that name it.
func audioOf(model string) []byte {
	b := []byte("ID3\x04\x00\x00\x00\x00\xff\xfb\x90\x00\r\n" + model + "\n")
	for i := range 64 << 10 {
		b = append(b, byte(i*7))
	}
	return b
}

func newRAGBackend(tb testing.TB) *ragBackend {
	b := &ragBackend{seen: map[string][]string{}}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model string `json:"model"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &req); err != nil || r.Method != http.MethodPost {
			http.Error(w, "bad request", 400)
			return
		}
		b.mu.Lock()
		b.seen[r.URL.Path] = append(b.seen[r.URL.Path], req.Model)
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/rerank":
			io.WriteString(w, `{"id":"rerank-1","model":"`+req.Model+`","usage":{"total_tokens":31},"results":[{"index":1,"document":{"text":"Paris is the capital of France."},"relevance_score":0.98},{"index":0,"document":{"text":"I'm sorry, I can't help with that."},"relevance_score":0.01}]}`)
		case "/v1/score":
			io.WriteString(w, `{"id":"score-1","object":"list","model":"`+req.Model+`","data":[{"index":0,"object":"score","score":0.87}],"usage":{"prompt_tokens":12,"total_tokens":12}}`)
		case "/v1/moderations":
			io.WriteString(w, `{"id":"modr-1","model":"`+req.Model+`","results":[{"flagged":false,"categories":{},"category_scores":{}}]}`)
		case "/v1/images/generations":
			io.WriteString(w, `{"created":1,"data":[{"b64_json":"iVBORw0KGgo=","revised_prompt":"`+req.Model+`"}]}`)
		case "/v1/audio/speech":
			w.Header().Set("Content-Type", "audio/mpeg")
			w.Write(audioOf(req.Model))
		default:
			http.NotFound(w, r)
		}
	}))
	tb.Cleanup(b.Close)
	return b
}

// loggedRow waits for the request log row of request id as the admin API
// gives it (what `sluice requests --id` shows).
func loggedRow(t *testing.T, cl *api.Client, id string) sluice.Observation {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rows, err := cl.Requests(context.Background(), sluice.RequestQuery{RequestID: id})
		if err != nil {
			t.Fatalf("requests %s: %v", id, err)
		}
		if len(rows) > 0 {
			return rows[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("request %s never reached the request log", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestGateway_OtherModelEndpoints puts a whole model server behind the
// gateway: vLLM's /v1/rerank and /v1/score (plain HTTP) and the OpenAI
// SDK's moderations, image generation and speech, split between two
// versions. Each request reaches the version the split chose with that
// version's upstream model name, its answer arrives intact (the audio byte
// for byte with its Content-Type), and the request log names the version
// that served it.
func TestGateway_OtherModelEndpoints(t *testing.T) {
	b1, b2 := newRAGBackend(t), newRAGBackend(t)
	doc := chatDoc(map[string]string{"v1.0.0": b1.URL, "v1.1.0": b2.URL + "/v1"}, []sluice.Weight{{Version: "v1.0.0", Percent: 50}, {Version: "v1.1.0", Percent: 50}}, nil)
	gw, admin := MustGateway(t, "", doc)
	cl := api.NewClient(gw.AdminURL(), admin)
	client := openaiClient(gw.URL())
	ctx := context.Background()
	backendOf := map[string]*ragBackend{"chat:v1.0.0": b1, "chat:v1.1.0": b2}

	// check verifies one answer: the version it names, the upstream model
	// that version's backend saw last on path (want, when the answer
	// carries it, must be it too), and the request log's row.
	check := func(t *testing.T, path string, resp *http.Response, echoed string) string {
		t.Helper()
		version := resp.Header.Get("X-Model-Version")
		be := backendOf[version]
		if be == nil {
			t.Fatalf("%s: X-Model-Version %q, want one of the split's versions", path, version)
		}
		up := "up-" + strings.TrimPrefix(version, "chat:")
		be.mu.Lock()
		seen := be.seen[path]
		be.mu.Unlock()
		if len(seen) == 0 || seen[len(seen)-1] != up {
			t.Errorf("%s: %s's backend saw models %v, want the upstream model %s last", path, version, seen, up)
		}
		if echoed != "" && echoed != up {
			t.Errorf("%s: the answer names model %q, want %s's", path, echoed, up)
		}
		o := loggedRow(t, cl, resp.Header.Get("X-Request-Id"))
		if "chat:"+o.Version != version || o.Endpoint != path || o.Status != 200 || o.ErrorClass != "" || o.Route != "split" {
			t.Errorf("%s: request log row %+v, want %s, status 200, route split", path, o, version)
		}
		return version
	}
	// each sends a request until both versions have served one (a 50/50
	// split: 40 tries miss one with odds of 2^-39).
	each := func(t *testing.T, path string, send func() string) {
		t.Helper()
		served := map[string]bool{}
		for i := 0; i < 40 && len(served) < 2; i++ {
			served[send()] = true
		}
		if len(served) != 2 {
			t.Errorf("%s: served only by %v in 40 requests of a 50/50 split", path, served)
		}
	}

	for _, path := range []string{"/v1/rerank", "/v1/score"} {
		t.Run(strings.TrimPrefix(path, "/v1/"), func(t *testing.T) {
			body := `{"model":"chat","query":"What is the capital of France?","documents":["I'm sorry, I can't help with that.","Paris is the capital of France."]}`
			if path == "/v1/score" {
				body = `{"model":"chat","text_1":"What is the capital of France?","text_2":"Paris is the capital of France."}`
			}
			each(t, path, func() string {
				resp, err := http.Post(gw.URL()+path, "application/json", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				got, _ := io.ReadAll(resp.Body)
				var ans struct {
					Model   string            `json:"model"`
					Results []json.RawMessage `json:"results"`
					Data    []json.RawMessage `json:"data"`
				}
				if resp.StatusCode != 200 || json.Unmarshal(got, &ans) != nil || len(ans.Results)+len(ans.Data) == 0 {
					t.Fatalf("%s: %d %s", path, resp.StatusCode, got)
				}
				return check(t, path, resp, ans.Model)
			})
		})
	}
	t.Run("moderations", func(t *testing.T) {
		each(t, "/v1/moderations", func() string {
			var resp *http.Response
			m, err := client.Moderations.New(ctx, openai.ModerationNewParams{Model: "chat", Input: openai.ModerationNewParamsInputUnion{OfString: openai.String("hello")}}, option.WithResponseInto(&resp))
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Results) != 1 || m.Results[0].Flagged {
				t.Fatalf("moderation %+v", m)
			}
			return check(t, "/v1/moderations", resp, m.Model)
		})
	})
	t.Run("images", func(t *testing.T) {
		each(t, "/v1/images/generations", func() string {
			var resp *http.Response
			im, err := client.Images.Generate(ctx, openai.ImageGenerateParams{Model: "chat", Prompt: "a lighthouse"}, option.WithResponseInto(&resp))
			if err != nil {
				t.Fatal(err)
			}
			if len(im.Data) != 1 || im.Data[0].B64JSON != "iVBORw0KGgo=" {
				t.Fatalf("images %+v", im)
			}
			return check(t, "/v1/images/generations", resp, im.Data[0].RevisedPrompt)
		})
	})
	t.Run("speech", func(t *testing.T) {
		each(t, "/v1/audio/speech", func() string {
			resp, err := client.Audio.Speech.New(ctx, openai.AudioSpeechNewParams{Model: "chat", Input: "hello", Voice: openai.AudioSpeechNewParamsVoiceAlloy})
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			version := check(t, "/v1/audio/speech", resp, "")
			want := audioOf("up-" + strings.TrimPrefix(version, "chat:"))
			if ct := resp.Header.Get("Content-Type"); ct != "audio/mpeg" || !bytes.Equal(got, want) {
				t.Errorf("speech: Content-Type %q, %d bytes (intact: %v), want audio/mpeg and the backend's %d bytes", ct, len(got), bytes.Equal(got, want), len(want))
			}
			return version
		})
	})
}

// TestGateway_ClientKeyOnOtherEndpoints: a client key's model scope and
// rate limit hold on rerank and speech as on chat: a model outside the
// scope is a 403 that spends no rate-limit token, and the burst then ends
// in a 429.
func TestGateway_ClientKeyOnOtherEndpoints(t *testing.T) {
	// A key per path, each for chat only with a burst of 2 (one token
	// every 1000 s: the test never sees a bucket refill).
	keys := map[string]string{"/v1/rerank": "sk-rerank-5d0e7b13c9a2f846", "/v1/audio/speech": "sk-speech-91c4a0e6b37d52f8"}
	b := newRAGBackend(t)
	doc := chatDoc(map[string]string{"v1.0.0": b.URL}, nil, nil)
	gw, _ := mustGatewayWith(t, func(c *config.Gateway) {
		for path, secret := range keys {
			c.ClientKeys = append(c.ClientKeys, config.ClientKey{Name: strings.TrimPrefix(path, "/v1/"), Secret: secret, Models: []string{"chat"}, RateLimit: 0.001, Burst: 2})
		}
	}, nil, doc)
	for path, scoped := range keys {
		send := func(model, key string) int {
			req, _ := http.NewRequest(http.MethodPost, gw.URL()+path, strings.NewReader(`{"model":"`+model+`","query":"q","documents":["d"],"input":"hi","voice":"alloy"}`))
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode
		}
		if got := send("chat", "sk-unknown"); got != 401 {
			t.Errorf("%s with an unknown key: %d, want 401", path, got)
		}
		for i := range 4 {
			if got := send("embed", scoped); got != 403 {
				t.Fatalf("%s, model outside the key's scope, request %d: %d, want 403", path, i, got)
			}
		}
		for i := range 2 {
			if got := send("chat", scoped); got != 200 {
				t.Fatalf("%s, request %d of the burst of 2 after four 403s: %d, want 200 (the 403s spent no token)", path, i, got)
			}
		}
		if got := send("chat", scoped); got != 429 {
			t.Fatalf("%s after the burst: %d, want 429", path, got)
		}
	}
}

// TestGateway_RerankOutsideV1: vLLM's /rerank, /v2/rerank (Cohere's path)
// and /score are not served (the data plane is /v1/), and a client that
// posts there is told where they are, in an OpenAI-shaped 404.
func TestGateway_RerankOutsideV1(t *testing.T) {
	gw, _ := MustGateway(t, "", sluice.ApplyDoc{})
	for path, at := range map[string]string{"/rerank": "/v1/rerank", "/v2/rerank": "/v1/rerank", "/score": "/v1/score"} {
		resp, err := http.Post(gw.URL()+path, "application/json", strings.NewReader(`{"model":"chat","query":"q","documents":["d"]}`))
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Error struct {
				Message string  `json:"message"`
				Type    string  `json:"type"`
				Param   *string `json:"param"`
				Code    string  `json:"code"`
			} `json:"error"`
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		err = json.Unmarshal(b, &e)
		if resp.StatusCode != 404 || err != nil || !strings.Contains(e.Error.Message, "serves it at "+at) {
			t.Errorf("POST %s: %d %q (%v), want a 404 naming %s", path, resp.StatusCode, e.Error.Message, err, at)
		}
		// The data plane's other errors' shape (the admin API's "type":
		// "not_found", pretty-printed, was what this 404 had).
		if e.Error.Type != "invalid_request_error" || e.Error.Code != "not_found" || !strings.Contains(string(b), `"param":null`) {
			t.Errorf("POST %s: %s, want the OpenAI error shape the other /v1 404s have (type invalid_request_error, param null, code not_found)", path, b)
		}
	}
}
