package proxy

import (
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/tidwall/gjson"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/route"
)

// passThrough reports whether a successful answer of an endpoint whose
// answers are not text, of this Content-Type, is relayed as it arrives
// (relayRaw): one that says it is something other than JSON. A JSON
// answer, or one that does not say (a minimal server's JSON), is relayed
// whole, its usage read.
func passThrough(contentType string) bool {
	if contentType == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return true
	}
	return mt != "application/json" && !strings.HasSuffix(mt, "+json")
}

// readUsageOnly reads the token counts of a JSON answer that is not
// generated text: embeddings' and vLLM's score prompt_tokens, the images
// API's and a transcription's input_tokens and output_tokens, or vLLM's
// rerank total_tokens (all of them its input). A whisper-1 transcription's
// usage counts seconds of audio ({"type": "duration"}), no tokens: none
// are read.
func readUsageOnly(body []byte, obs *sluice.Observation) {
	u := gjson.GetBytes(body, "usage")
	if u.Type != gjson.JSON {
		return
	}
	obs.InputTokens, obs.OutputTokens = usageTokens(u)
}

// usageTokens returns the input and output tokens of a usage object u (see
// readUsageOnly).
func usageTokens(u gjson.Result) (int, int) {
	in := u.Get("prompt_tokens")
	if !in.Exists() {
		in = u.Get("input_tokens")
	}
	out := u.Get("completion_tokens")
	if !out.Exists() {
		out = u.Get("output_tokens")
	}
	if !in.Exists() && !out.Exists() {
		in = u.Get("total_tokens")
	}
	return int(in.Int()), int(out.Int())
}

// isSSEType reports whether contentType is text/event-stream (with
// parameters or not), as isEventStream reads it.
func isSSEType(contentType string) bool {
	return len(contentType) >= len("text/event-stream") && strings.EqualFold(contentType[:len("text/event-stream")], "text/event-stream")
}

