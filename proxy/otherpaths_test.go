package proxy_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/judge"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/proxy"
)

// speechBytes is an audio answer: not UTF-8, with NULs, line ends and
// what looks like an SSE field, so any reading or rewriting shows.
var speechBytes = append([]byte("ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x00\r\n\r\ndata: [DONE]\n\n"), bytes.Repeat([]byte{0x00, 0xff, 0x0a, 0x0d, 0x80}, 20000)...)

// chatLike is a JSON answer of an endpoint that is not chat but holds what
// a chat answer holds: a refusal as its text and a tool call. None of it
// may be read as an answer's text.
const chatLike = `{"id":"x","results":[{"index":0,"relevance_score":0.9,"document":{"text":"I'm sorry, but I can't help with that."}}],` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":"I'm sorry, but I can't help with that.","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"length"}],` +
	`"usage":{"total_tokens":42}}`

// otherBackend serves the endpoints whose answers are not text, and keeps
// the paths and models it was sent.
type otherBackend struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string // "path model"
}

func newOtherBackend(tb testing.TB) *otherBackend {
	b := &otherBackend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model  string `json:"model"`
			Stream bool   `json:"stream"`
		}
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &req)
		b.mu.Lock()
		b.seen = append(b.seen, r.URL.Path+" "+req.Model)
		b.mu.Unlock()
		switch {
		case r.URL.Path == "/v1/audio/speech":
			w.Header().Set("Content-Type", "audio/mpeg")
			w.Write(speechBytes[:1000])
			w.(http.Flusher).Flush()
			w.Write(speechBytes[1000:])
		case r.URL.Path == "/v1/images/generations" && req.Stream:
			// The images API's stream: named events, no [DONE].
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "event: image_generation.partial_image\ndata: {\"type\":\"image_generation.partial_image\",\"b64_json\":\"AAAA\",\"partial_image_index\":0}\n\n")
			w.(http.Flusher).Flush()
			io.WriteString(w, "event: image_generation.completed\ndata: {\"type\":\"image_generation.completed\",\"b64_json\":\"BBBB\",\"usage\":{\"input_tokens\":7,\"output_tokens\":9,\"total_tokens\":16}}\n\n")
		case r.URL.Path == "/v1/score" && r.Header.Get("X-Untyped") != "":
			// A JSON answer without a Content-Type (a minimal server):
			// its usage is read all the same.
			w.Header()["Content-Type"] = nil
			io.WriteString(w, chatLike)
		case r.URL.Path == "/v1/images/generations":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"created":1,"data":[{"b64_json":"AAAA"}],"usage":{"input_tokens":7,"output_tokens":9,"total_tokens":16}}`)
		default:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, chatLike)
		}
	}))
	tb.Cleanup(b.Close)
	return b
}

// alwaysJudge samples every answer and counts what it is given.
type alwaysJudge struct {
	mu    sync.Mutex
	items []judge.Item
}

func (j *alwaysJudge) Sample() bool { return true }
func (j *alwaysJudge) Submit(it judge.Item) {
	j.mu.Lock()
	j.items = append(j.items, it)
	j.mu.Unlock()
}

