package fakellm

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// The bodies of the fault tests: six tokens, so a fault "middle" comes
// after three of the answer's events.
const (
	faultChat       = `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	faultText       = `{"model":"m","stream":true,"prompt":"hi"}`
	faultResp       = `{"model":"m","stream":true,"input":"hi"}`
	faultToolChat   = `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"lookup","parameters":{}}}]}`
	faultWholeChat  = `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
	faultWholeText  = `{"model":"m","prompt":"hi"}`
	faultWholeResp  = `{"model":"m","input":"hi"}`
	wantStreamError = `data: {"error":{"message":"fakellm: simulated failure after the 200 (stream_error_rate)","type":"server_error","param":null,"code":500}}` + "\n\n" + "data: [DONE]\n\n"
)

// readAll reads a response's whole body, returning what came and the
// error that ended it (nil for a proper end).
func readAll(t *testing.T, resp *http.Response) (string, error) {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// sseData returns the data lines of a body's events, in order, and the
// names of its event lines.
func sseData(body string) (data, names []string) {
	for _, line := range strings.Split(body, "\n") {
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			data = append(data, d)
		} else if n, ok := strings.CutPrefix(line, "event: "); ok {
			names = append(names, n)
		}
	}
	return data, names
}

func faultServer(t *testing.T, b Behavior) (*Server, *http.Client) {
	t.Helper()
	b.OutputTokens = TokenCount{Mean: 6}
	return MustStart(t, Config{Default: b}), newClient(t)
}

// TestFault_StreamErrorFirst: with stream_error_rate 1, a chat or
// completions stream is a 200 whose first event is vLLM's error event,
// then [DONE]; a Responses stream sends response.created and
// response.in_progress, then response.failed carrying the error. A whole
// request is answered as if the rate were 0.
func TestFault_StreamErrorFirst(t *testing.T) {
	s, c := faultServer(t, Behavior{StreamErrorRate: 1})
	for path, body := range map[string]string{"/v1/chat/completions": faultChat, "/v1/completions": faultText} {
		resp := post(t, c, s.URL()+path, body)
		got, err := readAll(t, resp)
		if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("%s: status %d, %q, body %q, %v", path, resp.StatusCode, resp.Header.Get("Content-Type"), got, err)
		}
		if got != wantStreamError {
			t.Errorf("%s: body\n%q\nwant\n%q", path, got, wantStreamError)
		}
	}

	resp := post(t, c, s.URL()+"/v1/responses", faultResp)
	got, err := readAll(t, resp)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("responses: status %d, %v", resp.StatusCode, err)
	}
	data, names := sseData(got)
	if strings.Join(names, " ") != "response.created response.in_progress response.failed" || len(data) != 3 {
		t.Fatalf("responses: events %v, body %q", names, got)
	}
	var failed struct {
		Type     string `json:"type"`
		Response struct {
			Status string `json:"status"`
			Error  struct{ Code, Message string }
		} `json:"response"`
	}
	mustUnmarshal(t, []byte(data[2]), &failed)
	if failed.Type != "response.failed" || failed.Response.Status != "failed" || failed.Response.Error.Code != "server_error" ||
		!strings.Contains(failed.Response.Error.Message, "stream_error_rate") {
		t.Errorf("response.failed %s", data[2])
	}

	for path, body := range map[string]string{"/v1/chat/completions": faultWholeChat, "/v1/completions": faultWholeText, "/v1/responses": faultWholeResp} {
		var v map[string]any
		decode(t, post(t, c, s.URL()+path, body), 200, &v)
		if v["error"] != nil || v["status"] == "failed" {
			t.Errorf("%s whole: %v", path, v)
		}
	}
}

