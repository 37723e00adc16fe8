package fakellm

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"image"
	_ "image/jpeg"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestServer_Rerank: vLLM's /v1/rerank answers with results by relevance,
// highest first, each with its index into documents, the document (unless
// return_documents is false) and relevance_score, cut to top_n, and usage
// total_tokens; the document that answers the query ranks first.
func TestServer_Rerank(t *testing.T) {
	s := MustStart(t, Config{Model: "bge-reranker"})
	c := newClient(t)
	var got struct {
		ID      string `json:"id"`
		Model   string `json:"model"`
		Results []struct {
			Index          int        `json:"index"`
			RelevanceScore float64    `json:"relevance_score"`
			Document       *rerankDoc `json:"document"`
		} `json:"results"`
		Usage struct {
			TotalTokens int `json:"total_tokens"`
		} `json:"usage"`
	}
	body := `{"model":"bge-reranker","query":"What is the capital of France?","documents":["I'm sorry, I can't help with that.",{"text":"Paris is the capital of France."},"Berlin is in Germany."]}`
	decode(t, post(t, c, s.URL()+"/v1/rerank", body), 200, &got)
	if len(got.Results) != 3 || got.Model != "bge-reranker" || got.Usage.TotalTokens <= 0 || got.ID == "" {
		t.Fatalf("rerank %+v", got)
	}
	if r := got.Results[0]; r.Index != 1 || r.Document == nil || r.Document.Text != "Paris is the capital of France." || r.RelevanceScore < 0.5 {
		t.Errorf("first result %+v, want document 1 (Paris) with a high score", r)
	}
	for i := 1; i < len(got.Results); i++ {
		if r := got.Results[i]; r.RelevanceScore > got.Results[i-1].RelevanceScore || r.RelevanceScore <= 0 || r.RelevanceScore >= 1 {
			t.Errorf("result %d %+v: scores not in (0,1) highest first", i, r)
		}
	}
	got.Results = nil
	decode(t, post(t, c, s.URL()+"/v1/rerank", `{"query":"capital of France","documents":["a","Paris capital France"],"top_n":1,"return_documents":false}`), 200, &got)
	if len(got.Results) != 1 || got.Results[0].Index != 1 || got.Results[0].Document != nil {
		t.Errorf("top_n 1 without documents: %+v", got.Results)
	}
	for _, bad := range []string{`{"documents":["a"]}`, `{"query":"q","documents":[]}`, `{"query":"q","documents":"a"}`, `{"query":"q","documents":[1]}`} {
		resp := post(t, c, s.URL()+"/v1/rerank", bad)
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(msg), "query") {
			t.Errorf("rerank %s: %d %s, want a 400 saying what rerank takes", bad, resp.StatusCode, msg)
		}
	}
}

