package proxy

import (
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/tidwall/gjson"

	"github.com/sluicehq/sluice"
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
// API's input_tokens and output_tokens, or vLLM's rerank total_tokens
// (all of them its input).
func readUsageOnly(body []byte, obs *sluice.Observation) {
	u := gjson.GetBytes(body, "usage")
	if u.Type != gjson.JSON {
		return
	}
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
	obs.InputTokens, obs.OutputTokens = int(in.Int()), int(out.Int())
}

// rawBufs are relayRaw's copy buffers.
var rawBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// relayRaw passes a successful answer that is not JSON (audio bytes from
// /v1/audio/speech, an image, the events of a streamed image or speech)
// through as it arrives, byte for byte with the backend's headers, flushing
// after each read; nothing in it is read. Held whole, as relayBody holds an
// answer, speech would reach the client only at its last byte, and the
// proxy's pooled buffers would grow to the size of the audio. Its time to
// first byte is the TTFT. A backend that breaks off, or a request whose
// time runs out, after the headers were sent ends the answer short (the
// client's HTTP library sees the chunked body end without its last chunk)
// and is counted as stream_broken or timeout.
func (p *Proxy) relayRaw(x *exchange, resp *http.Response, obs *sluice.Observation) {
	h := x.w.Header()
	copyResponseHeaders(h, resp.Header)
	x.w.WriteHeader(resp.StatusCode)
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
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if !gotFirst {
				gotFirst = true
				obs.TTFT = p.opt.Now().Sub(x.sent)
			}
			if _, werr := x.w.Write(buf[:n]); werr != nil {
				clientErr = true
				break
			}
			if fl != nil {
				fl.Flush()
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
	switch {
	case clientErr || x.r.Context().Err() != nil:
		obs.ErrorClass = "canceled"
	case readErr != nil:
		obs.ErrorClass = "stream_broken"
		if classify(x.r.Context(), readErr) == "timeout" {
			obs.ErrorClass = "timeout"
		}
	}
}
