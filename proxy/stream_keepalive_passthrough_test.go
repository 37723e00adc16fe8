package proxy_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/packages/ssestream"
	"github.com/openai/openai-go/responses"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// withoutCommentBlockEnds is what a client reads of the backend's parts
// once the gateway passed them: each keep-alive block (keepAlive, a
// sse-starlette ping with \r\n, an empty comment) without the blank line
// that ends it, every event as it came.
func withoutCommentBlockEnds(parts ...string) string {
	without := map[string]string{keepAlive: ": keep-alive\n", ":\n\n": ":\n", kaPing: strings.TrimSuffix(kaPing, "\r\n")}
	var b strings.Builder
	for _, p := range parts {
		if w, ok := without[p]; ok {
			p = w
		}
		b.WriteString(p)
	}
	return b.String()
}

// kaPing is sse-starlette's keep-alive, its lines ended with \r\n.
const kaPing = ": ping - 2026-12-07 10:00:00.000000+00:00\r\n\r\n"

// byIDEvents are the events of a background response resumed by id, with
// keep-alive blocks before, between and after them.
var byIDEvents = []string{
	keepAlive,
	"event: response.in_progress\ndata: {\"type\":\"response.in_progress\",\"sequence_number\":2,\"response\":{\"id\":\"resp_bg\",\"object\":\"response\",\"created_at\":1,\"model\":\"up-v1\",\"status\":\"in_progress\",\"output\":[]}}\n\n",
	kaPing,
	"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":3,\"item_id\":\"m\",\"output_index\":0,\"content_index\":0,\"delta\":\"hello\"}\n\n",
	keepAlive, ":\n\n",
	"event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":4,\"response\":{\"id\":\"resp_bg\",\"object\":\"response\",\"created_at\":1,\"model\":\"up-v1\",\"status\":\"completed\",\"output\":[{\"type\":\"message\",\"id\":\"m\",\"role\":\"assistant\",\"status\":\"completed\",\"content\":[{\"type\":\"output_text\",\"text\":\"hello\",\"annotations\":[]}]}],\"usage\":{\"input_tokens\":3,\"output_tokens\":1,\"total_tokens\":4}}}\n\n",
	keepAlive,
}

// backgroundBackend answers a Responses request whole, ignoring
// "stream", with the background response resp_bg as it stands (status
// given), and its by-id GET with the stream of byIDEvents, each part a
// write of its own; the query of the last GET goes to gotQuery.
func backgroundBackend(t *testing.T, status string, gotQuery chan<- string) string {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Method == http.MethodPost {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id":"resp_bg","object":"response","created_at":1700000000,"model":"up-v1","status":"`+status+`","background":true,"output":[],"usage":null}`)
			return
		}
		select {
		case gotQuery <- r.URL.RawQuery:
		default:
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, p := range byIDEvents {
			io.WriteString(w, p)
			w.(http.Flusher).Flush()
			time.Sleep(10 * time.Millisecond) // separate reads at the gateway
		}
	}))
	t.Cleanup(be.Close)
	return be.URL
}

