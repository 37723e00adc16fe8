package fakellm

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestServer_ChatCompletions(t *testing.T) {
	s := MustStart(t, Config{
		Default:    Behavior{OutputTokens: TokenCount{Mean: 5}, Quality: 0.8},
		Categories: map[string]Behavior{"code": {ErrorRate: 1}, "risky": {RefusalRate: 1}},
	})
	c := newClient(t)
	url := s.URL() + "/v1/chat/completions"

	t.Run("OK", func(t *testing.T) {
		resp := post(t, c, url, chatBody)
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		if q := resp.Header.Get(HeaderQuality); q != "0.8" {
			t.Errorf("%s = %q", HeaderQuality, q)
		}
		var got chatResponse
		decode(t, resp, 200, &got)
		if !strings.HasPrefix(got.ID, "chatcmpl-") || got.Object != "chat.completion" || got.Model != "my-model" || got.Created == 0 {
			t.Errorf("envelope %+v", got)
		}
		if len(got.Choices) != 1 {
			t.Fatalf("choices %+v", got.Choices)
		}
		ch := got.Choices[0]
		if ch.Message.Role != "assistant" || ch.Message.Content != GeneratedText(5) || ch.FinishReason == nil || *ch.FinishReason != "stop" {
			t.Errorf("choice %+v", ch)
		}
		// 29 bytes of prompt → 8 tokens.
		if u := got.Usage; u == nil || u.PromptTokens != 8 || u.CompletionTokens != 5 || u.TotalTokens != 13 {
			t.Errorf("usage %+v", got.Usage)
		}
	})
	t.Run("DefaultModel", func(t *testing.T) {
		var got chatResponse
		decode(t, post(t, c, url, `{"messages":[]}`), 200, &got)
		if got.Model != DefaultModel {
			t.Errorf("model %q", got.Model)
		}
	})
	t.Run("EscapedModel", func(t *testing.T) {
		var got chatResponse
		decode(t, post(t, c, url, `{"model":"a\"b\u00e9","messages":[]}`), 200, &got)
		if got.Model != `a"bé` {
			t.Errorf("model %q", got.Model)
		}
	})
	t.Run("MaxTokens", func(t *testing.T) {
		var got chatResponse
		decode(t, post(t, c, url, `{"model":"m","max_tokens":2,"messages":[]}`), 200, &got)
		if ch := got.Choices[0]; *ch.FinishReason != "length" || ch.Message.Content != GeneratedText(2) || got.Usage.CompletionTokens != 2 {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("ErrorRate", func(t *testing.T) {
		var got errorResponse
		decode(t, post(t, c, url, chatBody, "X-Request-Category", "code"), 500, &got)
		if got.Error.Type != "server_error" || got.Error.Message == "" || got.Error.Code != nil {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("Refusal", func(t *testing.T) {
		var got chatResponse
		decode(t, post(t, c, url, chatBody, "X-Request-Category", "risky"), 200, &got)
		if got.Choices[0].Message.Content != DefaultRefusal || got.Usage.CompletionTokens != 6 {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("UnknownCategory", func(t *testing.T) {
		var got chatResponse
		decode(t, post(t, c, url, chatBody, "X-Request-Category", "poetry"), 200, &got)
		if got.Usage.CompletionTokens != 5 {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("ForcedTokens", func(t *testing.T) {
		var got chatResponse
		decode(t, post(t, c, url, chatBody, HeaderTokens, "17"), 200, &got)
		if got.Usage.CompletionTokens != 17 || CountTokens(got.Choices[0].Message.Content) != 17 {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("ForcedStatus", func(t *testing.T) {
		var got errorResponse
		decode(t, post(t, c, url, chatBody, HeaderStatus, "429"), 429, &got)
		if got.Error.Type != "rate_limit_error" {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("ForcedLatency", func(t *testing.T) {
		start := time.Now()
		var got chatResponse
		decode(t, post(t, c, url, chatBody, HeaderLatency, "60"), 200, &got)
		if el := time.Since(start); el < 60*time.Millisecond {
			t.Errorf("answered after %v, want ≥ 60ms", el)
		}
	})
	t.Run("ErrBadJSON", func(t *testing.T) {
		var got errorResponse
		decode(t, post(t, c, url, `{"model":`), 400, &got)
		if got.Error.Type != "invalid_request_error" {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("ErrMethod", func(t *testing.T) {
		resp, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		var got errorResponse
		decode(t, resp, 405, &got)
	})
	t.Run("ErrUnknownPath", func(t *testing.T) {
		var got errorResponse
		decode(t, post(t, c, s.URL()+"/v1/nope", chatBody), 404, &got)
	})
}

func TestServer_StrictModel(t *testing.T) {
	s := MustStart(t, Config{Model: "llama", StrictModel: true})
	c := newClient(t)
	var ok chatResponse
	decode(t, post(t, c, s.URL()+"/v1/chat/completions", `{"model":"llama","messages":[]}`), 200, &ok)
	var bad errorResponse
	decode(t, post(t, c, s.URL()+"/v1/chat/completions", `{"model":"gpt","messages":[]}`), 404, &bad)
	if bad.Error.Code == nil || *bad.Error.Code != "model_not_found" {
		t.Errorf("got %+v", bad)
	}
}

func TestServer_Latency(t *testing.T) {
	s := MustStart(t, Config{Default: Behavior{Latency: Distribution{MedianMS: 80}}})
	c := newClient(t)
	start := time.Now()
	var got chatResponse
	decode(t, post(t, c, s.URL()+"/v1/chat/completions", chatBody), 200, &got)
	if el := time.Since(start); el < 80*time.Millisecond || el > 2*time.Second {
		t.Errorf("answered after %v, want about 80ms", el)
	}
}

func TestServer_Completions(t *testing.T) {
	s := MustStart(t, Config{Default: Behavior{OutputTokens: TokenCount{Mean: 4}}})
	var got chatResponse
	decode(t, post(t, newClient(t), s.URL()+"/v1/completions", `{"model":"m","prompt":"12345678"}`), 200, &got)
	if !strings.HasPrefix(got.ID, "cmpl-") || got.Object != "text_completion" || got.Choices[0].Text != GeneratedText(4) {
		t.Errorf("got %+v", got)
	}
	if u := got.Usage; u.PromptTokens != 2 || u.CompletionTokens != 4 || u.TotalTokens != 6 {
		t.Errorf("usage %+v", u)
	}
}

type embeddingResponse struct {
	Object string `json:"object"`
	Model  string `json:"model"`
	Data   []struct {
		Object    string          `json:"object"`
		Index     int             `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	} `json:"data"`
	Usage struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

func (e *embeddingResponse) vector(t *testing.T, i int) []float32 {
	t.Helper()
	var v []float32
	raw := e.Data[i].Embedding
	if raw[0] == '"' {
		var s string
		mustUnmarshal(t, raw, &s)
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j+4 <= len(b); j += 4 {
			v = append(v, math.Float32frombits(binary.LittleEndian.Uint32(b[j:])))
		}
		return v
	}
	mustUnmarshal(t, raw, &v)
	return v
}

func TestServer_Embeddings(t *testing.T) {
	s := MustStart(t, Config{Model: "embedder"})
	c := newClient(t)
	url := s.URL() + "/v1/embeddings"
	embed := func(t *testing.T, body string) *embeddingResponse {
		var got embeddingResponse
		decode(t, post(t, c, url, body), 200, &got)
		return &got
	}

	t.Run("OK", func(t *testing.T) {
		got := embed(t, `{"input":"the quick brown fox"}`)
		if got.Object != "list" || got.Model != "embedder" || len(got.Data) != 1 || got.Data[0].Object != "embedding" {
			t.Fatalf("got %+v", got)
		}
		v := got.vector(t, 0)
		if len(v) != DefaultEmbeddingDims {
			t.Fatalf("len %d", len(v))
		}
		norm := 0.0
		for _, x := range v {
			norm += float64(x) * float64(x)
		}
		if math.Abs(norm-1) > 1e-4 {
			t.Errorf("norm² %v", norm)
		}
		if got.Usage.PromptTokens != 5 || got.Usage.TotalTokens != 5 {
			t.Errorf("usage %+v", got.Usage)
		}
		again := embed(t, `{"input":"the quick brown fox","model":"x"}`).vector(t, 0)
		other := embed(t, `{"input":"the slow brown fox"}`).vector(t, 0)
		if !slicesEqual(v, again) || slicesEqual(v, other) {
			t.Error("embeddings are not a deterministic function of the input")
		}
	})
	t.Run("Batch", func(t *testing.T) {
		got := embed(t, `{"input":["a","b",[1,2,3]],"dimensions":8}`)
		if len(got.Data) != 3 || got.Data[2].Index != 2 || len(got.vector(t, 1)) != 8 {
			t.Fatalf("got %+v", got)
		}
		if got.Usage.PromptTokens != 1+1+3 {
			t.Errorf("usage %+v", got.Usage)
		}
	})
	t.Run("TokenIDs", func(t *testing.T) {
		if got := embed(t, `{"input":[5,6,7,8]}`); len(got.Data) != 1 || got.Usage.PromptTokens != 4 {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("Base64", func(t *testing.T) {
		f := embed(t, `{"input":"x","dimensions":8}`).vector(t, 0)
		b := embed(t, `{"input":"x","dimensions":8,"encoding_format":"base64"}`).vector(t, 0)
		if !slicesEqual(f, b) {
			t.Errorf("float %v, base64 %v", f, b)
		}
	})
	t.Run("ErrNoInput", func(t *testing.T) {
		var got errorResponse
		decode(t, post(t, c, url, `{"input":[]}`), 400, &got)
	})
}

func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestServer_Models(t *testing.T) {
	s := MustStart(t, Config{Model: "llama-3"})
	resp, err := newClient(t).Get(s.URL() + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Object string `json:"object"`
		Data   []struct {
			ID     string `json:"id"`
			Object string `json:"object"`
		} `json:"data"`
	}
	decode(t, resp, 200, &got)
	if got.Object != "list" || len(got.Data) != 1 || got.Data[0].ID != "llama-3" || got.Data[0].Object != "model" {
		t.Errorf("got %+v", got)
	}
}

func TestServer_SetHealthy(t *testing.T) {
	s := MustStart(t, Config{})
	c := newClient(t)
	check := func(t *testing.T, status int, body string) {
		t.Helper()
		resp, err := c.Get(s.URL() + "/health")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != status || string(b) != body {
			t.Errorf("got %d %q, want %d %q", resp.StatusCode, b, status, body)
		}
	}
	check(t, 200, "ok")
	s.SetHealthy(false)
	check(t, 503, "unhealthy")
	s.SetHang(true) // health checks answer even when model requests hang
	check(t, 503, "unhealthy")
	s.SetHang(false)
	s.SetHealthy(true)
	check(t, 200, "ok")
}

func TestServer_SetHang(t *testing.T) {
	s := MustStart(t, Config{})
	c := newClient(t)
	url := s.URL() + "/v1/chat/completions"
	s.SetHang(true)

	t.Run("ClientGivesUp", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(chatBody))
		start := time.Now()
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatal("request answered while hanging")
		}
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < 150*time.Millisecond {
			t.Errorf("got %v after %v", err, time.Since(start))
		}
	})
	t.Run("Released", func(t *testing.T) {
		done := make(chan int)
		go func() {
			resp, err := c.Post(url, "application/json", strings.NewReader(chatBody))
			if err != nil {
				done <- -1
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
		select {
		case <-done:
			t.Fatal("request answered while hanging")
		case <-time.After(100 * time.Millisecond):
		}
		s.SetHang(false)
		if code := <-done; code != 200 {
			t.Errorf("status %d after release", code)
		}
	})
	t.Run("Close", func(t *testing.T) {
		s.SetHang(true)
		done := make(chan error)
		go func() {
			resp, err := c.Post(url, "application/json", strings.NewReader(chatBody))
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		time.Sleep(50 * time.Millisecond)
		s.Close()
		select {
		case err := <-done:
			if err == nil {
				t.Error("hung request answered after Close")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("hung request not released by Close")
		}
	})
}

func TestServer_SetBehavior(t *testing.T) {
	s := MustStart(t, Config{})
	c := newClient(t)
	url := s.URL() + "/v1/chat/completions"
	status := func(cat string) int {
		resp := post(t, c, url, chatBody, "X-Request-Category", cat)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status("code"); got != 200 {
		t.Fatalf("before: %d", got)
	}
	s.SetBehavior("code", Behavior{ErrorRate: 1, ErrorStatus: 503})
	if got, other := status("code"), status("chat"); got != 503 || other != 200 {
		t.Fatalf("after category change: code %d, chat %d", got, other)
	}
	s.SetBehavior("", Behavior{ErrorRate: 1})
	if got := status("chat"); got != 500 {
		t.Fatalf("after default change: %d", got)
	}
	if got := s.Config().Categories["code"].ErrorStatus; got != 503 {
		t.Errorf("Config() lost the category: %d", got)
	}
}

func TestServer_Requests(t *testing.T) {
	s := New(Config{Categories: map[string]Behavior{"code": {}}})
	ts := httptest.NewServer(s.Handler()) // the handler works in any server
	defer ts.Close()
	defer s.Close()
	c := newClient(t)
	for _, cat := range []string{"code", "code", "", "ad-hoc"} {
		resp := post(t, c, ts.URL+"/v1/chat/completions", chatBody, "X-Request-Category", cat)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	resp, _ := c.Get(ts.URL + "/health") // not a model request
	resp.Body.Close()
	if got := s.Requests(); got != 4 {
		t.Errorf("Requests() = %d", got)
	}
	got := s.RequestsByCategory()
	if len(got) != 3 || got["code"] != 2 || got[""] != 1 || got["ad-hoc"] != 1 {
		t.Errorf("RequestsByCategory() = %v", got)
	}
}

func TestServer_Concurrent(t *testing.T) {
	s := MustStart(t, Config{Default: Behavior{ErrorRate: 0.3, RefusalRate: 0.3}})
	c := newClient(t)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 25; j++ {
				body := chatBody
				if j%2 == 0 {
					body = `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[]}`
				}
				resp, err := c.Post(s.URL()+"/v1/chat/completions", "application/json", strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	for i := 0; i < 20; i++ {
		s.SetBehavior("", Behavior{ErrorRate: float64(i%2) / 2})
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	if got := s.Requests(); got != 200 {
		t.Errorf("Requests() = %d", got)
	}
}
