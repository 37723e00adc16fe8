package proxy_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/proxy"
)

// reviewCut, as a part of reviewSSE, cuts the connection (TCP reset).
const reviewCut = "\x00CUT"

// reviewSSE starts a backend on loopback that answers every request with a
// stream head (Connection: close, no framing: the body ends when the
// connection does) and then the parts given, each in its own write. A
// reviewCut part resets the connection; a channel part waits until the
// test closes it or the proxy hangs up.
func reviewSSE(t *testing.T, parts ...any) string {
	t.Helper()
	return reviewBackend(t, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n", parts...)
}

// reviewBackend is reviewSSE with the answer's head given.
func reviewBackend(t *testing.T, head string, parts ...any) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func(c net.Conn) {
				defer wg.Done()
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				io.WriteString(c, head)
				for _, p := range parts {
					switch v := p.(type) {
					case string:
						if v == reviewCut {
							c.(*net.TCPConn).SetLinger(0)
							return
						}
						if _, err := io.WriteString(c, v); err != nil {
							return
						}
						time.Sleep(20 * time.Millisecond) // separate reads at the proxy
					case chan struct{}:
						hungUp := make(chan struct{})
						go func() {
							c.Read(make([]byte, 1)) // returns when the proxy closes
							close(hungUp)
						}()
						select {
						case <-v:
						case <-hungUp:
							return
						}
					}
				}
			}(c)
		}
	}()
	return "http://" + ln.Addr().String()
}

// reviewObs waits for the observation of the request and returns it.
func reviewObs(t *testing.T, rec *spyRecorder) sluice.Observation {
	t.Helper()
	waitFor(t, "the observation", func() bool { return len(rec.all()) > 0 })
	all := rec.all()
	return all[len(all)-1]
}

// reviewStream streams a chat completion through the OpenAI SDK from the
// gateway at url and returns the text it got and the stream's error.
func reviewStream(t *testing.T, url string) (string, error) {
	t.Helper()
	client := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:    "chat",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	defer s.Close()
	var text strings.Builder
	for s.Next() {
		for _, c := range s.Current().Choices {
			text.WriteString(c.Delta.Content)
		}
	}
	return text.String(), s.Err()
}

// What the user does: streams a chat completion with the OpenAI SDK
// (openai-go) while the backend dies in the middle of writing an event (its
// connection ends after part of a "data:" line), or after a "data:" line
// but before the blank line that ends its event.
// What happens now: the proxy passes the partial line on and appends its
// error event to it without ending the line or the event first, e.g.
// `data: {"id":"c","object":"chat.compdata: {"error":...}` + "\n\n", so
// the SDK reads one event whose data is not JSON and fails with a JSON
// syntax error ("invalid character 'e' after object key:value pair" /
// "invalid character '{' after top-level value"); the client never sees the
// gateway's "broke off the stream; retry the request" error, nor its code.
// What should happen: the error event is an event of its own (the open
// line and event are ended first), so the SDK reports "received error
// while streaming: ... broke off the stream ...".
func TestStreamBrokenMidEventErrorEventIsReadable(t *testing.T) {
	cases := map[string]string{
		"mid-line":  `data: {"id":"c","object":"chat.comp`,
		"mid-event": `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"b"},"finish_reason":null}]}` + "\n",
	}
	for name, partial := range cases {
		t.Run(name, func(t *testing.T) {
			be := reviewSSE(t, chunk("a"), partial) // then the backend closes
			rec := newSpyRecorder()
			_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be, ""), Recorder: rec})
			text, err := reviewStream(t, url)
			if err == nil || !strings.Contains(err.Error(), "broke off the stream") {
				t.Errorf("SDK stream ended with text %q and error %v; want the gateway's error event (\"broke off the stream\")", text, err)
			}
			if o := reviewObs(t, rec); o.ErrorClass != "stream_broken" {
				t.Errorf("observation error class %q, want stream_broken", o.ErrorClass)
			}
		})
	}
}