// What the user does: starts a background response with stream: true
// through openai-go (client.Responses.NewStreaming, Background: true),
// against a backend that ignores "stream" and answers with the response
// as it stands (queued, or in progress), then resumes its stream by id
// (client.Responses.GetStreaming, starting_after the last event read),
// which that backend sends with keep-alive blocks between its events.
// What happened: the whole answer was relayed as a stream closing with
// response.completed carrying status "queued", telling the client the
// response was done, with no output; and the resumed stream was passed on
// byte for byte, keep-alive blocks and all, so openai-go failed it at the
// first ("unexpected end of JSON input").
// What must happen: the first stream is response.created and
// response.queued (response.in_progress for one in progress) with the
// response as it is, and ends there, with no error; the resume reaches the
// backend that holds the response, with the client's starting_after, and
// openai-go reads every event of it with no error (the text "hello", then
// response.completed); the raw stream is the backend's without the blank
// lines that end its keep-alives.
func TestResponsesBackgroundStreamAndResumeByID(t *testing.T) {
	for _, status := range []string{"queued", "in_progress"} {
		t.Run(status, func(t *testing.T) {
			gotQuery := make(chan string, 1)
			be := backgroundBackend(t, status, gotQuery)
			_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, be, be, 0)})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c := respSDK(url)
			params := respInput("chat:v2", "write a long essay")
			params.Background = openai.Bool(true)
			s := c.Responses.NewStreaming(ctx, params)
			var types []string
			var last int64
			for s.Next() {
				ev := s.Current()
				types = append(types, ev.Type)
				last = ev.SequenceNumber
				if ev.Response.ID != "resp_bg" || string(ev.Response.Status) != status {
					t.Errorf("%s: response %q status %q, want resp_bg %s", ev.Type, ev.Response.ID, ev.Response.Status, status)
				}
			}
			s.Close()
			want := []string{"response.created", "response." + status}
			if err := s.Err(); err != nil || strings.Join(types, " ") != strings.Join(want, " ") {
				t.Errorf("background stream: events %v, error %v; want %v and its end, no error", types, err, want)
			}

			g := c.Responses.GetStreaming(ctx, "resp_bg", responses.ResponseGetParams{StartingAfter: openai.Int(last)})
			var text, end string
			for g.Next() {
				switch ev := g.Current(); ev.Type {
				case "response.output_text.delta":
					text += ev.Delta.OfString
				case "response.completed":
					end = ev.Response.OutputText()
				}
			}
			g.Close()
			if err := g.Err(); err != nil || text != "hello" || end != "hello" {
				t.Fatalf("resumed by id through openai-go: text %q, completed %q, error %v; want \"hello\" and response.completed, no error", text, end, err)
			}
			if q := <-gotQuery; q != "starting_after="+strconv.FormatInt(last, 10) {
				t.Errorf("the backend got the query %q, want starting_after=%d", q, last)
			}

			resp, err := http.Get(url + "/v1/responses/resp_bg?stream=true")
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := withoutCommentBlockEnds(byIDEvents...); string(raw) != want {
				t.Errorf("the client read\n%q\nwant the backend's stream without the blank lines ending its keep-alives\n%q", raw, want)
			}
		})
	}
}

// The events of a streamed image generation and of speech streamed as
// events, with keep-alive blocks before, between and after them.
var (
	imageEvents = []string{
		keepAlive,
		"event: image_generation.partial_image\ndata: {\"type\":\"image_generation.partial_image\",\"b64_json\":\"AAAA\",\"partial_image_index\":0,\"created_at\":1,\"size\":\"1024x1024\",\"quality\":\"low\",\"background\":\"opaque\",\"output_format\":\"png\"}\n\n",
		kaPing, ":\n\n",
		"event: image_generation.completed\ndata: {\"type\":\"image_generation.completed\",\"b64_json\":\"BBBB\",\"created_at\":1,\"size\":\"1024x1024\",\"quality\":\"low\",\"background\":\"opaque\",\"output_format\":\"png\",\"usage\":{\"input_tokens\":3,\"output_tokens\":9,\"total_tokens\":12,\"input_tokens_details\":{\"image_tokens\":0,\"text_tokens\":3}}}\n\n",
		keepAlive,
	}
	speechEvents = []string{
		kaPing,
		"data: {\"type\":\"speech.audio.delta\",\"audio\":\"AAAA\"}\n\n",
		keepAlive,
		"data: {\"type\":\"speech.audio.delta\",\"audio\":\"BBBB\"}\n\n",
		keepAlive, ":\n\n",
		"data: {\"type\":\"speech.audio.done\",\"usage\":{\"input_tokens\":2,\"output_tokens\":2,\"total_tokens\":4}}\n\n",
	}
)

// anyParts is parts as reviewSSE takes them.
func anyParts(parts []string) []any {
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out
}

