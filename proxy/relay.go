package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/route"
	"github.com/tidwall/gjson"
)

// refusalPrefix is how much of the generated text is kept for the refusal
// check: refusals announce themselves in the first sentence.
const refusalPrefix = 256

// relay sends the outcome of the attempt at t to x.w: the backend's answer,
// or an OpenAI-shaped error when there is none. It completes obs.
func (p *Proxy) relay(x *exchange, t *route.Target, resp *http.Response, class string, err error, obs *sluice.Observation) {
	if err != nil {
		obs.ErrorClass = class
		obs.Status = statusFor(nil, class)
		obs.Latency = p.opt.Now().Sub(x.sent)
		obs.TTFT = obs.Latency
		code := sluice.CodeUpstream
		switch class {
		case "timeout":
			code = sluice.CodeTimeout
		case "canceled":
			obs.Status = 499
		}
		if class != "canceled" {
			writeErrorCode(x.w, code, upstreamMessage(t, class, err))
		}
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 500 {
		obs.ErrorClass = "upstream_5xx"
	} else if resp.StatusCode >= 400 {
		obs.ErrorClass = "upstream_4xx"
	}
	obs.Status = resp.StatusCode
	if x.f.stream && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		p.relayStream(x, t, resp, obs)
	} else {
		p.relayBody(x, resp, obs)
	}
}

// relayBody copies a whole (non-streamed) answer to the client and reads
// usage, finish reason and the text from it.
func (p *Proxy) relayBody(x *exchange, resp *http.Response, obs *sluice.Observation) {
	bp := p.bufs.Get().(*[]byte)
	defer p.bufs.Put(bp)
	buf := bytes.NewBuffer((*bp)[:0])
	_, err := buf.ReadFrom(resp.Body)
	*bp = buf.Bytes()[:0]
	body := buf.Bytes()
	if err != nil {
		// Nothing has been sent yet, so the client gets the status that
		// says what happened: the request's time ran out in the middle of
		// the answer (504, as before its headers), the client left (499,
		// nothing written), or the backend broke off (502).
		obs.Latency = p.opt.Now().Sub(x.sent)
		obs.TTFT = obs.Latency
		id := obs.Model + ":" + obs.Version
		switch classify(x.r.Context(), err) {
		case "timeout":
			obs.ErrorClass, obs.Status = "timeout", 504
			writeErrorCode(x.w, sluice.CodeTimeout, "the backend for "+id+" did not finish its answer in time; try again, and if it persists ask an operator to check the backend or raise the request timeout")
		case "canceled":
			obs.ErrorClass, obs.Status = "canceled", 499
		default:
			obs.ErrorClass, obs.Status = "stream_broken", 502
			writeErrorCode(x.w, sluice.CodeUpstream, "the backend for "+id+" broke off its answer ("+err.Error()+"); try again")
		}
		return
	}
	h := x.w.Header()
	copyResponseHeaders(h, resp.Header)
	x.w.WriteHeader(resp.StatusCode)
	if _, err := x.w.Write(body); err != nil {
		obs.ErrorClass = "canceled"
	}
	obs.Latency = p.opt.Now().Sub(x.sent)
	obs.TTFT = obs.Latency
	if resp.StatusCode < 300 {
		p.readAnswer(x, body, obs)
	}
}

// appendCapped appends s to dst up to a length of limit bytes; the caller
// cuts the result at a character boundary when it uses it (textOf).
func appendCapped(dst []byte, s string, limit int) []byte {
	if room := limit - len(dst); room < len(s) {
		s = s[:max(room, 0)]
	}
	return append(dst, s...)
}

func (p *Proxy) readUsage(body []byte, obs *sluice.Observation) {
	u := gjson.GetBytes(body, "usage")
	if u.Type != gjson.JSON {
		return
	}
	usageInto(u, obs)
}

// streamReaders are relayStream's line readers, pooled: a stream's reader
// is as large as a long event line.
var streamReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 8<<10) }}