// rawBufs are relayRaw's copy buffers.
var rawBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// relayRaw passes a successful answer that is not JSON (audio bytes from
// /v1/audio/speech, an image, a transcript as text, srt or vtt, the events
// of a streamed image, speech or transcription) through as it arrives,
// byte for byte with the backend's headers (an event stream's keep-alives
// without the blank lines that end them: commentBlocks), flushing after
// each read; nothing in it is read but an event stream's usage
// (streamUsage). Held
// whole, as relayBody holds an answer, speech would reach the client only
// at its last byte, and the
// proxy's pooled buffers would grow to the size of the audio. Its time to
// first byte is the TTFT. A backend that breaks off, or a request whose
// time runs out, after the first byte was sent is counted as stream_broken
// or timeout and sets x.cut (before it, the client gets a whole error:
// rawFailedBeforeFirstByte): forward then aborts the answer, so that the
// client's HTTP library sees it end short (fewer bytes than its
// Content-Length, or a chunked body without its last chunk) rather than
// take the part for the whole. A ResponseWriter that holds the whole answer
// until the handler returns (HoldsAnswer, the fasthttp front's) answers
// that abort with a 502, which the request is recorded with.
func (p *Proxy) relayRaw(x *exchange, t *route.Target, resp *http.Response, obs *sluice.Observation) {
	h := x.w.Header()
	copyResponseHeaders(h, resp.Header)
	if _, typed := h["Content-Type"]; !typed {
		// Sent without one, passed on without one: net/http's server
		// would otherwise sniff the first bytes and claim "text/plain;
		// charset=utf-8" for the backend (RFC 9110 8.3 leaves an untyped
		// answer's type to its recipient). A nil value stops the sniffing
		// and writes no header.
		h["Content-Type"] = nil
	}
	// An event stream (images' partial images, speech's audio deltas)
	// passes without the blank lines that end its keep-alives
	// (commentBlocks), which openai-go fails on; its length is then not
	// the backend's. One sent encoded (a compressing proxy in front of
	// the backend) passes byte for byte: its lines cannot be judged, and
	// filtered its encoding would no longer decode.
	// Its usage is read as it passes (streamUsage), the last event's.
	var cb *commentBlocks
	var su *streamUsage
	if (isSSEType(resp.Header.Get("Content-Type")) || x.f.stream && resp.Header.Get("Content-Type") == "") && len(resp.Header["Content-Encoding"]) == 0 {
		cb, su = new(commentBlocks), new(streamUsage)
	}
	if resp.ContentLength >= 0 && cb == nil {
		// Passed on (it is not among the headers copied): the client
		// knows the audio's size, and one the backend breaks off reaches
		// it with fewer bytes than announced.
		h.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	// The status and headers go with the first byte: a backend that dies
	// before it has sent the client nothing, and gets a whole error.
	wrote := false
	fl, _ := x.w.(http.Flusher)
	var body io.Reader = resp.Body
	if x.br != nil {
		body = x.br // a request with "stream": true, its first line read (awaitFirstLine)
	}
	bp := rawBufs.Get().(*[]byte)
	defer rawBufs.Put(bp)
	buf := *bp
	gotFirst := false
	var readErr error
	clientErr := false
	var written int64 // the bytes of the body passed on
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if !gotFirst {
				gotFirst = true
				obs.TTFT = p.opt.Now().Sub(x.sent)
				x.w.WriteHeader(resp.StatusCode)
				wrote = true
			}
			if written += int64(n); written == resp.ContentLength {
				// The last byte the client was told of: it may stop
				// reading there, before the body's end.
				p.answered(x, t, obs)
			}
			out := buf[:n]
			if cb != nil {
				out = cb.filter(out)
				su.scan(out)
			}
			if len(out) > 0 {
				if _, werr := x.w.Write(out); werr != nil {
					clientErr = true
					break
				}
				if fl != nil {
					fl.Flush()
				}
			}
		}
		if err != nil {
			if err != io.EOF {
				readErr = err
			}
			break
		}
	}
	obs.Latency = p.opt.Now().Sub(x.sent)
	if !gotFirst {
		obs.TTFT = obs.Latency
	}
	if su != nil {
		su.apply(obs)
	}
	// Counted by what happened: an answer read to its end and written
	// whole is complete, even if the client's context has ended since
	// (it hung up as its last byte went out).
	switch {
	case clientErr:
		obs.ErrorClass = "canceled"
	case readErr != nil:
		_, idle := idleCut(readErr)
		switch class := classify(x.r.Context(), readErr); {
		case class == "canceled":
			obs.ErrorClass = "canceled"
		case idle:
			obs.ErrorClass = "stream_idle"
		case class == "timeout":
			obs.ErrorClass = "timeout"
		default:
			obs.ErrorClass = "stream_broken"
		}
		if !wrote {
			p.rawFailedBeforeFirstByte(x, t, resp, obs, readErr)
			return
		}
		x.cut = true
		if h, ok := x.w.(interface{ HoldsAnswer() bool }); ok && h.HoldsAnswer() && obs.ErrorClass != "canceled" {
			// Nothing has left yet (the fasthttp front sends the answer
			// when the handler returns): the client gets a 502 for the
			// abort, not the backend's status, and the request is
			// recorded with it.
			obs.Status = http.StatusBadGateway
		}
	case !wrote:
		x.w.WriteHeader(resp.StatusCode) // an empty answer, whole
	}
}

// rawFailedBeforeFirstByte answers a pass-through answer that failed
// before any of it was sent (relayRaw) with a whole error in place of the
// backend's status and headers, as relay answers a backend that failed
// before its headers.
func (p *Proxy) rawFailedBeforeFirstByte(x *exchange, t *route.Target, resp *http.Response, obs *sluice.Observation, err error) {
	h := x.w.Header()
	for k := range resp.Header {
		if !ownHeaders[k] {
			delete(h, k)
		}
	}
	delete(h, "Content-Length")
	delete(h, "Content-Type")
	obs.Status = statusFor(nil, obs.ErrorClass)
	switch obs.ErrorClass {
	case "canceled":
		writeCanceledFor(x)
	case "timeout":
		writeErrorCode(x.w, sluice.CodeTimeout, upstreamMessage(t, "timeout", err))
	case "stream_idle":
		d, _ := idleCut(err)
		writeErrorCode(x.w, sluice.CodeTimeout, idleMessage(t.ID, "its answer", d)+"; try again, and if it persists ask an operator to check the backend or move traffic off it")
	default:
		writeErrorCode(x.w, sluice.CodeUpstream, "the backend for "+t.ID+" broke off its answer before sending any of it ("+bodyErrText(err)+"); try again, and if it persists ask an operator to check the backend or move traffic off it")
	}
}
