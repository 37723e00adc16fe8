package proxy_test

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/proxy"
)

// formBackend answers any path, keeping the path and the form of each
// request; a form with "stream" true gets vLLM's transcription stream
// (transcription.chunk objects, the last with usage, then [DONE]).
type formBackend struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
	forms []map[string]string
}

// vllmTranscriptStream is what vLLM streams for a transcription asked
// with stream_include_usage.
const vllmTranscriptStream = "data: {\"id\":\"trsc-1\",\"object\":\"transcription.chunk\",\"created\":1,\"model\":\"up-v1\",\"choices\":[{\"delta\":{\"content\":\" Hello\"},\"finish_reason\":null,\"stop_reason\":null}]}\n\n" +
	"data: {\"id\":\"trsc-1\",\"object\":\"transcription.chunk\",\"created\":1,\"model\":\"up-v1\",\"choices\":[{\"delta\":{\"content\":\" there.\"},\"finish_reason\":\"stop\",\"stop_reason\":null}]}\n\n" +
	"data: {\"id\":\"trsc-1\",\"object\":\"transcription.chunk\",\"created\":1,\"model\":\"up-v1\",\"choices\":[],\"usage\":{\"prompt_tokens\":31,\"completion_tokens\":3,\"total_tokens\":34}}\n\n" +
	"data: [DONE]\n\n"

// imageVariations is an images answer with usage.
const imageVariations = `{"created":1,"data":[{"b64_json":"AAAA"},{"b64_json":"BBBB"}],"usage":{"input_tokens":765,"output_tokens":132,"total_tokens":897}}`

func newFormBackend(tb testing.TB) *formBackend {
	b := &formBackend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form := readForm(tb, r.Header.Get("Content-Type"), body)
		b.mu.Lock()
		b.paths = append(b.paths, r.URL.Path)
		b.forms = append(b.forms, form)
		b.mu.Unlock()
		switch {
		case form["stream"] == "true":
			w.Header().Set("Content-Type", "text/event-stream")
			for _, ev := range strings.SplitAfter(vllmTranscriptStream, "\n\n") {
				io.WriteString(w, ev)
				w.(http.Flusher).Flush()
			}
		case r.URL.Path == "/v1/images/variations":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, imageVariations)
		case form["response_format"] == "text":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.WriteString(w, "Hello there.\n")
		default:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"text":"Hello there.","usage":{"type":"tokens","input_tokens":31,"output_tokens":3,"total_tokens":34}}`)
		}
	}))
	tb.Cleanup(b.Close)
	return b
}

func (b *formBackend) received() ([]string, []map[string]string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.paths, b.forms
}

// audioForm is a form as the SDKs write it: the file first, the model
// after it, then fields (names and values alternating).
func audioForm(file string, fields ...string) (string, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, _ := mw.CreateFormFile(file, "in.wav")
	fw.Write(editImage)
	for i := 0; i+1 < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	mw.Close()
	return b.String(), mw.FormDataContentType()
}

// TestProxy_FormPaths: /v1/audio/transcriptions, /v1/audio/translations
// and /v1/images/variations are routed by the form's "model" as an image
// edit is: the backend gets the form at the same path with the version's
// upstream model and the file intact, and a shadow mirrors it with the
// candidate's (the form read again in the worker, mirroredFields). A
// transcript as text passes as it came, a success without tokens; vLLM's
// stream passes byte for byte, and its last chunk's usage is the row's.
// They were 404s.
func TestProxy_FormPaths(t *testing.T) {
	for _, tc := range []struct {
		path, file string
		fields     []string
		answer     string
		in, out    int
		stream     bool
	}{
		{"/v1/audio/transcriptions", "file", []string{"model", "chat", "language", "en"}, `{"text":"Hello there.","usage":{"type":"tokens","input_tokens":31,"output_tokens":3,"total_tokens":34}}`, 31, 3, false},
		{"/v1/audio/transcriptions", "file", []string{"model", "chat", "response_format", "text"}, "Hello there.\n", 0, 0, false},
		{"/v1/audio/transcriptions", "file", []string{"model", "chat", "stream", "true", "stream_include_usage", "true"}, vllmTranscriptStream, 31, 3, true},
		{"/v1/audio/translations", "file", []string{"model", "chat"}, `{"text":"Hello there.","usage":{"type":"tokens","input_tokens":31,"output_tokens":3,"total_tokens":34}}`, 31, 3, false},
		{"/v1/images/variations", "image", []string{"model", "chat", "n", "2"}, imageVariations, 765, 132, false},
	} {
		t.Run(tc.path[4:]+"-"+tc.fields[len(tc.fields)-2], func(t *testing.T) {
			stable, cand := newFormBackend(t), newFormBackend(t)
			log := &spyLog{}
			p, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, stable.URL, cand.URL), Log: log, NoRetry: true})
			p.SetShadow("chat", "chat:v2", 1)
			body, ctype := audioForm(tc.file, tc.fields...)
			resp, got := post(t, url, tc.path, body, "Content-Type", ctype)
			if resp.StatusCode != 200 || got != tc.answer || resp.Header.Get("X-Model-Version") != "chat:v1" {
				t.Fatalf("%d %s %q, want chat:v1's answer %q", resp.StatusCode, resp.Header.Get("X-Model-Version"), got, tc.answer)
			}
			for _, side := range []struct {
				be       *formBackend
				upstream string
			}{{stable, "up-v1"}, {cand, "up-v2"}} {
				waitFor(t, side.upstream+"'s request", func() bool { paths, _ := side.be.received(); return len(paths) == 1 })
				paths, forms := side.be.received()
				if paths[0] != tc.path || forms[0]["model"] != side.upstream || forms[0]["file:"+tc.file] != string(editImage) {
					t.Errorf("%s: the backend got %s with model %q, the file intact %v", side.upstream, paths[0], forms[0]["model"], forms[0]["file:"+tc.file] == string(editImage))
				}
			}
			rows := log.all()
			if len(rows) != 1 || rows[0].Endpoint != tc.path || rows[0].Version != "v1" || rows[0].Status != 200 || rows[0].ErrorClass != "" ||
				rows[0].InputTokens != tc.in || rows[0].OutputTokens != tc.out || rows[0].Stream != tc.stream || rows[0].TokensEstimated {
				t.Errorf("logged %+v, want one 200 of v1 with tokens %d/%d", rows, tc.in, tc.out)
			}
		})
	}
}