// What the user does: a client (an application team, or the public behind
// an API key) streams a completion and the backend's connection is reset
// mid-stream (a model server crash, an OOM kill).
// What happens now: the error event the client gets quotes the read error
// verbatim: "the backend for chat:v1 broke off the stream (read tcp
// 127.0.0.1:40906->127.0.0.1:38609: read: connection reset by peer)",
// revealing the gateway's and the model server's internal addresses and
// ports. The gateway strips socket addresses from every other error it
// sends a client (upstreamMessage, bodyErrText: "The socket addresses of a
// net.OpError are the backend's internal address: clients are not told
// it").
// What should happen: the error event names the version and what to do,
// without the backend's address.
func TestStreamBrokenErrorHidesBackendAddress(t *testing.T) {
	be := reviewSSE(t, chunk("a"), reviewCut)
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be, "")})
	resp, body := post(t, url, "/v1/chat/completions", streamBody)
	if resp.StatusCode != 200 || !strings.Contains(body, `"error"`) {
		t.Fatalf("status %d, body %q: want a stream ending in an error event", resp.StatusCode, body)
	}
	hostport := strings.TrimPrefix(be, "http://")
	_, port, _ := net.SplitHostPort(hostport)
	if strings.Contains(body, hostport) || strings.Contains(body, ":"+port) {
		t.Errorf("the client's error event reveals the backend's address %s: %s", hostport, strings.TrimSpace(body[strings.Index(body, `data: {"error"`):]))
	}
}

// What the user does: sets the request timeout (Options.RequestTimeout,
// timeouts.request) and streams from a backend that stalls after its first
// chunk (a wedged GPU worker).
// What happens now: at the timeout the gateway itself cuts the stream, but
// the observation says ErrorClass "stream_broken" (not "timeout") and the
// client's error event says "the backend for chat:v1 broke off the stream
// (read tcp 127.0.0.1:…->127.0.0.1:…: i/o timeout)" with code
// upstream_error. The same stall in a non-streamed answer is a "timeout"
// with code upstream_timeout (relayBody, TestTimeout_StalledBody), so the
// request log and the per-class error counts split one failure mode by
// whether the client streamed, and the client is told the backend broke
// off when it was the gateway's timeout.
// What should happen: the observation is a "timeout" and the error event
// carries code upstream_timeout and says the backend did not finish in
// time.
func TestStreamStalledAtRequestTimeoutIsTimeout(t *testing.T) {
	stall := make(chan struct{})
	defer close(stall)
	be := reviewSSE(t, chunk("a"), stall)
	rec := newSpyRecorder()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be, ""), Recorder: rec, RequestTimeout: 300 * time.Millisecond})
	start := time.Now()
	_, body := post(t, url, "/v1/chat/completions", streamBody)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the stream lasted %s with a 300 ms request timeout", d)
	}
	o := reviewObs(t, rec)
	if o.ErrorClass != "timeout" {
		t.Errorf("observation error class %q, want timeout (as for a stalled non-streamed answer)", o.ErrorClass)
	}
	if !strings.Contains(body, `"code":"upstream_timeout"`) {
		i := max(strings.Index(body, `data: {"error"`), 0)
		t.Errorf("the error event %q does not carry code upstream_timeout", strings.TrimSpace(body[i:]))
	}
}

// reviewScores is a QualityRecorder keeping the heuristic scores.
type reviewScores struct {
	mu     sync.Mutex
	scores []float64
}

func (q *reviewScores) RecordQualityRouted(source, route, model, version, category string, at time.Time, score float64) {
	if source != "heuristic" {
		return
	}
	q.mu.Lock()
	q.scores = append(q.scores, score)
	q.mu.Unlock()
}

func (q *reviewScores) all() []float64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]float64(nil), q.scores...)
}

