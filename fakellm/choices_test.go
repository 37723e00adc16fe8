package fakellm

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
)

// TestServer_Choices: "n" gives n choices, indexed 0 to n-1, whole and
// streamed, for chat and completions, and the usage counts the completion
// tokens of every choice, as the OpenAI API does; openai-go's accumulator
// puts each streamed choice together. It answered one choice whatever n.
func TestServer_Choices(t *testing.T) {
	s := MustStart(t, Config{Default: Behavior{OutputTokens: TokenCount{Mean: 6}}})
	c := openai.NewClient(option.WithBaseURL(s.URL()+"/v1/"), option.WithAPIKey("x"), option.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello there")}

	t.Run("Chat", func(t *testing.T) {
		one, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "m", Messages: msgs})
		if err != nil {
			t.Fatal(err)
		}
		three, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "m", Messages: msgs, N: openai.Int(3)})
		if err != nil {
			t.Fatal(err)
		}
		if len(three.Choices) != 3 {
			t.Fatalf("%d choices, want 3", len(three.Choices))
		}
		for i, ch := range three.Choices {
			if ch.Index != int64(i) || ch.Message.Content == "" || ch.FinishReason == "" {
				t.Errorf("choice %d: %+v", i, ch)
			}
		}
		if three.Usage.CompletionTokens != 3*one.Usage.CompletionTokens || three.Usage.PromptTokens != one.Usage.PromptTokens {
			t.Errorf("usage %+v with n=3, %+v with n=1: want three times the completion tokens, the same prompt", three.Usage, one.Usage)
		}
	})
	t.Run("ChatStream", func(t *testing.T) {
		st := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "m", Messages: msgs, N: openai.Int(2),
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}})
		var acc openai.ChatCompletionAccumulator
		for st.Next() {
			acc.AddChunk(st.Current())
		}
		if err := st.Err(); err != nil {
			t.Fatal(err)
		}
		if len(acc.Choices) != 2 || acc.Choices[0].Message.Content == "" || acc.Choices[0].Message.Content != acc.Choices[1].Message.Content ||
			acc.Choices[1].FinishReason == "" {
			t.Errorf("accumulated %+v, want two whole choices", acc.Choices)
		}
		if acc.Usage.CompletionTokens == 0 || acc.Usage.CompletionTokens%2 != 0 {
			t.Errorf("usage %+v, want the completion tokens of both choices", acc.Usage)
		}
	})
	t.Run("Completions", func(t *testing.T) {
		res, err := c.Completions.New(ctx, openai.CompletionNewParams{Model: "m", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("once")}, N: openai.Int(4)})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Choices) != 4 || res.Choices[3].Index != 3 || res.Choices[3].Text == "" {
			t.Errorf("%d choices: %+v", len(res.Choices), res.Choices)
		}
	})
	t.Run("CompletionsStream", func(t *testing.T) {
		st := c.Completions.NewStreaming(ctx, openai.CompletionNewParams{Model: "m", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("once")}, N: openai.Int(2)})
		texts := map[int64]string{}
		for st.Next() {
			for _, ch := range st.Current().Choices {
				texts[ch.Index] += ch.Text
			}
		}
		if err := st.Err(); err != nil {
			t.Fatal(err)
		}
		if len(texts) != 2 || texts[0] == "" || texts[0] != texts[1] {
			t.Errorf("streamed texts by index %v, want two whole ones", texts)
		}
	})
	t.Run("Null", func(t *testing.T) {
		// "n": null is the default, one choice, as the API takes it
		// (clients that send every optional field send it so).
		resp := post(t, newClient(t), s.URL()+"/v1/chat/completions", `{"model":"m","n":null,"messages":[{"role":"user","content":"hi"}]}`)
		var res struct{ Choices []struct{} }
		err := json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
		if resp.StatusCode != 200 || err != nil || len(res.Choices) != 1 {
			t.Errorf("n=null: status %d, %d choices (%v), want 200 with one", resp.StatusCode, len(res.Choices), err)
		}
	})
	t.Run("OutOfRange", func(t *testing.T) {
		for _, n := range []string{"0", "129", "-1"} {
			resp := post(t, newClient(t), s.URL()+"/v1/chat/completions", `{"model":"m","n":`+n+`,"messages":[{"role":"user","content":"hi"}]}`)
			resp.Body.Close()
			if resp.StatusCode != 400 {
				t.Errorf("n=%s: status %d, want 400", n, resp.StatusCode)
			}
		}
	})
}

// TestServer_ImageStreams: "stream": true on an image generation or edit
// answers with the API's events, which openai-go reads: partial_images
// partial images, then the completed image with the usage, per image. An
// edit takes the SDK's multipart form, its image counted as input. It
// answered a stream whole, and an edit with a 404.
func TestServer_ImageStreams(t *testing.T) {
	s := MustStart(t, Config{Default: Behavior{Latency: Distribution{MedianMS: 20}}})
	c := openai.NewClient(option.WithBaseURL(s.URL()+"/v1/"), option.WithAPIKey("x"), option.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var pic bytes.Buffer
	img, _ := encodeImage(imageColor("x", 0), 16, 16, "png")
	pic.Write(img)

	t.Run("Generation", func(t *testing.T) {
		st := c.Images.GenerateStreaming(ctx, openai.ImageGenerateParams{Prompt: "a lighthouse", Model: "m", Size: "256x256", PartialImages: openai.Int(2)})
		var types []string
		var last openai.ImageGenStreamEventUnion
		for st.Next() {
			last = st.Current()
			types = append(types, last.Type)
		}
		if err := st.Err(); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(types, ","); got != "image_generation.partial_image,image_generation.partial_image,image_generation.completed" {
			t.Errorf("events %s", got)
		}
		b, _ := base64.StdEncoding.DecodeString(last.B64JSON)
		if im, err := png.Decode(bytes.NewReader(b)); err != nil || im.Bounds().Dx() != 256 || last.Usage.OutputTokens == 0 {
			t.Errorf("completed image: %v, usage %+v", err, last.Usage)
		}
	})
	t.Run("Edit", func(t *testing.T) {
		res, err := c.Images.Edit(ctx, openai.ImageEditParams{
			Image:  openai.ImageEditParamsImageUnion{OfFile: openai.File(bytes.NewReader(pic.Bytes()), "in.png", "image/png")},
			Prompt: "a red hat", Model: "m", N: openai.Int(2), Size: "256x256",
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Data) != 2 || res.Data[0].B64JSON == "" || res.Usage.InputTokensDetails.ImageTokens == 0 {
			t.Errorf("edit answer: %d images, usage %+v", len(res.Data), res.Usage)
		}
	})
	t.Run("EditStream", func(t *testing.T) {
		st := c.Images.EditStreaming(ctx, openai.ImageEditParams{
			Image:  openai.ImageEditParamsImageUnion{OfFile: openai.File(bytes.NewReader(pic.Bytes()), "in.png", "image/png")},
			Prompt: "a red hat", Model: "m", N: openai.Int(2), PartialImages: openai.Int(1), Size: "64x64",
		})
		var types []string
		for st.Next() {
			types = append(types, st.Current().Type)
		}
		if err := st.Err(); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(types, ","); got != "image_edit.partial_image,image_edit.completed,image_edit.partial_image,image_edit.completed" {
			t.Errorf("events %s", got)
		}
	})
	t.Run("EditWithoutImage", func(t *testing.T) {
		resp := post(t, newClient(t), s.URL()+"/v1/images/edits", `{"model":"m","prompt":"p"}`)
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("status %d, want 400", resp.StatusCode)
		}
	})
}