// relayStream passes a server-sent event stream through event by event,
// flushing after each, and strips the usage chunk the proxy asked for when
// the client did not. A stream the backend breaks off ends with an error
// event, so the client never waits on a stream that will not finish.
func (p *Proxy) relayStream(x *exchange, t *route.Target, resp *http.Response, obs *sluice.Observation) {
	h := x.w.Header()
	copyResponseHeaders(h, resp.Header)
	h.Del("Content-Length")
	x.w.WriteHeader(resp.StatusCode)
	fl, _ := x.w.(http.Flusher)
	if fl != nil {
		fl.Flush()
	}
	br := streamReaders.Get().(*bufio.Reader)
	br.Reset(resp.Body)
	defer func() { br.Reset(nil); streamReaders.Put(br) }()
	var (
		suppress  bool // inside an event the client must not see
		done      bool // saw data: [DONE]
		pending   bool // wrote bytes not yet flushed
		ended     bool // pending holds the end of an event
		gotFirst  bool
		prefix    [refusalPrefix]byte
		prefixLen int
		clientErr bool
	)
	write := func(b []byte) {
		if clientErr {
			return
		}
		if _, err := x.w.Write(b); err != nil {
			clientErr = true
		}
		pending = true
	}
	var readErr error
	for {
		// Events are flushed as soon as no further line has arrived with
		// them: an event is never held waiting for the backend, and events
		// that arrived together (a backend or a proxy faster than the
		// client) go out in one write, as nginx passes on what it read.
		if ended && fl != nil && !clientErr && !lineReady(br) {
			fl.Flush()
			pending, ended = false, false
		}
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// An event line longer than the buffer: pass it through in parts.
			write(line)
			continue
		}
		if len(line) > 0 {
			trimmed := bytes.TrimRight(line, "\r\n")
			switch {
			case len(trimmed) == 0:
				if !suppress {
					write(line)
					ended = true
				}
				suppress = false
			case bytes.HasPrefix(trimmed, []byte("data:")):
				payload := bytes.TrimLeft(trimmed[5:], " ")
				if bytes.Equal(payload, []byte("[DONE]")) {
					done = true
					write(line)
					break
				}
				if bytes.Contains(payload, []byte(`"usage"`)) {
					u := gjson.GetBytes(payload, "usage")
					if u.Type == gjson.JSON {
						usageInto(u, obs)
						if !x.f.usageAsked && gjson.GetBytes(payload, "choices.#").Int() == 0 {
							suppress = true
							break
						}
					}
				}
				chars := obs.ResponseChars
				readChunk(x, payload, obs, &prefix, &prefixLen)
				// The first token is the first chunk with content (text, a
				// tool call, a finish): not a role-only delta, nor an event
				// without choices such as Azure's prompt filter results.
				if !gotFirst && (obs.ResponseChars > chars || obs.FinishReason != "" || bytes.Contains(payload, []byte(`"tool_calls"`)) || hasReasoning(payload)) {
					gotFirst = true
					obs.TTFT = p.opt.Now().Sub(x.sent)
				}
				write(line)
			default:
				if !suppress {
					write(line)
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
	if pending && fl != nil && !clientErr {
		fl.Flush()
	}
	obs.Latency = p.opt.Now().Sub(x.sent)
	if !gotFirst {
		obs.TTFT = obs.Latency
	}
	if p.opt.Refusal != nil && prefixLen > 0 {
		obs.Refusal = p.opt.Refusal.Match(prefix[:prefixLen])
	}
	switch {
	case clientErr || x.r.Context().Err() != nil && !done:
		obs.ErrorClass = "canceled"
	case !done && resp.StatusCode < 300:
		obs.ErrorClass = "stream_broken"
		msg := "the backend for " + t.ID + " broke off the stream"
		if readErr != nil {
			msg += " (" + readErr.Error() + ")"
		}
		msg += "; retry the request"
		ev := append([]byte(`data: {"error":{"message":`), appendJSONString(nil, msg)...)
		ev = append(ev, `,"type":"api_error","code":"upstream_error"}}`+"\n\n"...)
		write(ev)
		if fl != nil && !clientErr {
			fl.Flush()
		}
	}
}

// hasReasoning reports whether a chunk carries reasoning text (vLLM's
// reasoning parser and DeepSeek send delta.reasoning_content, others
// delta.reasoning): a reasoning model's first token, which is its TTFT.
func hasReasoning(payload []byte) bool {
	if !bytes.Contains(payload, []byte(`"reasoning`)) {
		return false
	}
	d := gjson.GetBytes(payload, "choices.0.delta")
	return d.Get("reasoning_content").String() != "" || d.Get("reasoning").String() != ""
}
