package proxy_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// TestProxy_BadInput sends the data plane malformed and hostile requests.
// Each gets an OpenAI-shaped error that says what to fix, and the ones the
// proxy can judge never reach a backend. Malformed JSON that still names a
// model is the backend's to reject: the proxy reads only the fields it
// routes on, so as not to parse every body twice, and checks the whole
// body only once the backend refused it (its row's class: bad_request,
// TestRollout_MalformedBodiesNotCandidateErrors).
func TestProxy_BadInput(t *testing.T) {
	b := MustBackend(t, fakellm.Config{})
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, b.URL(), ""), MaxBodyBytes: 64 << 10})
	long := strings.Repeat("a", 400)
	deep := `{"model":"chat","messages":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`
	cases := []struct {
		name    string
		method  string
		path    string
		body    string
		headers map[string]string
		status  int
		msg     string // in the error message; "" for a success
		backend bool   // the backend is reached
	}{
		{name: "EmptyBody", body: "", status: 400, msg: "must be a JSON object"},
		{name: "Whitespace", body: " \n\t ", status: 400, msg: "must be a JSON object"},
		{name: "Array", body: `[{"model":"chat"}]`, status: 400, msg: "must be a JSON object"},
		{name: "String", body: `"chat"`, status: 400, msg: "must be a JSON object"},
		{name: "Number", body: `42`, status: 400, msg: "must be a JSON object"},
		{name: "NotJSON", body: `model=chat&messages=hi`, status: 400, msg: "must be a JSON object"},
		{name: "NoModel", body: `{"messages":[]}`, status: 400, msg: `has no "model"`},
		// It has one, in single quotes: say the body is no JSON, not only
		// that the model is missing.
		{name: "SingleQuotes", body: `{'model':'chat','messages':[]}`, status: 400, msg: `the body is not valid JSON; send a JSON object, its names and strings in double quotes`},
		{name: "ModelNull", body: `{"model":null}`, status: 400, msg: `"model" must be a string`},
		{name: "ModelNumber", body: `{"model":42}`, status: 400, msg: `"model" must be a string`},
		{name: "ModelBool", body: `{"model":true}`, status: 400, msg: `"model" must be a string`},
		{name: "ModelObject", body: `{"model":{"name":"chat"}}`, status: 400, msg: `"model" must be a string`},
		{name: "ModelArray", body: `{"model":["chat"]}`, status: 400, msg: `"model" must be a string`},
		{name: "ModelEmpty", body: `{"model":""}`, status: 400, msg: "names no model"},
		{name: "ModelUnknown", body: `{"model":"gpt-4"}`, status: 404, msg: "chat"},
		{name: "PinUnknown", body: `{"model":"chat:v9"}`, status: 404, msg: "v9"},
		{name: "LabelUnknown", body: `{"model":"chat@nope"}`, status: 404, msg: "labels"},
		{name: "ModelNUL", body: `{"model":"chat\u0000"}`, status: 400, msg: "control characters"},
		{name: "ModelHeaderInjection", body: `{"model":"chat\r\nX-Injected: 1"}`, status: 400, msg: "control characters"},
		{name: "ModelLiteralBackslashes", body: `{"model":"chat\\r\\nX-Injected: 1"}`, status: 404, msg: "does not exist"},
		{name: "ModelDEL", body: `{"model":"chat\u007f"}`, status: 400, msg: "control characters"},
		{name: "ModelInvalidUTF8", body: "{\"model\":\"ch\xffat\"}", status: 400, msg: "invalid UTF-8"},
		{name: "ModelTooLong", body: `{"model":"` + long + `"}`, status: 400, msg: "control characters or invalid UTF-8"},
		{name: "LabelControl", body: `{"model":"chat@can\u0007ary"}`, status: 400, msg: "control characters"},
		{name: "PinControl", body: `{"model":"chat:v1\u001b[31m"}`, status: 400, msg: "control characters"},
		{name: "ModelQuote", body: `{"model":"chat\"x"}`, status: 404, msg: `chat\"x`},
		{name: "ModelUnterminated", body: `{"model":"chat\"}`, status: 400, msg: `has no "model"`},
		{name: "TooLarge", body: `{"model":"chat","pad":"` + strings.Repeat("x", 70<<10) + `"}`, status: 413, msg: "byte limit"},
		{name: "TooLargeChunked", body: `{"model":"chat","pad":"` + strings.Repeat("x", 70<<10) + `"}`, headers: map[string]string{"chunked": "1"}, status: 413, msg: "byte limit"},
		{name: "GET", method: "GET", body: "", status: 405, msg: "takes POST"},
		{name: "UnknownPath", path: "/v1/../admin/v1/tokens", body: `{"model":"chat"}`, status: 404, msg: "unknown path"},
		// The 404 lists every path served: a user reading it for the
		// model list's one model or a stored response's looked for
		// /v1/models/{model} and /v1/responses/{id} in vain (trial
		// "clients", finding 10).
		{name: "UnknownPathListsModel", path: "/v1/nothing", body: `{"model":"chat"}`, status: 404, msg: "/v1/models/{model}"},
		{name: "UnknownPathListsResponseByID", path: "/v1/nothing", body: `{"model":"chat"}`, status: 404, msg: "/v1/responses/{id}/input_items"},
		// Fields the proxy reads but does not require: a wrong type is
		// ignored, as the OpenAI API's own clients never send one.
		{name: "UserNumber", body: `{"model":"chat","user":12345,"messages":[]}`, status: 200, backend: true},
		{name: "CategoryControl", body: `{"model":"chat","metadata":{"category":"a\u0000b"},"messages":[]}`, status: 200, backend: true},
		{name: "CategoryHeaderLong", body: `{"model":"chat","messages":[]}`, headers: map[string]string{"X-Request-Category": long}, status: 200, backend: true},
		{name: "InvalidUTF8InContent", body: "{\"model\":\"chat\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}", status: 200, backend: true},
		{name: "DuplicateModel", body: `{"model":"chat","model":"other","messages":[]}`, status: 400, msg: `"model" more than once`},
		{name: "DuplicateModelEscaped", body: `{"model":"chat","mod\u0065l":"other","messages":[]}`, status: 400, msg: `"model" more than once`},
		// The gateway reads one stream setting and rewrites one
		// stream_options (adding include_usage for its token counts); a
		// backend may read another (Python's and Go's decoders keep the
		// last duplicate, serde's refuse them), which left usage off and
		// the tokens uncounted.
		{name: "DuplicateStreamOptions", body: `{"model":"chat","stream":true,"stream_options":{"include_usage":true},"stream_options":{"include_usage":false},"messages":[]}`, status: 400, msg: `"stream_options" more than once`},
		{name: "DuplicateIncludeUsage", body: `{"model":"chat","stream":true,"stream_options":{"include_usage":true,"include_usage":false},"messages":[]}`, status: 400, msg: `"stream_options.include_usage" more than once`},
		{name: "DuplicateStream", body: `{"model":"chat","stream":false,"stream":true,"messages":[]}`, status: 400, msg: `"stream" more than once`},
		{name: "DuplicateStreamOptionsEscaped", body: `{"model":"chat","stream":true,"stream_options":{"include_usage":true},"stream_opti\u006fns":{"include_usage":false},"messages":[]}`, status: 400, msg: `"stream_options" more than once`},
		{name: "DuplicateIncludeUsageEscaped", body: `{"model":"chat","stream":true,"stream_options":{"include_usage":true,"include_us\u0061ge":false},"us\u0065r":"u","messages":[]}`, status: 400, msg: `"stream_options.include_usage" more than once`},
		// Malformed JSON after a model: forwarded, and the backend's 400
		// comes back as it is.
		{name: "Truncated", body: `{"model":"chat","messages":[`, status: 400, backend: true},
		{name: "StreamString", body: `{"model":"chat","stream":"yes","messages":[]}`, status: 400, backend: true},
		{name: "TrailingGarbage", body: `{"model":"chat","messages":[]}}}`, status: 400, backend: true},
		{name: "DeepNesting", body: deep, status: 400, backend: true},
		{name: "MissingComma", body: `{"model":"chat","messages":[{"role":"user" "content":"hi"}]}`, status: 400, backend: true},
		{name: "SingleQuotedAfterModel", body: `{"model":"chat","messages":[{'role':'user','content':'hi'}]}`, status: 400, backend: true},
		{name: "TrailingComma", body: `{"model":"chat","messages":[{"role":"user","content":"hi"},]}`, status: 400, backend: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := b.Requests()
			method, path := c.method, c.path
			if method == "" {
				method = "POST"
			}
			if path == "" {
				path = "/v1/chat/completions"
			}
			var rd io.Reader = strings.NewReader(c.body)
			if c.headers["chunked"] != "" {
				rd = io.MultiReader(rd) // hides the length: sent chunked
			}
			req, err := http.NewRequest(method, url+path, rd)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range c.headers {
				if k != "chunked" {
					req.Header.Set(k, v)
				}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, body)
			}
			if reached := b.Requests() > before; reached != c.backend {
				t.Errorf("backend reached: %v, want %v", reached, c.backend)
			}
			if c.status < 400 {
				return
			}
			var e struct {
				Error struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Param   *string `json:"param"`
					Code    any     `json:"code"`
				} `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Error.Message == "" || e.Error.Type == "" {
				t.Fatalf("not an OpenAI-shaped error (%v): %q", err, body)
			}
			if c.msg != "" && !strings.Contains(e.Error.Message, c.msg) {
				t.Errorf("message %q does not say %q", e.Error.Message, c.msg)
			}
			if strings.ContainsAny(resp.Header.Get("X-Model-Version"), "\r\n") || resp.Header.Get("X-Injected") != "" {
				t.Error("a header was injected")
			}
		})
	}
}

// TestProxy_RedirectNotFollowed: a backend that answers with a redirect
// does not make the gateway send the request (and its headers) anywhere
// else; the target of the redirect is never called, and the client gets
// a 502.
func TestProxy_RedirectNotFollowed(t *testing.T) {
	var hits atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer elsewhere.Close()
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirecting.Close()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, redirecting.URL, ""), NoRetry: true})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"chat","messages":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if hits.Load() != 0 {
		t.Fatalf("the gateway followed the backend's redirect (%d calls elsewhere)", hits.Load())
	}
	// Nor is the redirect passed on (its Location is the backend's): it
	// is the version's failure (TestRedirectFromBackendIsNotSuccess).
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d, want 502", resp.StatusCode)
	}
}

// A backend's finish_reason reaches the request log as valid UTF-8 without
// control characters and bounded, whatever the backend sent: PostgreSQL
// refuses a NUL or invalid UTF-8 in text, and refused the whole batch of
// rows logged with it (up to 512 other requests' rows lost).
func TestProxy_OddFinishReasonCleaned(t *testing.T) {
	for _, c := range []struct{ name, answer, stream, want string }{
		{"NUL", `"a\u0000b"`, `"a\u0000b"`, "a\uFFFDb"},
		{"InvalidUTF8", "\"ok\xff\xfe\"", "\"ok\xff\xfe\"", "ok\uFFFD"},
		{"Long", `"` + strings.Repeat("x", 200) + `"`, `"` + strings.Repeat("x", 200) + `"`, strings.Repeat("x", 64)},
		{"Standard", `"stop"`, `"stop"`, "stop"},
	} {
		t.Run(c.name, func(t *testing.T) {
			be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if strings.Contains(string(body), `"stream":true`) {
					w.Header().Set("Content-Type", "text/event-stream")
					io.WriteString(w, `data: {"choices":[{"delta":{"content":"hi"},"finish_reason":`+c.stream+`}]}`+"\n\ndata: [DONE]\n\n")
					return
				}
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"object":"chat.completion","choices":[{"message":{"role":"assistant","content":"hi"},"finish_reason":`+c.answer+`}]}`)
			}))
			defer be.Close()
			log := &spyLog{}
			_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, ""), Log: log})
			chat(t, url, "chat")
			if resp, body := post(t, url, "/v1/chat/completions", `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}`); resp.StatusCode != 200 {
				t.Fatalf("stream: %d %s", resp.StatusCode, body)
			}
			rows := log.all()
			if len(rows) != 2 {
				t.Fatalf("%d rows logged, want 2", len(rows))
			}
			for _, r := range rows {
				if r.FinishReason != c.want {
					t.Errorf("stream=%v: finish reason %q, want %q", r.Stream, r.FinishReason, c.want)
				}
			}
		})
	}
}