// TestFault_StreamErrorMiddle: at "middle" the error event comes after
// half the answer's events (three of six tokens; a tool call's one), with
// no finish chunk; a Responses stream gets an error event and ends.
func TestFault_StreamErrorMiddle(t *testing.T) {
	s, c := faultServer(t, Behavior{StreamErrorRate: 1, StreamErrorAt: "middle", ToolCallRate: 1})
	for path, body := range map[string]string{"/v1/chat/completions": faultChat, "/v1/completions": faultText} {
		got, err := readAll(t, post(t, c, s.URL()+path, body))
		if err != nil {
			t.Fatal(err)
		}
		data, _ := sseData(got)
		if len(data) != 5 || !strings.HasSuffix(got, wantStreamError) {
			t.Fatalf("%s: %d events, body %q", path, len(data), got)
		}
		text := ""
		for _, d := range data[:3] {
			var ch struct {
				Choices []struct {
					Text         string `json:"text"`
					Delta        struct{ Content string }
					FinishReason *string `json:"finish_reason"`
				}
			}
			mustUnmarshal(t, []byte(d), &ch)
			if ch.Choices[0].FinishReason != nil {
				t.Errorf("%s: a finish reason before the error: %s", path, d)
			}
			text += ch.Choices[0].Text + ch.Choices[0].Delta.Content
		}
		if want := GeneratedText(6); !strings.HasPrefix(want, text) || len(strings.Fields(text)) != 3 {
			t.Errorf("%s: the text before the error %q, want the first three words of %q", path, text, want)
		}
	}

	got, err := readAll(t, post(t, c, s.URL()+"/v1/chat/completions", faultToolChat))
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := sseData(got); len(data) != 3 || !strings.Contains(data[0], `"tool_calls"`) || !strings.HasSuffix(got, wantStreamError) {
		t.Errorf("tool call: body %q, want the call's event, the error event, [DONE]", got)
	}

	got, err = readAll(t, post(t, c, s.URL()+"/v1/responses", faultResp))
	if err != nil {
		t.Fatal(err)
	}
	data, names := sseData(got)
	want := "response.created response.in_progress response.output_item.added response.content_part.added " +
		"response.output_text.delta response.output_text.delta response.output_text.delta error"
	if strings.Join(names, " ") != want {
		t.Fatalf("responses: events %v, want %s", names, want)
	}
	var ev struct {
		Type    string `json:"type"`
		Code    string `json:"code"`
		Message string `json:"message"`
		Seq     *int   `json:"sequence_number"`
	}
	mustUnmarshal(t, []byte(data[len(data)-1]), &ev)
	if ev.Type != "error" || ev.Code != "server_error" || !strings.Contains(ev.Message, "stream_error_rate") || ev.Seq == nil || *ev.Seq != 7 {
		t.Errorf("error event %s", data[len(data)-1])
	}
}

// TestFault_StreamCut: with stream_cut_rate 1 the server sends the 200 and
// closes the connection, before the answer's first event or after half
// of them: the client reads an unexpected end, never [DONE] nor
// response.completed.
func TestFault_StreamCut(t *testing.T) {
	for _, tc := range []struct {
		at         string
		path, body string
		events     int // data lines before the cut
	}{
		{"", "/v1/chat/completions", faultChat, 0},
		{"first", "/v1/completions", faultText, 0},
		{"first", "/v1/responses", faultResp, 2}, // response.created, in_progress
		{"middle", "/v1/chat/completions", faultChat, 3},
		{"middle", "/v1/completions", faultText, 3},
		{"middle", "/v1/responses", faultResp, 7},
	} {
		s, c := faultServer(t, Behavior{StreamCutRate: 1, StreamCutAt: tc.at})
		resp := post(t, c, s.URL()+tc.path, tc.body)
		got, err := readAll(t, resp)
		if resp.StatusCode != 200 || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s at %q: status %d, read error %v; want 200 and an unexpected EOF", tc.path, tc.at, resp.StatusCode, err)
		}
		data, _ := sseData(got)
		if len(data) != tc.events || strings.Contains(got, "[DONE]") || strings.Contains(got, "response.completed") ||
			strings.Contains(got, `data: {"error"`) || strings.Contains(got, "event: error") {
			t.Errorf("%s at %q: %d events before the cut, want %d: %q", tc.path, tc.at, len(data), tc.events, got)
		}
	}
}

