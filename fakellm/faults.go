package fakellm

import (
	"net/http"
	"strconv"
	"time"
)

// Faults after the 200 (Behavior.StreamErrorRate, StreamCutRate,
// BadAnswerRate): the ways a backend fails once it has answered 200,
// which a gateway must tell from an answer. Each is sent as the backends
// that fail so send it: vLLM's error event in a chat or completions stream
// (then [DONE]), the Responses API's response.failed (in place of the
// answer's first event) or error event (mid-stream), a connection closed
// without the stream's end, and a whole 200 that is a proxy's HTML page,
// JSON cut short or an OpenAI error body.

// Messages of the simulated faults, naming the key that drew them.
const (
	streamErrorMessage = "fakellm: simulated failure after the 200 (stream_error_rate)"
	// TGI's message, which the event's error_type says is a refusal for
	// load.
	streamOverloadMessage = "Model is overloaded (fakellm: stream_error_rate, stream_error_type overloaded)"
	streamCutMessage      = "fakellm: simulated connection closed after the 200 (stream_cut_rate)"
	badAnswerMessage      = "fakellm: simulated error answered with a 200 (bad_answer_rate)"
	// TGI's message, sent whole with a 200 (bad_answer overloaded).
	badAnswerOverloadMessage = "Model is overloaded (fakellm: bad_answer_rate, bad_answer overloaded)"
)

// failedMessage is the error message of a response the fault of g ended,
// naming the key that drew it.
func (g *generation) failedMessage() string {
	switch g.o.Fault.Kind {
	case FaultStreamCut:
		return streamCutMessage
	case FaultBadAnswer:
		if g.o.Fault.Body == BadAnswerOverloaded {
			return badAnswerOverloadMessage
		}
		return badAnswerMessage
	}
	if g.o.Fault.Body == StreamErrorOverloaded {
		return streamOverloadMessage
	}
	return streamErrorMessage
}

// failedCode is the error code of a Responses answer the fault of g
// ended: OpenAI's rate_limit_exceeded for a refusal for load, else
// server_error.
func (g *generation) failedCode() string {
	if g.o.Fault.Kind == FaultStreamError && g.o.Fault.Body == StreamErrorOverloaded {
		return "rate_limit_exceeded"
	}
	return "server_error"
}

// keepFailed keeps the Responses answer of g, which its fault ended, as
// the failed response it is (status "failed", its error naming the key),
// as OpenAI keeps one: left unfinished, GET of its id answered "not
// finished" for as long as the server ran. Off the answers' path: only a
// fault comes here. id is g.respID, passed apart as generate keeps it (the
// stored map keeping g.respID would move every request's g to the heap).
func (s *Server) keepFailed(g *generation, id string, model []byte) {
	if g.kind != kindResponses || g.noStore {
		return
	}
	g.failed = true
	s.stored.finish(id, g.appendRespObject(nil, model, false))
	g.failed = false // a bad answer's cut body is the answer's own
}

// badAnswerHTML is the page of bad_answer: html, as a proxy in front of
// the backend sends it.
const badAnswerHTML = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n" +
	"<body><h1>502 Bad Gateway</h1><p>fakellm: simulated HTML page answered with a 200 (bad_answer_rate)</p></body></html>\n"

var ctHTML = []string{"text/html; charset=utf-8"}

// faultAfter returns how many events of the answer a stream sends before
// its fault: none for one at the first event, else half the answer's
// events (at least one): its tokens' events, or a tool call's one.
func (g *generation) faultAfter() int {
	if !g.o.Fault.Middle {
		return 0
	}
	if g.tool != nil {
		return 1
	}
	return (max(g.o.OutputTokens, 1) + 1) / 2
}

// streamFault reports whether a stream's fault comes once it has sent
// sent events of its answer.
func (g *generation) streamFault(sent int) bool {
	k := g.o.Fault.Kind
	return (k == FaultStreamError || k == FaultStreamCut) && sent == g.faultAfter()
}

