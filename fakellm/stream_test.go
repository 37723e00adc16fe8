package fakellm

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

const streamBody = `{"model":"my-model","stream":true,"messages":[{"role":"user","content":"12345678"}]}`
const streamUsageBody = `{"model":"my-model","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"12345678"}]}`

func TestServer_Stream(t *testing.T) {
	s := MustStart(t, Config{Default: Behavior{
		TTFT:            Distribution{MedianMS: 60},
		TokensPerSecond: 25, // 40ms apart
		OutputTokens:    TokenCount{Mean: 6},
	}})
	c := newClient(t)
	url := s.URL() + "/v1/chat/completions"

	t.Run("ChunkOrderAndPacing", func(t *testing.T) {
		start := time.Now()
		resp := post(t, c, url, streamBody)
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		evs, err := readEvents(resp.Body, nil)
		if err != nil {
			t.Fatal(err)
		}
		// 6 token chunks, the finish chunk, [DONE]; no usage chunk.
		if len(evs) != 8 {
			t.Fatalf("got %d events: %v", len(evs), evs)
		}
		if evs[len(evs)-1].data != "[DONE]" {
			t.Fatalf("last event %q", evs[len(evs)-1].data)
		}
		var content strings.Builder
		for i, ev := range evs[:6] {
			var ch chatResponse
			mustUnmarshal(t, []byte(ev.data), &ch)
			if ch.Object != "chat.completion.chunk" || ch.Model != "my-model" || !strings.HasPrefix(ch.ID, "chatcmpl-") || ch.Usage != nil {
				t.Fatalf("chunk %d: %s", i, ev.data)
			}
			d := ch.Choices[0]
			if (i == 0) != (d.Delta.Role == "assistant") || d.FinishReason != nil || d.Delta.Content == nil {
				t.Fatalf("chunk %d: %s", i, ev.data)
			}
			content.WriteString(*d.Delta.Content)
		}
		if content.String() != GeneratedText(6) {
			t.Errorf("content %q", content.String())
		}
		var fin chatResponse
		mustUnmarshal(t, []byte(evs[6].data), &fin)
		if fr := fin.Choices[0].FinishReason; fr == nil || *fr != "stop" || fin.Usage != nil {
			t.Errorf("finish chunk %s", evs[6].data)
		}
		// Chunk i is due at TTFT + i×40ms and cannot arrive earlier; it is
		// flushed when written, so the first arrives well before the last
		// (a stalled client could bunch them, hence the loose bound).
		for i := 0; i < 6; i++ {
			due := 60*time.Millisecond + time.Duration(i)*40*time.Millisecond
			if at := evs[i].at.Sub(start); at < due {
				t.Errorf("chunk %d arrived after %v, before it was due at %v", i, at, due)
			}
		}
		if span := evs[5].at.Sub(evs[0].at); span < 100*time.Millisecond {
			t.Errorf("token chunks spread over %v, want about 200ms: not flushed?", span)
		}
	})
	t.Run("IncludeUsage", func(t *testing.T) {
		resp := post(t, c, url, streamUsageBody, HeaderTokens, "3", HeaderLatency, "0")
		defer resp.Body.Close()
		evs, err := readEvents(resp.Body, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 6 || evs[5].data != "[DONE]" {
			t.Fatalf("events %v", evs)
		}
		var u chatResponse
		mustUnmarshal(t, []byte(evs[4].data), &u)
		if len(u.Choices) != 0 || u.Usage == nil || u.Usage.PromptTokens != 2 || u.Usage.CompletionTokens != 3 || u.Usage.TotalTokens != 5 {
			t.Errorf("usage chunk %s", evs[4].data)
		}
	})
	t.Run("ZeroTokens", func(t *testing.T) {
		resp := post(t, c, url, streamBody, HeaderTokens, "0", HeaderLatency, "0")
		defer resp.Body.Close()
		evs, _ := readEvents(resp.Body, nil)
		if len(evs) != 3 || !strings.Contains(evs[0].data, `"role":"assistant","content":""`) {
			t.Errorf("events %v", evs)
		}
	})
	t.Run("Text", func(t *testing.T) {
		resp := post(t, c, s.URL()+"/v1/completions", `{"model":"m","prompt":"hi","stream":true,"stream_options":{"include_usage":true}}`, HeaderLatency, "0")
		defer resp.Body.Close()
		evs, err := readEvents(resp.Body, nil)
		if err != nil || len(evs) != 9 {
			t.Fatalf("%d events, err %v", len(evs), err)
		}
		var text strings.Builder
		for _, ev := range evs[:6] {
			var ch chatResponse
			mustUnmarshal(t, []byte(ev.data), &ch)
			if ch.Object != "text_completion" || !strings.HasPrefix(ch.ID, "cmpl-") {
				t.Fatalf("chunk %s", ev.data)
			}
			text.WriteString(ch.Choices[0].Text)
		}
		if text.String() != GeneratedText(6) || !strings.Contains(evs[6].data, `"finish_reason":"stop"`) || !strings.Contains(evs[7].data, `"usage":{"prompt_tokens":1,`) {
			t.Errorf("text %q, tail %v", text.String(), evs[6:])
		}
	})
	t.Run("MaxTokens", func(t *testing.T) {
		resp := post(t, c, url, `{"stream":true,"max_tokens":2,"messages":[]}`, HeaderLatency, "0")
		defer resp.Body.Close()
		evs, _ := readEvents(resp.Body, nil)
		if len(evs) != 4 || !strings.Contains(evs[2].data, `"finish_reason":"length"`) {
			t.Errorf("events %v", evs)
		}
	})
	t.Run("Error", func(t *testing.T) {
		var got errorResponse
		decode(t, post(t, c, url, streamBody, HeaderStatus, "503"), 503, &got)
		if got.Error.Type != "server_error" {
			t.Errorf("got %+v", got)
		}
	})
}

func TestServer_Kill(t *testing.T) {
	s := MustStart(t, Config{Default: Behavior{TokensPerSecond: 20, OutputTokens: TokenCount{Mean: 100}}})
	c := newClient(t)
	addr := s.Addr()

	t.Run("MidStream", func(t *testing.T) {
		resp := post(t, c, s.URL()+"/v1/chat/completions", streamBody)
		defer resp.Body.Close()
		evs, err := readEvents(resp.Body, func(n int) {
			if n == 2 {
				s.Kill()
			}
		})
		if err == nil || errors.Is(err, io.EOF) {
			t.Fatalf("stream ended cleanly (err %v) after %d events", err, len(evs))
		}
		if len(evs) >= 100 || evs[len(evs)-1].data == "[DONE]" {
			t.Fatalf("stream completed: %d events", len(evs))
		}
		if _, err := c.Get("http://" + addr + "/health"); err == nil {
			t.Fatal("killed server still answers")
		}
	})
	t.Run("Restart", func(t *testing.T) {
		if err := s.Start(addr); err != nil {
			t.Fatal(err)
		}
		if s.URL() != "http://"+addr {
			t.Errorf("URL %q", s.URL())
		}
		resp := post(t, c, s.URL()+"/v1/chat/completions", streamBody, HeaderTokens, "2", HeaderLatency, "0")
		defer resp.Body.Close()
		evs, err := readEvents(resp.Body, nil)
		if err != nil || evs[len(evs)-1].data != "[DONE]" {
			t.Fatalf("after restart: %v, %v", evs, err)
		}
	})
	t.Run("ErrAlreadyStarted", func(t *testing.T) {
		if err := s.Start("127.0.0.1:0"); err == nil {
			t.Fatal("second Start succeeded")
		}
	})
}

func TestServer_CloseMidStream(t *testing.T) {
	s := New(Config{Default: Behavior{TokensPerSecond: 20, OutputTokens: TokenCount{Mean: 100}}})
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	resp := post(t, newClient(t), s.URL()+"/v1/chat/completions", streamBody)
	defer resp.Body.Close()
	evs, err := readEvents(resp.Body, func(n int) {
		if n == 1 {
			s.Close()
		}
	})
	if err == nil || len(evs) >= 100 {
		t.Fatalf("stream not cut by Close: %d events, err %v", len(evs), err)
	}
	s.Close() // idempotent
}