// TestFault_BadAnswer: with bad_answer_rate 1 every chat, completions and
// Responses request, streamed or not, is answered 200 with one whole body:
// an HTML page, the answer's JSON cut short, an OpenAI error, or TGI's
// refusal for load.
func TestFault_BadAnswer(t *testing.T) {
	prefix := map[string]string{"/v1/chat/completions": `{"id":"chatcmpl-`, "/v1/completions": `{"id":"cmpl-`, "/v1/responses": `{"id":"resp_`}
	for _, kind := range []string{"", "html", "cut", "json_error", "overloaded"} {
		s, c := faultServer(t, Behavior{BadAnswerRate: 1, BadAnswer: kind})
		for path, bodies := range map[string][]string{
			"/v1/chat/completions": {faultWholeChat, faultChat},
			"/v1/completions":      {faultWholeText, faultText},
			"/v1/responses":        {faultWholeResp, faultResp},
		} {
			for _, body := range bodies {
				resp := post(t, c, s.URL()+path, body)
				got, err := readAll(t, resp)
				ct := resp.Header.Get("Content-Type")
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("%s %q: status %d, %v", path, kind, resp.StatusCode, err)
				}
				switch kind {
				case "", "html":
					if ct != "text/html; charset=utf-8" || !strings.HasPrefix(got, "<!DOCTYPE html>") || !strings.Contains(got, "bad_answer_rate") {
						t.Errorf("%s %s: %q %q", path, body, ct, got)
					}
				case "cut":
					if ct != "application/json" || json.Valid([]byte(got)) || !strings.HasPrefix(got, prefix[path]) || len(got) < 40 {
						t.Errorf("%s %s: %q %q, want the answer's JSON cut short", path, body, ct, got)
					}
				case "json_error":
					var e errorResponse
					mustUnmarshal(t, []byte(got), &e)
					if ct != "application/json" || e.Error.Type != "server_error" || !strings.Contains(e.Error.Message, "bad_answer_rate") {
						t.Errorf("%s %s: %q %q", path, body, ct, got)
					}
				case "overloaded":
					var e struct {
						Error     string `json:"error"`
						ErrorType string `json:"error_type"`
					}
					mustUnmarshal(t, []byte(got), &e)
					if ct != "application/json" || e.ErrorType != "overloaded" || !strings.HasPrefix(e.Error, "Model is overloaded") {
						t.Errorf("%s %s: %q %q, want TGI's refusal for load", path, body, ct, got)
					}
				}
			}
		}
	}
}

// binomialBounds returns the counts of n draws of probability p that a
// test accepts: within 4.5 standard deviations of the mean (a fair draw
// falls outside once in some 150,000).
func binomialBounds(n int, p float64) (lo, hi int) {
	mean, sd := float64(n)*p, math.Sqrt(float64(n)*p*(1-p))
	return int(math.Floor(mean - 4.5*sd)), int(math.Ceil(mean + 4.5*sd))
}

// TestFault_Rates: each rate is the share of requests it says, the three
// together disjoint, reproducibly for a seed; the faults after the 200
// take a draw of their own, last, so the rest of a behaviour's draws
// (error, refusal, latency, length, tool call) are those of the same
// behaviour without them.
func TestFault_Rates(t *testing.T) {
	const n = 20000
	b := Behavior{
		Latency: Distribution{MedianMS: 100, P99MS: 400}, OutputTokens: TokenCount{Mean: 20, Spread: 10},
		ErrorRate: 0.1, RefusalRate: 0.1, ToolCallRate: 0.5,
		StreamErrorRate: 0.2, StreamCutRate: 0.05, BadAnswerRate: 0.1, IgnoreStreamRate: 0.15,
	}
	plain := b
	plain.StreamErrorRate, plain.StreamCutRate, plain.BadAnswerRate, plain.IgnoreStreamRate = 0, 0, 0, 0
	rng, rngPlain, rngAgain := newRand(7), newRand(7), newRand(7)
	counts := map[FaultKind]int{}
	ok := 0
	for i := range n {
		o, op, again := b.Sample(rng), plain.Sample(rngPlain), b.Sample(rngAgain)
		if o != again {
			t.Fatalf("draw %d differs for the same seed: %+v, %+v", i, o, again)
		}
		f := o.Fault
		o.Fault = Fault{}
		if o != op {
			t.Fatalf("draw %d: with faults %+v, without %+v: the other draws moved", i, o, op)
		}
		// Each generator must still be at the same point.
		rngPlain.Float64()
		if !o.OK() {
			if f.Kind != FaultNone {
				t.Fatalf("draw %d failed with %d and has fault %v", i, o.Status, f.Kind)
			}
			continue
		}
		ok++
		counts[f.Kind]++
	}
	for kind, p := range map[FaultKind]float64{FaultBadAnswer: b.BadAnswerRate, FaultStreamError: b.StreamErrorRate, FaultStreamCut: b.StreamCutRate, FaultIgnoreStream: b.IgnoreStreamRate} {
		if lo, hi := binomialBounds(ok, p); counts[kind] < lo || counts[kind] > hi {
			t.Errorf("%v: %d of %d answers, want %d to %d (rate %v)", kind, counts[kind], ok, lo, hi, p)
		}
	}
}

