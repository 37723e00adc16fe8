package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/fakellm"
)

// TestGateway_FakeModelServerOtherEndpoints: what the README's "try it"
// commands do. Two fakellm versions (each answering only its own upstream
// model name) split 50/50 serve rerank and score over plain HTTP and the
// OpenAI SDK's moderations, image generation and speech through a real
// gateway. Each answer has the shape its client reads, the request log
// names the version the X-Model-Version header named, with the endpoint
// and the tokens its answer reported, and /metrics counts each request
// under that version (each endpoint sent with its own category).
func TestGateway_FakeModelServerOtherEndpoints(t *testing.T) {
	b1 := MustBackend(t, fakellm.Config{Model: "up-v1.0.0", StrictModel: true})
	b2 := MustBackend(t, fakellm.Config{Model: "up-v1.1.0", StrictModel: true})
	doc := chatDoc(map[string]string{"v1.0.0": b1.URL(), "v1.1.0": b2.URL()}, []sluice.Weight{{Version: "v1.0.0", Percent: 50}, {Version: "v1.1.0", Percent: 50}}, nil)
	gw, admin := MustGateway(t, "", doc)
	cl := api.NewClient(gw.AdminURL(), admin)
	client := openaiClient(gw.URL())
	ctx := context.Background()
	const perPath = 6
	served := map[string]map[string]int{} // category -> version -> requests

	// check verifies the request log row of an answer and counts it.
	check := func(t *testing.T, category, path string, resp *http.Response) sluice.Observation {
		t.Helper()
		version := strings.TrimPrefix(resp.Header.Get("X-Model-Version"), "chat:")
		o := loggedRow(t, cl, resp.Header.Get("X-Request-Id"))
		if o.Version != version || (version != "v1.0.0" && version != "v1.1.0") || o.Endpoint != path || o.Status != 200 || o.ErrorClass != "" || o.Category != category {
			t.Errorf("%s: X-Model-Version %q, request log row %+v", path, version, o)
		}
		if served[category] == nil {
			served[category] = map[string]int{}
		}
		served[category][version]++
		return o
	}
	httpPost := func(t *testing.T, path, category, body string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, gw.URL()+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Request-Category", category)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s (%v)", path, resp.StatusCode, got, err)
		}
		return resp, got
	}

	t.Run("rerank", func(t *testing.T) {
		for range perPath {
			resp, body := httpPost(t, "/v1/rerank", "rerank", `{"model":"chat","query":"What is the capital of France?","documents":["I'm sorry, I can't help with that.","Paris is the capital of France."]}`)
			var ans struct {
				Model   string `json:"model"`
				Results []struct {
					Index          int     `json:"index"`
					RelevanceScore float64 `json:"relevance_score"`
				} `json:"results"`
			}
			if err := json.Unmarshal(body, &ans); err != nil || len(ans.Results) != 2 || ans.Results[0].Index != 1 || ans.Model != "up-"+strings.TrimPrefix(resp.Header.Get("X-Model-Version"), "chat:") {
				t.Fatalf("rerank answer %s", body)
			}
			if o := check(t, "rerank", "/v1/rerank", resp); o.InputTokens <= 0 {
				t.Errorf("rerank: input tokens %d, want usage.total_tokens", o.InputTokens)
			}
		}
	})
	t.Run("score", func(t *testing.T) {
		for range perPath {
			resp, body := httpPost(t, "/v1/score", "score", `{"model":"chat","text_1":"capital of France","text_2":["Paris is the capital of France.","Pizza."]}`)
			var ans struct {
				Data []struct {
					Score float64 `json:"score"`
				} `json:"data"`
			}
			if err := json.Unmarshal(body, &ans); err != nil || len(ans.Data) != 2 || ans.Data[0].Score <= ans.Data[1].Score {
				t.Fatalf("score answer %s", body)
			}
			if o := check(t, "score", "/v1/score", resp); o.InputTokens <= 0 {
				t.Errorf("score: input tokens %d, want usage.prompt_tokens", o.InputTokens)
			}
		}
	})
	t.Run("moderations", func(t *testing.T) {
		for range perPath {
			var resp *http.Response
			m, err := client.Moderations.New(ctx, openai.ModerationNewParams{Model: "chat", Input: openai.ModerationNewParamsInputUnion{OfStringArray: []string{"Have a nice day.", "I will kill you."}}},
				option.WithHeader("X-Request-Category", "moderations"), option.WithResponseInto(&resp))
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Results) != 2 || m.Results[0].Flagged || !m.Results[1].Flagged || !m.Results[1].Categories.Violence {
				t.Fatalf("moderation %+v", m.Results)
			}
			check(t, "moderations", "/v1/moderations", resp)
		}
	})
	t.Run("images", func(t *testing.T) {
		for range perPath {
			var resp *http.Response
			im, err := client.Images.Generate(ctx, openai.ImageGenerateParams{Model: "chat", Prompt: "a lighthouse", Size: "256x256"},
				option.WithHeader("X-Request-Category", "images"), option.WithResponseInto(&resp))
			if err != nil {
				t.Fatal(err)
			}
			if len(im.Data) != 1 {
				t.Fatalf("images %+v", im)
			}
			raw, err := base64.StdEncoding.DecodeString(im.Data[0].B64JSON)
			if err != nil {
				t.Fatal(err)
			}
			if img, err := png.Decode(bytes.NewReader(raw)); err != nil || img.Bounds().Dx() != 256 {
				t.Fatalf("image: %v", err)
			}
			if o := check(t, "images", "/v1/images/generations", resp); o.InputTokens <= 0 || o.OutputTokens <= 0 {
				t.Errorf("images: tokens %d/%d, want usage's input and output tokens", o.InputTokens, o.OutputTokens)
			}
		}
	})
	t.Run("speech", func(t *testing.T) {
		for range perPath {
			resp, err := client.Audio.Speech.New(ctx, openai.AudioSpeechNewParams{Model: "chat", Input: "Hello from Sluice", Voice: openai.AudioSpeechNewParamsVoiceAlloy, ResponseFormat: openai.AudioSpeechNewParamsResponseFormatWAV},
				option.WithHeader("X-Request-Category", "speech"))
			if err != nil {
				t.Fatal(err)
			}
			wav, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.Header.Get("Content-Type") != "audio/wav" || resp.ContentLength != int64(len(wav)) || len(wav) < 44 ||
				string(wav[:4]) != "RIFF" || int(binary.LittleEndian.Uint32(wav[40:44])) != len(wav)-44 {
				t.Fatalf("speech: %v, %q, Content-Length %d, %d bytes", err, resp.Header.Get("Content-Type"), resp.ContentLength, len(wav))
			}
			check(t, "speech", "/v1/audio/speech", resp)
		}
	})

	metrics := scrape(t, gw.AdminURL()+"/metrics")
	for category, byVersion := range served {
		for _, version := range []string{"v1.0.0", "v1.1.0"} {
			re := regexp.MustCompile(`(?m)^sluice_requests_total\{category="` + category + `",model="chat",route="split",status_class="2xx",version="` + regexp.QuoteMeta(version) + `"\} (\d+)$`)
			got := 0
			if m := re.FindStringSubmatch(metrics); m != nil {
				got, _ = strconv.Atoi(m[1])
			}
			if got != byVersion[version] {
				t.Errorf("/metrics: %s requests of %s: %d, want the %d its answers named", category, version, got, byVersion[version])
			}
		}
	}
	if len(served) != 5 {
		t.Errorf("served %v, want five endpoints", served)
	}
}
