package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// TestGateway_TranscriptionStreamUsageVLLM: README ("Endpoints whose
// answers are not text"). vLLM sends a streamed transcription's usage only
// when the form asks stream_include_usage=true, so such a stream's request
// log row had no tokens. A backends entry with transcription_stream_usage
// now has the gateway add the field to the streamed forms it sends those
// endpoints: the row has the tokens of vLLM's last chunk (fakellm playing
// vLLM). A backend without the setting (here one that refuses fields it
// does not know) is not sent it.
func TestGateway_TranscriptionStreamUsageVLLM(t *testing.T) {
	vllm := MustBackend(t, fakellm.Config{Model: "up-v1.0.0", StrictModel: true, TranscriptionStream: "vllm"})
	// other refuses a form with a field it does not know, and otherwise
	// answers as fakellm (OpenAI's stream) does.
	fake := MustBackend(t, fakellm.Config{Model: "up-v1.1.0", StrictModel: true})
	fu, _ := url.Parse(fake.URL())
	rp := httputil.NewSingleHostReverseProxy(fu)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if bytes.Contains(b, []byte(`name="stream_include_usage"`)) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":{"message":"Unrecognized request argument supplied: stream_include_usage","type":"invalid_request_error"}}`)
			return
		}
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(other.Close)

	gw, admin := mustGatewayWith(t, func(c *config.Gateway) {
		c.Backends = []config.Backend{{Match: vllm.URL(), TranscriptionStreamUsage: true}}
	}, nil, chatDoc(map[string]string{"v1.0.0": vllm.URL(), "v1.1.0": other.URL}, nil, nil))
	cl := api.NewClient(gw.AdminURL(), admin)
	client := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey("x"), option.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wav := testWAV(2) // 20 audio tokens in, 5 words out

	for _, c := range []struct {
		version string
		last    string // the last event's raw text holds this
	}{{"v1.0.0", `"usage":{"completion_tokens":5,"prompt_tokens":20,"total_tokens":25}`}, {"v1.1.0", `"type":"transcript.text.done"`}} {
		var resp *http.Response
		stream := client.Audio.Transcriptions.NewStreaming(ctx, openai.AudioTranscriptionNewParams{Model: "chat:" + c.version, File: openai.File(bytes.NewReader(wav), "speech.wav", "audio/wav")},
			option.WithResponseInto(&resp))
		var events []string
		for stream.Next() {
			events = append(events, stream.Current().RawJSON())
		}
		if err := stream.Err(); err != nil {
			t.Fatalf("%s: stream: %v", c.version, err)
		}
		if len(events) < 2 || !strings.Contains(events[len(events)-1], c.last) {
			t.Errorf("%s: events %q; want the last to hold %s", c.version, events, c.last)
		}
		o := loggedRow(t, cl, resp.Header.Get("X-Request-Id"))
		if o.Version != c.version || o.Status != 200 || o.ErrorClass != "" || o.InputTokens != 20 || o.OutputTokens != 5 {
			t.Errorf("%s: request log row version %s, status %d, class %q, tokens %d/%d; want 20/5", c.version, o.Version, o.Status, o.ErrorClass, o.InputTokens, o.OutputTokens)
		}
	}
}