// TestFault_RatesOverHTTP: the server's faults follow the rate for a seed,
// and two servers with the same seed fault the same requests.
func TestFault_RatesOverHTTP(t *testing.T) {
	const n = 300
	cfg := Config{Seed: 42, Default: Behavior{StreamErrorRate: 0.3, OutputTokens: TokenCount{Mean: 2}}}
	var runs [2][]bool
	for r := range runs {
		s, c := MustStart(t, cfg), newClient(t)
		for range n {
			got, err := readAll(t, post(t, c, s.URL()+"/v1/chat/completions", faultChat))
			if err != nil {
				t.Fatal(err)
			}
			runs[r] = append(runs[r], strings.HasPrefix(got, `data: {"error"`))
		}
	}
	faulted := 0
	for i := range n {
		if runs[0][i] != runs[1][i] {
			t.Fatalf("request %d: faulted %v on one server, %v on the other with the same seed", i, runs[0][i], runs[1][i])
		}
		if runs[0][i] {
			faulted++
		}
	}
	if lo, hi := binomialBounds(n, 0.3); faulted < lo || faulted > hi {
		t.Errorf("%d of %d streams faulted, want %d to %d", faulted, n, lo, hi)
	}
}

// TestFault_Validate: rates out of range, rates that sum over 1 and
// unknown places or bodies are refused, naming the key and what to write.
func TestFault_Validate(t *testing.T) {
	for yaml, want := range map[string]string{
		"default: {stream_error_rate: 1.5}":                       "default.stream_error_rate: must be between 0 and 1, got 1.5",
		"default: {stream_cut_rate: -0.1}":                        "default.stream_cut_rate: must be between 0 and 1",
		"default: {bad_answer_rate: 2}":                           "default.bad_answer_rate: must be between 0 and 1",
		"default: {stream_error_rate: 0.6, bad_answer_rate: 0.6}": "must be at most 1 together",
		"default: {stream_error_at: start}":                       `default.stream_error_at: must be "first" (the default) or "middle", got "start"`,
		"categories: {code: {stream_cut_at: end}}":                `categories.code.stream_cut_at: must be "first" (the default) or "middle", got "end"`,
		"default: {bad_answer: xml}":                              `default.bad_answer: must be "html" (the default), "cut", "json_error" or "overloaded", got "xml"`,
		"default: {stream_eror_rate: 0.1}":                        "field stream_eror_rate not found",
	} {
		_, err := ParseConfig([]byte(yaml))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", yaml, err, want)
		}
	}
	if _, err := ParseConfig([]byte("default: {stream_error_rate: 0.5, stream_error_at: middle, stream_cut_rate: 0.25, stream_cut_at: first, bad_answer_rate: 0.25, bad_answer: cut}")); err != nil {
		t.Errorf("a valid behaviour refused: %v", err)
	}
}

// TestOutcome_FailsAfter200: a bad answer fails any request, a stream
// fault a streamed one alone.
func TestOutcome_FailsAfter200(t *testing.T) {
	for kind, want := range map[FaultKind][2]bool{FaultNone: {}, FaultBadAnswer: {true, true}, FaultStreamError: {false, true}, FaultStreamCut: {false, true}} {
		o := Outcome{Status: 200, Fault: Fault{Kind: kind}}
		if got := [2]bool{o.FailsAfter200(false), o.FailsAfter200(true)}; got != want {
			t.Errorf("%v: whole, streamed %v, want %v", kind, got, want)
		}
	}
}

// TestFault_ResponsesKeptAsFailed: a Responses answer a fault ended is kept
// as the failed response it is, as OpenAI keeps one: GET of its id answers
// it with status "failed" and an error naming the key, never "not
// finished" for as long as the server runs.
func TestFault_ResponsesKeptAsFailed(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    Behavior
		body string
		key  string
	}{
		{"stream error first", Behavior{StreamErrorRate: 1}, faultResp, "stream_error_rate"},
		{"stream error middle", Behavior{StreamErrorRate: 1, StreamErrorAt: FaultAtMiddle}, faultResp, "stream_error_rate"},
		{"stream cut first", Behavior{StreamCutRate: 1}, faultResp, "stream_cut_rate"},
		{"stream cut middle", Behavior{StreamCutRate: 1, StreamCutAt: FaultAtMiddle}, faultResp, "stream_cut_rate"},
		{"bad answer cut, whole", Behavior{BadAnswerRate: 1, BadAnswer: BadAnswerCut}, faultWholeResp, "bad_answer_rate"},
	} {
		s, c := faultServer(t, tc.b)
		got, _ := readAll(t, post(t, c, s.URL()+"/v1/responses", tc.body))
		m := regexp.MustCompile(`"id":"(resp_[0-9a-f]+)"`).FindStringSubmatch(got)
		if m == nil {
			t.Fatalf("%s: no response id in %q", tc.name, got)
		}
		resp, err := c.Get(s.URL() + "/v1/responses/" + m[1])
		if err != nil {
			t.Fatal(err)
		}
		kept, _ := readAll(t, resp)
		var r struct {
			ID     string `json:"id"`
			Status string `json:"status"`
			Error  *struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if resp.StatusCode != 200 {
			t.Errorf("%s: GET %s: %d %s, want the failed response", tc.name, m[1], resp.StatusCode, kept)
			continue
		}
		mustUnmarshal(t, []byte(kept), &r)
		if r.ID != m[1] || r.Status != "failed" || r.Error == nil || r.Error.Code != "server_error" || !strings.Contains(r.Error.Message, tc.key) {
			t.Errorf("%s: GET %s: %s, want it failed naming %s", tc.name, m[1], kept, tc.key)
		}
	}
}