// What the user does: streams an image generation
// (client.Images.GenerateStreaming) or speech as events
// (client.Audio.Speech.New with stream_format "sse", read with openai-go's
// ssestream) from a backend that sends keep-alive blocks between events.
// What happened: the gateway passed those streams through byte for byte,
// and openai-go failed each at its first keep-alive block ("unexpected end
// of JSON input").
// What must happen: openai-go reads every event with no error; the raw
// stream is the backend's without the blank lines that end its
// keep-alives.
func TestMediaStreamsKeepAlivesDoNotBreakOpenAIGo(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			imgURL, speechURL := reviewSSE(t, anyParts(imageEvents)...), reviewSSE(t, anyParts(speechEvents)...)
			_, img := MustProxy(t, proxy.Options{Routes: splitRoutes(t, imgURL, imgURL, 0), Transport: tr.rt})
			_, speech := MustProxy(t, proxy.Options{Routes: splitRoutes(t, speechURL, speechURL, 0), Transport: tr.rt})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()

			s := respSDK(img).Images.GenerateStreaming(ctx, openai.ImageGenerateParams{Model: "chat:v2", Prompt: "a lighthouse"})
			var types []string
			for s.Next() {
				types = append(types, s.Current().Type)
			}
			s.Close()
			if err := s.Err(); err != nil || strings.Join(types, " ") != "image_generation.partial_image image_generation.completed" {
				t.Errorf("image stream through openai-go: events %v, error %v; want the partial image and completed, no error", types, err)
			}

			res, err := respSDK(speech).Audio.Speech.New(ctx, openai.AudioSpeechNewParams{Model: "chat:v2", Input: "hi there", Voice: "alloy",
				StreamFormat: openai.AudioSpeechNewParamsStreamFormatSSE})
			ss := ssestream.NewStream[struct {
				Type string `json:"type"`
			}](ssestream.NewDecoder(res), err)
			types = nil
			for ss.Next() {
				types = append(types, ss.Current().Type)
			}
			if res != nil {
				res.Body.Close()
			}
			if err := ss.Err(); err != nil || strings.Join(types, " ") != "speech.audio.delta speech.audio.delta speech.audio.done" {
				t.Errorf("speech events through openai-go: %v, error %v; want two deltas and done, no error", types, err)
			}

			for _, c := range []struct {
				url, path, body string
				parts           []string
			}{
				{img, "/v1/images/generations", `{"model":"chat:v2","prompt":"p","stream":true}`, imageEvents},
				{speech, "/v1/audio/speech", `{"model":"chat:v2","input":"hi","voice":"alloy","stream_format":"sse"}`, speechEvents},
			} {
				if _, body := post(t, c.url, c.path, c.body); body != withoutCommentBlockEnds(c.parts...) {
					t.Errorf("%s: the client read\n%q\nwant the backend's stream without the blank lines ending its keep-alives\n%q", c.path, body, withoutCommentBlockEnds(c.parts...))
				}
			}
		})
	}
}

// What the user does: runs sluice fakellm with keep_alive (and, for a
// second backend, ignore_stream_rate 1 with ignore_stream_encoding gzip)
// behind the gateway and reads its streams through openai-go: a chat
// completion, a response, that response again by id, speech as events.
// What must happen: each reads whole with no error, as from a backend
// without keep-alives; the gzipped whole answers arrive as streams.
func TestFakellmKeepAlivesAndEncodedAnswersThroughSluice(t *testing.T) {
	ka := MustBackend(t, fakellm.Config{KeepAlive: true, Default: fakellm.Behavior{OutputTokens: fakellm.TokenCount{Mean: 4}}})
	gz := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{OutputTokens: fakellm.TokenCount{Mean: 4}, IgnoreStreamRate: 1, IgnoreStreamEncoding: fakellm.EncodingGzip}})
	for name, be := range map[string]*fakellm.Server{"keep_alive": ka, "ignore_stream_encoding": gz} {
		t.Run(name, func(t *testing.T) {
			_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, be.URL(), be.URL(), 0)})
			if text, err := modelStream(t, url, "chat:v2"); err != nil || text == "" {
				t.Errorf("chat: text %q, error %v; want the answer, no error", text, err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c := respSDK(url)
			s := c.Responses.NewStreaming(ctx, respInput("chat:v2", "hi"))
			var id, text string
			for s.Next() {
				if ev := s.Current(); ev.Type == "response.completed" {
					id, text = ev.Response.ID, ev.Response.OutputText()
				}
			}
			s.Close()
			if err := s.Err(); err != nil || text == "" {
				t.Fatalf("responses: text %q, error %v; want the answer, no error", text, err)
			}
			g := c.Responses.GetStreaming(ctx, id, responses.ResponseGetParams{})
			var again string
			for g.Next() {
				if ev := g.Current(); ev.Type == "response.completed" {
					again = ev.Response.OutputText()
				}
			}
			g.Close()
			if err := g.Err(); err != nil || again != text {
				t.Errorf("by id: text %q, error %v; want %q, no error", again, err, text)
			}
			res, err := c.Audio.Speech.New(ctx, openai.AudioSpeechNewParams{Model: "chat:v2", Input: "hi there", Voice: "alloy", StreamFormat: openai.AudioSpeechNewParamsStreamFormatSSE})
			ss := ssestream.NewStream[struct {
				Type string `json:"type"`
			}](ssestream.NewDecoder(res), err)
			var last string
			for ss.Next() {
				last = ss.Current().Type
			}
			if res != nil {
				res.Body.Close()
			}
			if err := ss.Err(); err != nil || last != "speech.audio.done" {
				t.Errorf("speech events: last %q, error %v; want speech.audio.done, no error", last, err)
			}
		})
	}
}