// TestServer_Score: vLLM's /v1/score scores text_1 against each text_2 (or
// pairwise), in "data" of "score" objects with usage.prompt_tokens.
func TestServer_Score(t *testing.T) {
	s := MustStart(t, Config{})
	c := newClient(t)
	var got struct {
		Object string `json:"object"`
		Data   []struct {
			Index  int     `json:"index"`
			Object string  `json:"object"`
			Score  float64 `json:"score"`
		} `json:"data"`
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"usage"`
	}
	decode(t, post(t, c, s.URL()+"/v1/score", `{"model":"m","text_1":"capital of France","text_2":["Paris is the capital of France.","I like pizza."]}`), 200, &got)
	if got.Object != "list" || len(got.Data) != 2 || got.Data[1].Index != 1 || got.Data[0].Object != "score" || got.Usage.PromptTokens <= 0 {
		t.Fatalf("score %+v", got)
	}
	if got.Data[0].Score <= got.Data[1].Score {
		t.Errorf("scores %+v: the text that answers should score higher", got.Data)
	}
	resp := post(t, c, s.URL()+"/v1/score", `{"text_1":["a","b"],"text_2":["a","b","c"]}`)
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("text_1 of 2 against text_2 of 3: %d, want 400", resp.StatusCode)
	}
}

// TestServer_Moderations: one result per input with every category of the
// OpenAI API; a text holding a flag word is flagged in its category.
func TestServer_Moderations(t *testing.T) {
	s := MustStart(t, Config{})
	c := newClient(t)
	var got struct {
		ID      string `json:"id"`
		Results []struct {
			Flagged        bool                `json:"flagged"`
			Categories     map[string]bool     `json:"categories"`
			CategoryScores map[string]float64  `json:"category_scores"`
			Applied        map[string][]string `json:"category_applied_input_types"`
		} `json:"results"`
	}
	decode(t, post(t, c, s.URL()+"/v1/moderations", `{"input":["Have a nice day.","I will kill you."]}`), 200, &got)
	if len(got.Results) != 2 || got.ID == "" {
		t.Fatalf("moderations %+v", got)
	}
	if r := got.Results[0]; r.Flagged || len(r.Categories) != len(moderationCategories) || len(r.CategoryScores) != len(moderationCategories) {
		t.Errorf("a kind text: %+v", r)
	}
	if r := got.Results[1]; !r.Flagged || !r.Categories["violence"] || r.CategoryScores["violence"] < 0.9 || r.Categories["hate"] {
		t.Errorf("a threat: %+v, want flagged for violence only", r)
	}
	got.Results = nil
	decode(t, post(t, c, s.URL()+"/v1/moderations", `{"input":[{"type":"text","text":"hello"},{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}`), 200, &got)
	if len(got.Results) != 1 || len(got.Results[0].Applied["violence"]) != 2 || len(got.Results[0].Applied["hate"]) != 1 {
		t.Errorf("a text and an image: %+v, want one result, violence applied to both", got.Results)
	}
}

// TestServer_Images: images come as PNG in b64_json of the size asked, or
// as a URL on the server that serves the same image, with usage.
func TestServer_Images(t *testing.T) {
	s := MustStart(t, Config{})
	c := newClient(t)
	type imagesResp struct {
		Data []struct {
			B64JSON string `json:"b64_json"`
			URL     string `json:"url"`
		} `json:"data"`
		Usage struct {
			InputTokens  int `json:"input_tokens"`
			OutputTokens int `json:"output_tokens"`
		} `json:"usage"`
	}
	var got imagesResp
	decode(t, post(t, c, s.URL()+"/v1/images/generations", `{"prompt":"a lighthouse","n":2,"size":"64x32"}`), 200, &got)
	if len(got.Data) != 2 || got.Usage.InputTokens <= 0 || got.Usage.OutputTokens != 2*3 {
		t.Fatalf("images %+v", got)
	}
	raw, err := base64.StdEncoding.DecodeString(got.Data[0].B64JSON)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil || img.Bounds().Dx() != 64 || img.Bounds().Dy() != 32 {
		t.Fatalf("image: %v, %v; want a 64x32 PNG", err, img)
	}
	var byURL imagesResp
	decode(t, post(t, c, s.URL()+"/v1/images/generations", `{"prompt":"a lighthouse","size":"64x32","response_format":"url","output_format":"jpeg"}`), 200, &byURL)
	if len(byURL.Data) != 1 || !strings.HasPrefix(byURL.Data[0].URL, s.URL()+"/images/") {
		t.Fatalf("by URL: %+v", byURL)
	}
	resp, err := c.Get(byURL.Data[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	im, format, err := image.Decode(resp.Body)
	if err != nil || format != "jpeg" || resp.Header.Get("Content-Type") != "image/jpeg" || im.Bounds().Dx() != 64 {
		t.Errorf("GET %s: %v %q %q", byURL.Data[0].URL, err, format, resp.Header.Get("Content-Type"))
	}
	resp2 := post(t, c, s.URL()+"/v1/images/generations", `{"prompt":"p","size":"big"}`)
	resp2.Body.Close()
	if resp2.StatusCode != 400 {
		t.Errorf("size big: %d, want 400", resp2.StatusCode)
	}
}

// TestServer_Speech: speech is audio of the input's length with its
// Content-Type and Content-Length (a WAV file of 16-bit samples at 24 kHz,
// MP3 frames by default), sent in one part per word; with stream_format
// sse it is delta events and a done event with usage. The fault knobs
// hold: X-Fake-Status fails it.
func TestServer_Speech(t *testing.T) {
	s := MustStart(t, Config{})
	c := newClient(t)
	resp := post(t, c, s.URL()+"/v1/audio/speech", `{"model":"tts","input":"one two three four five","voice":"alloy","response_format":"wav"}`)
	wav, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/wav" || resp.ContentLength != int64(len(wav)) {
		t.Fatalf("wav: %v %d %q, Content-Length %d for %d bytes", err, resp.StatusCode, resp.Header.Get("Content-Type"), resp.ContentLength, len(wav))
	}
	// Five words at 2.5 a second: two seconds of 24 kHz 16-bit mono.
	if string(wav[:4]) != "RIFF" || string(wav[8:12]) != "WAVE" || binary.LittleEndian.Uint32(wav[40:44]) != 2*24000*2 || len(wav) != 44+2*24000*2 {
		t.Errorf("wav of %d bytes, header %q", len(wav), wav[:44])
	}
	resp = post(t, c, s.URL()+"/v1/audio/speech", `{"input":"hello","voice":"alloy"}`)
	mp3, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Content-Type") != "audio/mpeg" || len(mp3) == 0 || len(mp3)%mp3FrameBytes != 0 || !bytes.HasPrefix(mp3, []byte{0xff, 0xf3}) {
		t.Errorf("mp3: %q, %d bytes", resp.Header.Get("Content-Type"), len(mp3))
	}
	resp = post(t, c, s.URL()+"/v1/audio/speech", `{"input":"one two three","voice":"alloy","response_format":"pcm","stream_format":"sse"}`)
	events, err := readEvents(resp.Body, nil)
	resp.Body.Close()
	if err != nil || resp.Header.Get("Content-Type") != "text/event-stream" || len(events) != 4 {
		t.Fatalf("sse: %v %q, %d events", err, resp.Header.Get("Content-Type"), len(events))
	}
	if !strings.Contains(events[0].data, `"speech.audio.delta"`) || !strings.Contains(events[3].data, `"speech.audio.done"`) || !strings.Contains(events[3].data, `"output_tokens":3`) {
		t.Errorf("events %v", events)
	}
	resp = post(t, c, s.URL()+"/v1/audio/speech", `{"input":"hi","voice":"alloy"}`, HeaderStatus, "503")
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("X-Fake-Status 503: %d", resp.StatusCode)
	}
	resp = post(t, c, s.URL()+"/v1/audio/speech", `{"input":"hi","voice":"alloy","response_format":"opus"}`)
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(msg), "mp3") {
		t.Errorf("opus: %d %s, want a 400 naming the formats made", resp.StatusCode, msg)
	}
}