// TestFault_IgnoreStream: with ignore_stream_rate 1, a streamed chat,
// completions or Responses request is answered as the same request
// without "stream" is: one whole JSON answer of its kind, its usage
// included, no events; a whole request is answered as it always is.
func TestFault_IgnoreStream(t *testing.T) {
	s, c := faultServer(t, Behavior{IgnoreStreamRate: 1})
	for _, tc := range []struct{ path, body, object string }{
		{"/v1/chat/completions", faultChat, "chat.completion"},
		{"/v1/completions", faultText, "text_completion"},
		{"/v1/responses", faultResp, "response"},
		{"/v1/chat/completions", faultWholeChat, "chat.completion"},
	} {
		resp, err := c.Post(s.URL()+tc.path, "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		body, err := readAll(t, resp)
		if err != nil || resp.StatusCode != 200 || strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") || strings.HasPrefix(body, "data:") {
			t.Fatalf("%s %s: status %d type %q error %v body %q: want a whole JSON answer", tc.path, tc.body, resp.StatusCode, resp.Header.Get("Content-Type"), err, body)
		}
		var a struct {
			Object string         `json:"object"`
			Usage  map[string]any `json:"usage"`
		}
		if err := json.Unmarshal([]byte(body), &a); err != nil || a.Object != tc.object || len(a.Usage) == 0 {
			t.Errorf("%s: %q (%v): want a whole %s with its usage", tc.path, body, err, tc.object)
		}
	}
}

// TestFault_StreamErrorOverloaded: with stream_error_type overloaded, a
// chat or completions stream is a 200 whose first event is TGI's refusal
// for load, {"error":"Model is overloaded","error_type":"overloaded"},
// ending the stream; a Responses stream's response.failed carries the
// code rate_limit_exceeded, as does its error event mid-stream. A config
// naming another type is refused.
func TestFault_StreamErrorOverloaded(t *testing.T) {
	s, c := faultServer(t, Behavior{StreamErrorRate: 1, StreamErrorType: StreamErrorOverloaded})
	for path, body := range map[string]string{"/v1/chat/completions": faultChat, "/v1/completions": faultText} {
		got, err := readAll(t, post(t, c, s.URL()+path, body))
		want := `data:{"error":"` + streamOverloadMessage + `","error_type":"overloaded"}` + "\n\n"
		if err != nil || got != want {
			t.Errorf("%s: body %q (%v), want %q", path, got, err, want)
		}
	}
	got, err := readAll(t, post(t, c, s.URL()+"/v1/responses", faultResp))
	data, names := sseData(got)
	if err != nil || len(data) != 3 || names[2] != "response.failed" || !strings.Contains(data[2], `"code":"rate_limit_exceeded"`) {
		t.Errorf("responses: events %v, body %q, %v; want response.failed with rate_limit_exceeded", names, got, err)
	}

	s, c = faultServer(t, Behavior{StreamErrorRate: 1, StreamErrorType: StreamErrorOverloaded, StreamErrorAt: FaultAtMiddle})
	got, _ = readAll(t, post(t, c, s.URL()+"/v1/responses", faultResp))
	if !strings.Contains(got, `"type":"error","code":"rate_limit_exceeded"`) && !strings.Contains(got, `"code":"rate_limit_exceeded"`) {
		t.Errorf("responses mid-stream: %q, want an error event with rate_limit_exceeded", got)
	}

	if err := (&Config{Default: Behavior{StreamErrorType: "busy"}}).Validate(); err == nil || !strings.Contains(err.Error(), "stream_error_type") {
		t.Errorf("stream_error_type busy: %v, want an error naming the key", err)
	}
}
