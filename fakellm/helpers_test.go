package fakellm

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// MustStart starts a fakellm server on a loopback port and closes it when
// the test ends.
func MustStart(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	s := New(cfg)
	if err := s.Start("127.0.0.1:0"); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// newClient returns a client with its own connection pool, so one test's
// killed connections do not leak into another.
func newClient(tb testing.TB) *http.Client {
	tr := &http.Transport{}
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// post sends a JSON body; hdr alternates header names and values.
func post(tb testing.TB, c *http.Client, url, body string, hdr ...string) *http.Response {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	return resp
}

// decode reads a JSON response body into v and checks its status.
func decode(tb testing.TB, resp *http.Response, status int, v any) {
	tb.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != status {
		tb.Fatalf("status %d, want %d; body %s", resp.StatusCode, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		tb.Fatalf("decode %s: %v", body, err)
	}
}

// event is one server-sent event and when it arrived.
type event struct {
	data string
	at   time.Time
}

// readEvents reads SSE events until the body ends, returning them and the
// error that ended the body (nil for a clean end). onEvent, if set, runs
// after each event.
func readEvents(body io.Reader, onEvent func(n int)) ([]event, error) {
	br := bufio.NewReader(body)
	var evs []event
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if err == io.EOF && line == "" {
				return evs, nil
			}
			return evs, err
		}
		line = strings.TrimRight(line, "\n")
		if line == "" {
			continue
		}
		evs = append(evs, event{data: strings.TrimPrefix(line, "data: "), at: time.Now()})
		if onEvent != nil {
			onEvent(len(evs))
		}
	}
}

// chatResponse is the part of a chat or text completion the tests check.
type chatResponse struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
		Delta struct {
			Role    string  `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		Text         string  `json:"text"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	} `json:"usage"`
}

type errorResponse struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Code    *string `json:"code"`
	} `json:"error"`
}

const chatBody = `{"model":"my-model","messages":[{"role":"user","content":"hello world, this is a prompt"}]}`

func mustUnmarshal(tb testing.TB, data []byte, v any) {
	tb.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		tb.Fatalf("decode %s: %v", data, err)
	}
}