// TestProxy_OtherPaths: the endpoints whose answers are not text (vLLM's
// rerank and score, moderations, images, speech) are routed by their
// "model" with the upstream rewrite, measured, and never read as text: no
// refusal, tool call, heuristic score or judge; an audio answer passes
// byte for byte with its Content-Type, an image stream as sent.
func TestProxy_OtherPaths(t *testing.T) {
	be := newOtherBackend(t)
	rec := observe.New(observe.Options{})
	log := &spyLog{}
	jd := &alwaysJudge{}
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, ""), Recorder: rec, Log: log, Refusal: observe.NewRefusalDetector(nil), Judge: jd, NoRetry: true})

	for _, path := range []string{"/v1/rerank", "/v1/score", "/v1/moderations", "/v1/images/generations"} {
		resp, body := post(t, url, path, `{"model":"chat","query":"q","input":"x","prompt":"p"}`, "X-Request-Category", "other")
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d: %s", path, resp.StatusCode, body)
		}
		if got := resp.Header.Get("X-Model-Version"); got != "chat:v1" {
			t.Errorf("%s: X-Model-Version %q", path, got)
		}
		if path != "/v1/images/generations" && body != chatLike {
			t.Errorf("%s: answer changed on the way:\n%s", path, body)
		}
	}
	if resp, body := post(t, url, "/v1/score", `{"model":"chat"}`, "X-Request-Category", "other", "X-Untyped", "1"); resp.StatusCode != 200 || body != chatLike {
		t.Fatalf("untyped score: %d %s", resp.StatusCode, body)
	}
	resp, body := post(t, url, "/v1/audio/speech", `{"model":"chat","input":"hello","voice":"alloy"}`, "X-Request-Category", "other")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/mpeg" || !bytes.Equal([]byte(body), speechBytes) {
		t.Errorf("speech: status %d, Content-Type %q, %d bytes (equal %v), want 200 audio/mpeg and the backend's %d bytes",
			resp.StatusCode, resp.Header.Get("Content-Type"), len(body), bytes.Equal([]byte(body), speechBytes), len(speechBytes))
	}
	resp, body = post(t, url, "/v1/images/generations", `{"model":"chat","prompt":"p","stream":true}`, "X-Request-Category", "other")
	if resp.StatusCode != 200 || strings.Contains(body, "error") || !strings.HasSuffix(body, "\"total_tokens\":16}}\n\n") {
		t.Errorf("image stream: status %d, answer:\n%s", resp.StatusCode, body)
	}

	be.mu.Lock()
	for _, s := range be.seen {
		if !strings.HasSuffix(s, " up-v1") {
			t.Errorf("backend saw %q, want the upstream model up-v1", s)
		}
	}
	be.mu.Unlock()
	w := rec.Window("chat", "v1", "other", time.Time{})
	if w.Requests != 7 || w.Errors != 0 {
		t.Errorf("window: %d requests, %d errors; want 7, 0", w.Requests, w.Errors)
	}
	if w.Refusals != 0 || w.QualityBySource["heuristic"] != nil {
		t.Errorf("answers that are not text were judged as text: %d refusals, heuristic scores %v", w.Refusals, w.QualityBySource["heuristic"])
	}
	jd.mu.Lock()
	if len(jd.items) != 0 {
		t.Errorf("the judge was given %d answers that are not text", len(jd.items))
	}
	jd.mu.Unlock()
	rows := log.all()
	if len(rows) != 7 {
		t.Fatalf("%d request log rows, want 7", len(rows))
	}
	for _, o := range rows {
		if o.Version != "v1" || o.Status != 200 || o.ErrorClass != "" || o.ToolCall || o.Refusal || o.ResponseChars != 0 || o.FinishReason != "" {
			t.Errorf("%s: logged %+v", o.Endpoint, o)
		}
		switch o.Endpoint {
		case "/v1/rerank", "/v1/score", "/v1/moderations":
			if o.InputTokens != 42 {
				t.Errorf("%s: input tokens %d, want usage.total_tokens 42", o.Endpoint, o.InputTokens)
			}
		case "/v1/images/generations":
			if !o.Stream && (o.InputTokens != 7 || o.OutputTokens != 9) {
				t.Errorf("images: tokens %d/%d, want 7/9", o.InputTokens, o.OutputTokens)
			}
		}
	}
}

// TestProxy_OtherPathsMirrored: a shadow mirrors rerank and speech as it
// mirrors chat and embeddings (a shadow is set per model, and its fraction
// is what the mirror costs): the candidate gets them with its upstream
// model, and each leaves a pair that compares status and latency, with no
// text.
func TestProxy_OtherPathsMirrored(t *testing.T) {
	stable, cand := newOtherBackend(t), newOtherBackend(t)
	rec := newSpyRecorder()
	p, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, stable.URL, cand.URL), Recorder: rec})
	p.SetShadow("chat", "chat:v2", 1)
	for _, path := range []string{"/v1/rerank", "/v1/audio/speech"} {
		if resp, body := post(t, url, path, `{"model":"chat","query":"q","documents":["d"],"input":"hi","voice":"alloy"}`); resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	waitFor(t, "two pairs", func() bool { return len(p.ShadowPairs("chat", 0)) == 2 })
	for _, pr := range p.ShadowPairs("chat", 0) {
		if pr.Primary.Status != 200 || pr.Shadow.Status != 200 || pr.Shadow.Error != "" || pr.Shadow.Text != "" || pr.Primary.Text != "" {
			t.Errorf("%s: pair %+v", pr.Endpoint, pr)
		}
	}
	cand.mu.Lock()
	seen := slices.Sorted(slices.Values(cand.seen))
	if got := strings.Join(seen, ","); got != "/v1/audio/speech up-v2,/v1/rerank up-v2" {
		t.Errorf("the candidate saw %q, want rerank and speech with its upstream model", got)
	}
	cand.mu.Unlock()
	if got := rec.routes("v2"); got[proxy.RouteShadow] != 2 {
		t.Errorf("candidate observations by route %v, want 2 shadow", got)
	}
}