// cut ends the stream as a backend that died does: what was written is
// flushed, then the connection is closed without the stream's end (for
// HTTP/1.1, without the chunked body's last chunk).
func cut(fl http.Flusher) {
	if fl != nil {
		fl.Flush()
	}
	panic(http.ErrAbortHandler)
}

// chatStreamFault sends a chat or completions stream's fault: vLLM's error
// event and [DONE], or the connection closed.
func (g *generation) chatStreamFault(w http.ResponseWriter, fl http.Flusher, st *reqState) {
	if g.o.Fault.Kind == FaultStreamCut {
		cut(fl)
	}
	if g.o.Fault.Body == StreamErrorOverloaded {
		// TGI's refusal for load inside its stream (its permit taken
		// after the 200), which ends the stream with no [DONE].
		st.out = append(append(st.out[:0], `data:{"error":"`+streamOverloadMessage+`","error_type":"overloaded"}`...), "\n\n"...)
		_, _ = w.Write(st.out)
		if fl != nil {
			fl.Flush()
		}
		return
	}
	b := append(st.out[:0], `data: {"error":{"message":`...)
	b = appendJSONString(b, streamErrorMessage)
	b = append(b, `,"type":"server_error","param":null,"code":500}}`+"\n\n"...)
	b = append(b, doneEvent...)
	st.out = b
	_, _ = w.Write(b)
	if fl != nil {
		fl.Flush()
	}
}

// respStreamFault adds a Responses stream's fault to e and sends it: in
// place of the answer's first event response.failed, as OpenAI ends a
// response that failed; mid-stream an error event; or the connection
// closed.
func (s *Server) respStreamFault(g *generation, id string, e *respEvents, model []byte, send func() bool, fl http.Flusher) {
	s.keepFailed(g, id, model)
	if g.o.Fault.Kind == FaultStreamCut {
		send()
		cut(fl)
	}
	if g.faultAfter() == 0 {
		e.open("response.failed")
		e.b = append(e.b, `,"response":`...)
		g.failed = true
		e.b = g.appendRespObject(e.b, model, false)
		e.close()
	} else {
		e.open("error")
		e.b = append(e.b, `,"code":"`...)
		e.b = append(e.b, g.failedCode()...)
		e.b = append(e.b, `","message":`...)
		e.b = appendJSONString(e.b, g.failedMessage())
		e.b = append(e.b, `,"param":null`...)
		e.close()
	}
	send()
}

// badAnswer answers 200 with the whole body of the outcome's bad answer,
// streamed request or not, after the time a whole answer (or a stream's
// first event) would take.
func (s *Server) badAnswer(w http.ResponseWriter, r *http.Request, run *runState, st *reqState, g *generation, id string) {
	wait := g.o.Latency
	if st.req.Stream {
		wait = time.Until(g.start.Add(g.o.TTFT))
	}
	if !s.pause(r, st, run, wait) {
		return
	}
	s.keepFailed(g, id, st.model)
	h := w.Header()
	switch g.o.Fault.Body {
	case BadAnswerCut:
		if g.kind == kindResponses {
			st.out = g.appendRespObject(st.out[:0], st.model, true)
		} else {
			st.out = g.appendResponse(st.out[:0], st.model)
		}
		st.out = st.out[:len(st.out)/2]
		h["Content-Type"] = ctJSON
	case BadAnswerJSONError:
		st.out = appendError(st.out[:0], "server_error", "", badAnswerMessage)
		h["Content-Type"] = ctJSON
	case BadAnswerOverloaded:
		// TGI's refusal for load, as some versions (and proxies in front
		// of one) send it whole with a 200 rather than with a 429.
		st.out = append(st.out[:0], `{"error":"`+badAnswerOverloadMessage+`","error_type":"overloaded"}`...)
		h["Content-Type"] = ctJSON
	default:
		st.out = append(st.out[:0], badAnswerHTML...)
		h["Content-Type"] = ctHTML
	}
	h["Content-Length"] = []string{strconv.Itoa(len(st.out))}
	_, _ = w.Write(st.out)
}