// What the user does: streams from a backend that sends its answer in large
// events, an event line longer than 8 KiB (a whole code block or a long
// tool call in one delta, as servers that "fake stream" a finished answer
// or batch many tokens per event do), here 10,000 and 70,000 characters.
// What happens now: the client gets the bytes intact, but relayStream
// passes a line longer than its 8 KiB reader in parts and never reads it:
// the observation records ResponseChars 0 for a 10,000-character answer,
// the refusal check sees nothing, and the heuristic quality score is 0
// ("empty answer"), so a version whose backend streams in large events
// looks like it answers nothing in the canary analysis.
// What should happen: a long event is measured like a short one:
// ResponseChars counts its text and the answer scores 1.
func TestStreamLongEventIsMeasured(t *testing.T) {
	for _, n := range []int{10_000, 70_000} {
		t.Run(itoa(n), func(t *testing.T) {
			be := sseBackend(t, chunk(strings.Repeat("x", n)), finalChunk, usageChunk, doneEvent)
			rec := newSpyRecorder()
			q := &reviewScores{}
			_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, ""), Recorder: rec, Quality: q})
			resp, body := post(t, url, "/v1/chat/completions", streamBody)
			if resp.StatusCode != 200 || !strings.Contains(body, strings.Repeat("x", n)) || !strings.HasSuffix(body, doneEvent) {
				t.Fatalf("status %d, %d bytes: the long event did not pass intact", resp.StatusCode, len(body))
			}
			o := reviewObs(t, rec)
			if int(o.ResponseChars) != n {
				t.Errorf("observation ResponseChars %d, want %d (the text of the long event)", o.ResponseChars, n)
			}
			waitFor(t, "the heuristic score", func() bool { return len(q.all()) > 0 })
			if s := q.all()[0]; s != 1 {
				t.Errorf("heuristic quality score %v for a complete %d-character answer, want 1", s, n)
			}
		})
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// What the user does: streams with "n": 2 (two choices; vLLM and OpenAI
// send each chunk with one choice, its "index" saying which), where the
// first choice is cut at its length limit and the second stops.
// What happens now: the proxy reads choices[0] of every chunk as if it
// were the first choice, so the observation takes the finish reason of
// whichever choice finished last ("stop", choice 1) and adds both choices'
// text to ResponseChars (6). The same answer non-streamed is recorded from
// the first choice alone ("length", 4 characters), as Observation documents
// ("FinishReason is the first choice's finish_reason"), so a streamed
// truncation is scored 1 instead of 0.5 and the length comparison mixes
// one choice with two.
// What should happen: a stream's observation is read from the choice with
// index 0: FinishReason "length", ResponseChars 4, score 0.5.
func TestStreamWithTwoChoicesReadsTheFirst(t *testing.T) {
	ev := func(i, text, fin string) string {
		if fin != "null" {
			fin = `"` + fin + `"`
		}
		return `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":` + i + `,"delta":{"content":"` + text + `"},"finish_reason":` + fin + `}]}` + "\n\n"
	}
	be := sseBackend(t, ev("0", "aaaa", "null"), ev("1", "bb", "null"), ev("0", "", "length"), ev("1", "", "stop"), usageChunk, doneEvent)
	rec := newSpyRecorder()
	q := &reviewScores{}
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, ""), Recorder: rec, Quality: q})
	resp, body := post(t, url, "/v1/chat/completions", `{"model":"chat","stream":true,"n":2,"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 || !strings.HasSuffix(body, doneEvent) {
		t.Fatalf("status %d: %q", resp.StatusCode, body)
	}
	o := reviewObs(t, rec)
	if o.FinishReason != "length" || o.ResponseChars != 4 {
		t.Errorf("observation finish reason %q, %d chars; want the first choice's: \"length\", 4", o.FinishReason, o.ResponseChars)
	}
	waitFor(t, "the heuristic score", func() bool { return len(q.all()) > 0 })
	if s := q.all()[0]; s != 0.5 {
		t.Errorf("heuristic score %v, want 0.5 (the first choice hit its length limit)", s)
	}
}

// What the user does: streams from an in-house model server whose stream
// carries no Content-Type (FastAPI's StreamingResponse without media_type,
// a common wrapper around a model), sending one event now and the rest
// later.
// What happens now: relay passes a stream through event by event only
// when the backend labels it text/event-stream; otherwise relayBody reads
// the whole answer into memory (unbounded) before sending a byte, its
// headers included, so the client gets no token until generation has
// finished (and the observation's TTFT is the whole latency). nginx, and the OpenAI SDK talking to the backend
// directly, see the first event at once.
// What should happen: a successful answer to a request that asked for a
// stream is passed on as it arrives, whatever its Content-Type: the first
// event reaches the client while the backend is still generating.
func TestStreamWithoutEventStreamTypeIsNotHeld(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	defer free()
	be := reviewBackend(t, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", chunk("first"), release, finalChunk, doneEvent)
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be, "")})
	got := make(chan string, 1)
	go func() {
		// The answer's head itself is held with the body: the request
		// and the read run apart from the deadline below.
		resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(streamBody))
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		line, _ := bufio.NewReader(resp.Body).ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if !strings.Contains(line, `"first"`) {
			t.Errorf("first line %q, want the first chunk", line)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("the backend's first event (sent 5 s ago) has not reached the client: the proxy holds the stream until the backend finishes")
		free()
		<-got
	}
}
