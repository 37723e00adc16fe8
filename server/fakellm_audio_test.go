package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// The client keys of TestGateway_AudioEndpoints.
const (
	audioKey = "sk-audio-6c1e9a4b2d7f0835" // chat only
	embedKey = "sk-embed-0f83d2b6a91c4e57" // embed only
	anyKey   = "sk-any-5e2a7c90d4b13f68"   // every model
)

// testWAV is seconds of silence as a 16-bit mono WAV at 24 kHz.
func testWAV(seconds int) []byte {
	samples := seconds * 24000
	b := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(36+2*samples))...)
	b = append(b, "WAVEfmt "...)
	for _, v := range []uint32{16, 1 | 1<<16, 24000, 48000, 2 | 16<<16} {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(2*samples))
	return append(b, make([]byte, 2*samples)...)
}

// TestGateway_AudioEndpoints: README ("Endpoints whose answers are not
// text"): a Whisper-type model behind the gateway. Two fakellm versions
// of "chat" (each answering only its own upstream model name, so an
// answer shows the backend read the name the gateway wrote) split 95/5
// serve openai-go's Audio.Transcriptions.New and .NewStreaming,
// Audio.Translations.New and Images.NewVariation, routed by the form's
// model field and sticky on its user field. Each request log row names
// the version X-Model-Version named, the route, the status, and the
// tokens where the answer had usage (none for a translation, whisper-1's
// duration usage or a text answer); a stream's events reach the client
// whole, its TTFT its first event; /metrics counts each under its version
// and category, failures as 5xx. An unknown model in the form gets the
// JSON endpoints' 404, a key limited to another model a 403
// request_forbidden, and a form with two model parts a 400. All of them
// were 404s.
func TestGateway_AudioEndpoints(t *testing.T) {
	b1 := MustBackend(t, fakellm.Config{Model: "up-v1.0.0", StrictModel: true})
	b2 := MustBackend(t, fakellm.Config{Model: "up-v1.1.0", StrictModel: true})
	doc := chatDoc(map[string]string{"v1.0.0": b1.URL(), "v1.1.0": b2.URL()}, []sluice.Weight{{Version: "v1.0.0", Percent: 95}, {Version: "v1.1.0", Percent: 5}}, nil)
	doc.Models = append(doc.Models, sluice.ApplyModel{Name: "embed", Versions: []sluice.Version{{Version: "v1", Endpoints: []string{b1.URL()}, Stage: sluice.StageProduction}}})
	gw, admin := mustGatewayWith(t, func(c *config.Gateway) {
		c.ClientKeys = []config.ClientKey{
			{Name: "audio", Secret: audioKey, Models: []string{"chat"}},
			{Name: "embed", Secret: embedKey, Models: []string{"embed"}},
			{Name: "any", Secret: anyKey},
		}
	}, nil, doc)
	cl := api.NewClient(gw.AdminURL(), admin)
	client := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey(audioKey), option.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	wav := testWAV(2)                     // 2 s: 5 words, 20 audio tokens
	served := map[string]map[string]int{} // category -> version -> requests

	// check verifies the request log row of an answer and counts it.
	check := func(t *testing.T, category, path, route string, resp *http.Response, in, out int) sluice.Observation {
		t.Helper()
		version := strings.TrimPrefix(resp.Header.Get("X-Model-Version"), "chat:")
		o := loggedRow(t, cl, resp.Header.Get("X-Request-Id"))
		if o.Version != version || (version != "v1.0.0" && version != "v1.1.0") || o.Endpoint != path || o.Route != route ||
			o.Status != 200 || o.ErrorClass != "" || o.Category != category || o.InputTokens != in || o.OutputTokens != out || o.TokensEstimated {
			b, _ := json.Marshal(o)
			t.Errorf("%s: X-Model-Version %q, request log row %s, want tokens %d/%d", path, version, b, in, out)
		}
		if served[category] == nil {
			served[category] = map[string]int{}
		}
		if route == "split" {
			served[category][version]++
		}
		return o
	}
	transcribe := func(t *testing.T, user string, opts ...option.RequestOption) (*openai.Transcription, *http.Response) {
		t.Helper()
		var resp *http.Response
		p := openai.AudioTranscriptionNewParams{Model: "chat", File: openai.File(bytes.NewReader(wav), "speech.wav", "audio/wav"), Language: openai.String("en")}
		p.SetExtraFields(map[string]any{"user": user})
		tr, err := client.Audio.Transcriptions.New(ctx, p, append(opts, option.WithHeader("X-Request-Category", "transcribe"), option.WithResponseInto(&resp))...)
		if err != nil {
			t.Fatalf("transcription through the gateway: %v", err)
		}
		return tr, resp
	}

	// users holds, for each version, a user the 95/5 split sends there.
	users := map[string]string{}
	t.Run("Transcriptions", func(t *testing.T) {
		for i := 0; len(users) < 2 && i < 400; i++ {
			user := "user-" + strconv.Itoa(i)
			tr, resp := transcribe(t, user)
			if strings.Fields(tr.Text) == nil || tr.Usage.InputTokens != 20 || tr.Usage.OutputTokens != 5 || tr.Usage.Type != "tokens" {
				t.Fatalf("transcription %+v", tr)
			}
			check(t, "transcribe", "/v1/audio/transcriptions", "split", resp, 20, 5)
			v := strings.TrimPrefix(resp.Header.Get("X-Model-Version"), "chat:")
			if users[v] == "" {
				users[v] = user
			}
		}
		if len(users) != 2 {
			t.Fatalf("the 95/5 split sent 400 users to %v alone", users)
		}
		// Sticky on the form's user field: each user stays on its version.
		for v, user := range users {
			for range 3 {
				if _, resp := transcribe(t, user); resp.Header.Get("X-Model-Version") != "chat:"+v {
					t.Errorf("%s, first sent to %s, now answered by %s", user, v, resp.Header.Get("X-Model-Version"))
				} else {
					check(t, "transcribe", "/v1/audio/transcriptions", "split", resp, 20, 5)
				}
			}
		}
	})
	t.Run("TranscriptionStream", func(t *testing.T) {
		// NewStreaming replaces the params' extra fields with its
		// "stream", so no user can be set: each version is pinned.
		for _, v := range []string{"v1.0.0", "v1.1.0"} {
			var resp *http.Response
			p := openai.AudioTranscriptionNewParams{Model: "chat:" + v, File: openai.File(bytes.NewReader(wav), "speech.wav", "audio/wav")}
			stream := client.Audio.Transcriptions.NewStreaming(ctx, p, option.WithHeader("X-Request-Category", "transcribe-stream"),
				option.WithHeader(fakellm.HeaderLatency, "50"), option.WithResponseInto(&resp))
			var deltas strings.Builder
			var done openai.TranscriptionTextDoneEvent
			var types []string
			for stream.Next() {
				ev := stream.Current()
				types = append(types, ev.Type)
				switch ev.Type {
				case "transcript.text.delta":
					deltas.WriteString(ev.AsTranscriptTextDelta().Delta)
				case "transcript.text.done":
					done = ev.AsTranscriptTextDone()
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatalf("stream: %v", err)
			}
			if len(types) != 6 || types[5] != "transcript.text.done" || deltas.String() != done.Text || len(strings.Fields(done.Text)) != 5 || done.Usage.InputTokens != 20 {
				t.Errorf("%s: events %v, deltas %q, done %q with usage %+v", v, types, deltas.String(), done.Text, done.Usage)
			}
			if resp.Header.Get("X-Model-Version") != "chat:"+v {
				t.Errorf("stream pinned to %s answered by %s", v, resp.Header.Get("X-Model-Version"))
			}
			o := check(t, "transcribe-stream", "/v1/audio/transcriptions", "pin", resp, 20, 5)
			if !o.Stream || o.TTFT < 50*time.Millisecond || o.TTFT > o.Latency {
				t.Errorf("%s: stream %v, TTFT %v of %v, want a stream whose first event came after the backend's 50 ms", v, o.Stream, o.TTFT, o.Latency)
			}
		}
	})
	t.Run("Formats", func(t *testing.T) {
		// whisper-1's verbose_json reports seconds, no tokens; text, srt
		// and vtt are no JSON at all: successes without usage.
		for format, says := range map[string]string{"verbose_json": `"seconds":2`, "text": "\n", "srt": "00:00:00,000 --> 00:00:02,000", "vtt": "WEBVTT"} {
			var body bytes.Buffer
			mw := multipart.NewWriter(&body)
			fw, _ := mw.CreateFormFile("file", "speech.wav")
			fw.Write(wav)
			mw.WriteField("model", "chat")
			mw.WriteField("response_format", format)
			mw.Close()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, gw.URL()+"/v1/audio/transcriptions", &body)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			req.Header.Set("Authorization", "Bearer "+audioKey)
			req.Header.Set("X-Request-Category", "transcribe-"+format)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(got), says) || (format != "verbose_json") != strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Errorf("%s: %d %s %q", format, resp.StatusCode, resp.Header.Get("Content-Type"), got)
			}
			check(t, "transcribe-"+format, "/v1/audio/transcriptions", "split", resp, 0, 0)
		}
	})
	t.Run("Translations", func(t *testing.T) {
		for range 4 {
			var resp *http.Response
			tr, err := client.Audio.Translations.New(ctx, openai.AudioTranslationNewParams{Model: "chat", File: openai.File(bytes.NewReader(wav), "speech.wav", "audio/wav")},
				option.WithHeader("X-Request-Category", "translate"), option.WithResponseInto(&resp))
			if err != nil {
				t.Fatal(err)
			}
			if len(strings.Fields(tr.Text)) != 5 {
				t.Errorf("translation %q", tr.Text)
			}
			check(t, "translate", "/v1/audio/translations", "split", resp, 0, 0)
		}
	})
	t.Run("ImageVariations", func(t *testing.T) {
		var img bytes.Buffer
		png.Encode(&img, image.NewRGBA(image.Rect(0, 0, 8, 8)))
		for _, user := range users {
			var resp *http.Response
			im, err := client.Images.NewVariation(ctx, openai.ImageNewVariationParams{Model: "chat", Image: openai.File(bytes.NewReader(img.Bytes()), "in.png", "image/png"),
				Size: openai.ImageNewVariationParamsSize256x256, N: openai.Int(2), User: openai.String(user)},
				option.WithHeader("X-Request-Category", "variation"), option.WithResponseInto(&resp))
			if err != nil {
				t.Fatal(err)
			}
			if len(im.Data) != 2 {
				t.Fatalf("variations %+v", im)
			}
			raw, _ := base64.StdEncoding.DecodeString(im.Data[0].B64JSON)
			if got, err := png.Decode(bytes.NewReader(raw)); err != nil || got.Bounds().Dx() != 256 {
				t.Fatalf("variation: %v", err)
			}
			in := (img.Len() + 3) / 4
			check(t, "variation", "/v1/images/variations", "split", resp, in, 2*66)
		}
	})

	t.Run("Refused", func(t *testing.T) {
		// An unknown model: the 404 a JSON endpoint gives.
		var jsonErr, formErr *openai.Error
		anyModel := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey(anyKey), option.WithMaxRetries(0))
		_, err := anyModel.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "nope", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("x")}})
		if !errors.As(err, &jsonErr) {
			t.Fatalf("embeddings of an unknown model: %v", err)
		}
		_, err = anyModel.Audio.Transcriptions.New(ctx, openai.AudioTranscriptionNewParams{Model: "nope", File: openai.File(bytes.NewReader(wav), "speech.wav", "audio/wav")})
		if !errors.As(err, &formErr) || formErr.StatusCode != 404 || formErr.StatusCode != jsonErr.StatusCode || formErr.Type != jsonErr.Type || formErr.Code != jsonErr.Code || formErr.Message != jsonErr.Message {
			t.Errorf("unknown model in the form: %v, want the JSON endpoints' %v", err, jsonErr)
		}
		// A key limited to another model.
		embedOnly := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey(embedKey), option.WithMaxRetries(0))
		_, err = embedOnly.Audio.Translations.New(ctx, openai.AudioTranslationNewParams{Model: "chat", File: openai.File(bytes.NewReader(wav), "speech.wav", "audio/wav")})
		if !errors.As(err, &formErr) || formErr.StatusCode != 403 || formErr.Type != "request_forbidden" {
			t.Errorf("a key for embed alone transcribing with chat: %v, want 403 request_forbidden", err)
		}
		// Two model parts: the gateway would route on one, the backend
		// may read the other.
		p := openai.AudioTranscriptionNewParams{Model: "embed", File: openai.File(bytes.NewReader(wav), "speech.wav", "audio/wav")}
		p.SetExtraFields(map[string]any{"model": "chat"})
		var body []byte
		_, err = client.Audio.Transcriptions.New(ctx, p, option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
			body, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			return next(r)
		}))
		if n := bytes.Count(body, []byte(`name="model"`)); n != 2 {
			t.Fatalf("the SDK sent %d model parts, want 2", n)
		}
		if !errors.As(err, &formErr) || formErr.StatusCode != 400 || !strings.Contains(formErr.Message, `"model" more than once`) {
			t.Errorf("two model parts: %v, want a 400 saying so", err)
		}
		// A failure of the backend counts against its version.
		_, err = client.Audio.Transcriptions.New(ctx, openai.AudioTranscriptionNewParams{Model: "chat:v1.1.0", File: openai.File(bytes.NewReader(wav), "speech.wav", "audio/wav")},
			option.WithHeader(fakellm.HeaderStatus, "500"), option.WithHeader("X-Request-Category", "transcribe-fail"))
		if !errors.As(err, &formErr) || formErr.StatusCode != 500 {
			t.Errorf("a transcription v1.1.0 fails: %v, want its 500", err)
		}
	})

	metrics := scrape(t, gw.AdminURL()+"/metrics")
	count := func(category, route, class, version string) int {
		re := regexp.MustCompile(`(?m)^sluice_requests_total\{category="` + category + `",model="chat",route="` + route + `",status_class="` + class + `",version="` + regexp.QuoteMeta(version) + `"\} (\d+)$`)
		if m := re.FindStringSubmatch(metrics); m != nil {
			n, _ := strconv.Atoi(m[1])
			return n
		}
		return 0
	}
	for category, byVersion := range served {
		for _, version := range []string{"v1.0.0", "v1.1.0"} {
			if got := count(category, "split", "2xx", version); got != byVersion[version] {
				t.Errorf("/metrics: %s requests of %s: %d, want the %d its answers named", category, version, got, byVersion[version])
			}
		}
	}
	if got := count("transcribe-fail", "pin", "5xx", "v1.1.0"); got != 1 {
		t.Errorf("/metrics: the failed transcription of v1.1.0 counted %d times as a 5xx, want once", got)
	}
	if len(served) != 8 {
		t.Errorf("served %v, want eight categories", served)
	}
}
