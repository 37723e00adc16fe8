package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

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
	defer x.releaseReader()
	if ae, ok := err.(*answerReadError); ok {
		p.answerReadFailed(x, t.ID, ae.err, obs)
		return
	}
	if err != nil {
		obs.ErrorClass = class
		obs.Status = statusFor(nil, class)
		obs.Latency = p.opt.Now().Sub(x.sent)
		obs.TTFT = obs.Latency
		switch class {
		case "timeout", "stream_idle":
			// stream_idle: silent past timeouts.idle after a keep-alive,
			// before the stream's first event (awaitFirstLine).
			writeErrorCode(x.w, sluice.CodeTimeout, upstreamMessage(t, class, err))
		case "canceled":
			obs.Status = 499
			writeCanceledFor(x)
		case sluice.ClassOverloaded:
			// An error event refusing for load, before any of the
			// stream, or such an error sent whole with a 200
			// (wholeAnswerError): the client is told so with the status a refusal
			// before the stream has, and, as the stream said not when
			// to come back, a second's Retry-After, as the gateway's
			// other 429s carry one: a client that honours it waits
			// rather than sending again at once.
			writeRetryAfter(x.w, time.Second)
			WriteErrorStatus(x.w, http.StatusTooManyRequests, sluice.CodeUpstream, upstreamMessage(t, class, err))
		default:
			writeErrorCode(x.w, sluice.CodeUpstream, upstreamMessage(t, class, err))
		}
		return
	}
	defer resp.Body.Close()
	if class == sluice.ClassOverloaded {
		// The backend's refusal for load, passed on as it came (its
		// Retry-After intact) to a request that named its version, or
		// that stable itself refused.
		obs.ErrorClass = class
	} else if resp.StatusCode >= 500 {
		obs.ErrorClass = "upstream_5xx"
	} else if resp.StatusCode >= 400 {
		obs.ErrorClass = clientBodyClass(x, resp.StatusCode)
	}
	obs.Status = resp.StatusCode
	if x.f.notText && resp.StatusCode < 300 && (passThrough(resp.Header.Get("Content-Type")) ||
		x.f.stream && resp.Header.Get("Content-Type") == "" && looksLikeSSE(x.br)) {
		// Not JSON, or a stream of events sent without a type (as chat's
		// may be: looksLikeSSE): it passes through as it arrives.
		p.relayRaw(x, t, resp, obs)
		return
	}
	if x.f.notText {
		// An error, or a JSON answer (embeddings, rerank, score,
		// moderations, images as base64 or URLs): relayBody reads its
		// usage and nothing else.
		p.relayBody(x, t, resp, obs)
		return
	}
	switch {
	case x.f.stream && isEventStream(x, resp):
		p.relayStream(x, t, resp, obs)
	case x.wholeStream && x.held != nil:
		p.relayWholeAsStream(x, t, resp, obs)
	default:
		p.relayBody(x, t, resp, obs)
	}
}

// isEventStream reports whether the answer to a streamed request is a
// stream of events: sent as text/event-stream, or a 2xx that starts as
// one does (looksLikeSSE). Any other is a whole answer (relayBody).
func isEventStream(x *exchange, resp *http.Response) bool {
	return strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") || resp.StatusCode < 300 && looksLikeSSE(x.br)
}

// looksLikeSSE reports whether a streamed request's answer, sent without
// the text/event-stream type (FastAPI's StreamingResponse without a
// media_type), starts as server-sent events do: relayBody would hold such a
// stream until it ended. br holds the answer's first line
// (awaitFirstLine), so looking at it does not wait.
func looksLikeSSE(br *bufio.Reader) bool {
	if br == nil {
		return false
	}
	b, _ := br.Peek(min(6, br.Buffered()))
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 && br.Buffered() > 0 {
		// The first line was blank (an event's end before any event): only
		// a stream starts so; a whole answer would start with its JSON.
		return true
	}
	for _, p := range []string{"data:", "event:", "id:", ":", "retry:"} {
		if bytes.HasPrefix(b, []byte(p)) || len(b) < len(p) && len(b) > 0 && strings.HasPrefix(p, string(b)) {
			return true
		}
	}
	return false
}

// relayBody copies a whole (non-streamed) answer to the client and reads
// usage, finish reason and the text from it.
func (p *Proxy) relayBody(x *exchange, t *route.Target, resp *http.Response, obs *sluice.Observation) {
	var (
		bp  *[]byte
		got []byte
		err error
		// f is what the walker read of the answer, when holdAnswer had it.
		f      *answerFields
		walked bool
	)
	if x.held != nil {
		bp, got = x.held, *x.held
		f, walked = &x.heldF, x.heldOK
		x.held = nil
	} else {
		var body io.Reader = resp.Body
		if x.br != nil {
			body = x.br // a streamed request's answer, its first line read
		}
		bp, got, err = p.readWhole(body)
	}
	defer func() {
		*bp = (*bp)[:0]
		p.bufs.Put(bp)
	}()
	if err != nil {
		p.answerReadFailed(x, obs.Model+":"+obs.Version, err, obs)
		return
	}
	h := x.w.Header()
	copyResponseHeaders(h, resp.Header)
	if resp.StatusCode >= 400 {
		if e := openAIErrorOf(obs.Model+":"+obs.Version, resp.StatusCode, resp.Header, got); e != nil {
			got = e
			h.Set("Content-Type", "application/json")
		}
	}
	if _, typed := h["Content-Type"]; !typed {
		// Sent without a type. The server would sniff one from the first
		// bytes, text/plain for JSON, and the OpenAI SDKs take a
		// text/plain answer for text (openai-go refuses it). This answer
		// is read as JSON here, so say so when it is; otherwise pass it
		// on without one, as relayRaw does (a nil value stops the
		// sniffing).
		if isJSONBody(got) {
			h.Set("Content-Type", "application/json")
		} else {
			h["Content-Type"] = nil
		}
	}
	if x.f.responses && resp.StatusCode < 300 {
		// Read before the client has it: its id is remembered before the
		// client can send the turn that continues it.
		p.readResponse(x, t, got, obs)
	}
	// Before the body: a server that passes a large write through (net/http
	// with a body over its buffers, HTTP/2) gives the client all of it, and
	// a client that reads the JSON object without waiting for the body's
	// end rates it, before this handler returns.
	p.answered(x, t, obs)
	x.w.WriteHeader(resp.StatusCode)
	if _, err := x.w.Write(got); err != nil {
		obs.ErrorClass = "canceled"
	}
	obs.Latency = p.opt.Now().Sub(x.sent)
	obs.TTFT = obs.Latency
	if resp.StatusCode < 300 {
		switch {
		case x.f.notText:
			readUsageOnly(got, obs)
			if x.tr.wantsModel() {
				x.tr.answerModelOf(gjson.GetBytes(got, "model"))
			}
		case x.f.responses:
			// Read above (readResponse).
		case f != nil:
			p.readAnswerFields(x, got, f, walked, obs)
		default:
			p.readAnswer(x, got, obs)
		}
	}
}

// answerReadClass is the class of a whole answer whose body's read failed
// with err: the backend went silent after its header (timeouts.idle,
// "stream_idle"), the request's time ran out ("timeout"), the client left
// ("canceled"), or the backend broke off ("stream_broken").
func answerReadClass(clientCtx context.Context, err error) string {
	class := classify(clientCtx, err)
	if _, idle := idleCut(err); idle && class != "canceled" {
		return "stream_idle"
	}
	if class == "connect" {
		return "stream_broken"
	}
	return class
}

// answerReadFailed completes obs and answers the client for a whole answer
// whose body's read failed (err) before anything of it was sent, so the
// client gets the status that says what happened: the request's time ran
// out in the middle of the answer (504, as before its headers), the client
// left (499, nothing written), or the backend broke off (502). id is the
// version's "model:version".
func (p *Proxy) answerReadFailed(x *exchange, id string, err error, obs *sluice.Observation) {
	obs.Latency = p.opt.Now().Sub(x.sent)
	obs.TTFT = obs.Latency
	obs.ErrorClass = answerReadClass(x.r.Context(), err)
	switch obs.ErrorClass {
	case "stream_idle":
		d, _ := idleCut(err)
		obs.Status = 504
		writeErrorCode(x.w, sluice.CodeTimeout, idleMessage(id, "its answer", d)+"; try again, and if it persists ask an operator to check the backend")
	case "timeout":
		obs.Status = 504
		writeErrorCode(x.w, sluice.CodeTimeout, "the backend for "+id+" did not finish its answer in time; try again, and if it persists ask an operator to check the backend or raise the request timeout")
	case "canceled":
		obs.Status = 499
		writeCanceledFor(x)
	default:
		obs.Status = 502
		writeErrorCode(x.w, sluice.CodeUpstream, "the backend for "+id+" broke off its answer ("+bodyErrText(err)+"); try again")
	}
}

// answerReadError is a whole answer whose body's read failed in
// holdAnswer: a failed attempt, which relay answers as relayBody would
// (answerReadFailed).
type answerReadError struct{ err error }

func (e *answerReadError) Error() string { return e.err.Error() }
func (e *answerReadError) Unwrap() error { return e.err }

// readWhole reads body whole into a buffer of p.bufs, which the caller
// puts back once done with got.
func (p *Proxy) readWhole(body io.Reader) (bp *[]byte, got []byte, err error) {
	bp = p.bufs.Get().(*[]byte)
	buf := bytes.NewBuffer((*bp)[:0])
	_, err = buf.ReadFrom(body)
	*bp = buf.Bytes()
	return bp, *bp, err
}

// holdAnswer reads a whole successful chat or completions answer before
// the attempt's outcome is decided, as relayBody would hold it before
// sending it anyway, so that one that is not JSON (cut short, an HTML
// page, empty) is a failed attempt of the version ("upstream_invalid",
// no response): retried on stable for a request the gateway routed, and
// answered with a 502 otherwise, where it was passed on with its 200 and
// counted a success; and so is one whose body's read fails (the backend
// broke off, went silent past timeouts.idle: answerReadError), which was
// answered with a 502 or 504 though nothing had been sent either. The
// walker reads the answer here, once (relayBody
// uses what it read), and only a body the walker declines is checked by
// gjson, as the fallback reads it anyway; an encoded body is not read. It
// takes and returns an attempt's outcome, as classified does.
//
// A streamed request's answer that is not a stream of events
// (isEventStream: a proxy's error page sent with a 200, a backend that
// ignored "stream") is held whole too, chat, completions and Responses
// alike, as relayBody would hold it: one that is not JSON is such a failed
// attempt, where it was passed on with its 200. A stream costs the test
// of its type, which relay makes anyway.
func (p *Proxy) holdAnswer(x *exchange, resp *http.Response, class string, err error) (*http.Response, string, error) {
	if resp == nil || resp.StatusCode >= 300 || x.f.notText {
		return resp, class, err
	}
	var body io.Reader = resp.Body
	if x.f.stream {
		if isEventStream(x, resp) {
			return resp, class, err
		}
		body = x.br // its first line read (awaitFirstLine)
	}
	bp, got, rerr := p.readWhole(body)
	if rerr != nil {
		// Broken off, silent past timeouts.idle, out of time, or the
		// client left: nothing has been sent, so it is a failed attempt
		// (retried on stable when routed), as a body that is not JSON is.
		*bp = got[:0]
		p.bufs.Put(bp)
		resp.Body.Close()
		x.releaseReader()
		return nil, answerReadClass(x.r.Context(), rerr), &answerReadError{rerr}
	}
	encoded := len(resp.Header["Content-Encoding"]) > 0
	if x.f.stream && encoded {
		// A whole answer to a stream, encoded though the gateway asked
		// for none (wholedecode.go): decoded, and judged as any other.
		dbp, dgot, derr := p.decodeWhole(got, resp.Header["Content-Encoding"])
		*bp = got[:0]
		p.bufs.Put(bp)
		if derr != nil {
			resp.Body.Close()
			x.releaseReader()
			return nil, "upstream_invalid", derr
		}
		bp, got, encoded = dbp, dgot, false
		resp.Header.Del("Content-Encoding")
	}
	x.held, x.wholeStream = bp, false
	x.heldF, x.heldOK = answerFields{}, false
	if !x.f.responses {
		x.heldF, x.heldOK = scanAnswer(got, x.tr.wantsModel())
	}
	if !x.f.stream && !encoded {
		// A whole answer that is an OpenAI error sent with a 200 (by a
		// proxy in front of the backend, or a server that answers its
		// errors so): openai-go decodes it into a completion with no
		// choices and no error, so the user got an empty answer and the
		// version a success. It is the version's failed attempt, as the
		// same error in a stream's first event is.
		if ev := wholeAnswerError(got, &x.heldF, x.heldOK, x.f.responses); ev != nil {
			x.held = nil
			*bp = got[:0]
			p.bufs.Put(bp)
			resp.Body.Close()
			x.releaseReader()
			return nil, ev.class(), ev
		}
	}
	if x.f.stream && !encoded {
		// A streamed request answered by one whole JSON error: the SDKs
		// read no event from it (openai-go ends the stream empty, with no
		// error), so it is the backend's error before any of the answer,
		// as an error event first in a stream is (firstEventError); vLLM's
		// ErrorResponse too, a 429 there a refusal for load as in a whole
		// answer (errorBody). The path of such answers alone pays the
		// search.
		if ev := errorBody(got); ev != nil {
			ev.whole = true
			x.held = nil
			*bp = got[:0]
			p.bufs.Put(bp)
			resp.Body.Close()
			x.releaseReader()
			return nil, ev.class(), ev
		}
		// One whole answer of the kind asked for (a backend, or a proxy
		// in front of it, that ignores "stream"): relayed as the stream
		// the client asked for (relayWholeAsStream), where the SDKs read
		// no event from it. Any other JSON is no answer to the stream.
		if x.wholeStream = isWholeAnswerFor(x.r.URL.Path, got); x.wholeStream {
			return resp, class, err
		}
		if gjson.ValidBytes(got) {
			x.held = nil
			*bp = got[:0]
			p.bufs.Put(bp)
			resp.Body.Close()
			x.releaseReader()
			return nil, "upstream_invalid", &notStreamAnswerError{path: x.r.URL.Path}
		}
	}
	if x.heldOK || encoded || gjson.ValidBytes(got) {
		return resp, class, err
	}
	x.held = nil
	e := &invalidAnswerError{n: len(got), start: cleanText(string(got[:min(len(got), 256)]), 64)}
	if strings.ContainsFunc(e.start, func(r rune) bool { return r == utf8.RuneError || unicode.IsControl(r) }) {
		e.start = "" // binary: its bytes would say nothing
	}
	*bp = got[:0]
	p.bufs.Put(bp)
	resp.Body.Close()
	x.releaseReader()
	return nil, "upstream_invalid", e
}

// wholeAnswerError returns the error a whole chat, completions or
// Responses answer sent with a 200 is (overloaded when it refuses for
// load as an error event would: TGI's {"error":"Model is overloaded",
// "error_type":"overloaded"}, vLLM's error whose code is 429, a type or
// code saying rate limited), or nil: one without "choices"
// ("output" for a Responses answer) that has an "error" object or string
// (OpenAI's, vLLM's and llama.cpp's shape; TGI's), or whose "object" is
// "error" (vLLM's ErrorResponse, its "message"). f is what the walker
// read of b when walked; otherwise gjson reads it, as the fallback does
// (a Responses answer is never walked: readResponse reads it with gjson).
// An answer with choices or output is an answer, whatever else it
// carries.
func wholeAnswerError(b []byte, f *answerFields, walked, responses bool) *streamErrorEvent {
	answer := "choices"
	if responses {
		answer = "output"
	}
	if walked {
		if f.choices || !f.hasError && !f.errorObject {
			return nil
		}
	} else if !gjson.ValidBytes(b) || gjson.GetBytes(b, answer).Exists() {
		return nil
	}
	ev := errorBody(b)
	if ev != nil {
		ev.whole = true
	}
	return ev
}

// errorBody reads b, one whole JSON body, as an error: OpenAI's
// ({"error":…}, chatErrorEvent) or vLLM's ErrorResponse
// ({"object":"error","message":…,"code":…}); nil when it is neither.
func errorBody(b []byte) *streamErrorEvent {
	if ev := chatErrorEvent(b, false); ev != nil {
		return ev
	}
	if gjson.GetBytes(b, "object").Str != "error" {
		return nil
	}
	ev := chatErrorEvent(b, true) // its "message"
	// vLLM's ErrorResponse carries its HTTP status as its code, and its
	// type, at the top: a 429 there is a refusal for load.
	ev.overloaded = overloadedEvent(gjson.ParseBytes(b))
	return ev
}

// notStreamAnswerError is a streamed request's successful answer that is
// one whole JSON body, neither an error nor an answer of the kind asked
// for (isWholeAnswerFor): the SDKs would read no event from it.
type notStreamAnswerError struct{ path string }

func (e *notStreamAnswerError) Error() string {
	kind := "chat completion"
	switch e.path {
	case pathCompletions:
		kind = "text completion"
	case pathResponses:
		kind = "response"
	}
	return "one whole JSON body that is no " + kind + " instead of a stream"
}

// invalidAnswerError is a successful answer whose body is not JSON.
type invalidAnswerError struct {
	n     int    // the body's length
	start string // its first bytes, cleaned; "" when they are not text
}

func (e *invalidAnswerError) Error() string {
	if e.n == 0 {
		return "an empty body instead of a JSON answer"
	}
	s := "a body that is not JSON, or JSON cut short (" + strconv.Itoa(e.n) + " bytes"
	if e.start != "" {
		s += ", beginning " + strconv.Quote(e.start)
	}
	return s + ")"
}

// isJSONBody reports whether b is one JSON object or array, white space
// around it allowed.
func isJSONBody(b []byte) bool {
	t := bytes.TrimLeft(b, " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[') && gjson.ValidBytes(t)
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

// maxLongLine bounds what relayStream keeps of an event line longer than
// its reader to read it whole (text, usage); the line passes through
// whatever its length.
const maxLongLine = 4 << 20

// maxHeld bounds the lines relayStream holds back before an event's first
// data line; past it they pass through.
const maxHeld = 64 << 10

// streamReaders are relayStream's line readers, pooled: a stream's reader
// is as large as a long event line.
var streamReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, streamReaderSize) }}

// streamReaderSize is the size of a stream's reader.
const streamReaderSize = 8 << 10

// respReaderSize is the size of the reader a Responses stream moves to
// when its first events (response.created, response.in_progress: the
// response object, instructions and tools included), held in the reader
// until the first event of the answer (firstEvents), fill a stream's
// reader (growReader).
const respReaderSize = 64 << 10

// respReaders are the larger readers of Responses streams, pooled.
var respReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, respReaderSize) }}

// maxOpeningSize bounds the reader a Responses stream's opening events
// are held in (growReader): past it, the stream passes as it comes. The
// opening echoes the request's instructions and tools (response.created,
// and response.in_progress again), which the gateway held whole already
// (the request's body), so a stream that needs more than respReaderSize
// holds a reader of one to four times its opening, for its life. Such
// readers are not pooled: they are few, and a pool would keep them after
// the streams that needed them.
const maxOpeningSize = 1 << 20

// putReader returns a stream's reader to its pool; one larger than
// respReaderSize is dropped.
func putReader(br *bufio.Reader) {
	br.Reset(nil)
	switch br.Size() {
	case streamReaderSize:
		streamReaders.Put(br)
	case respReaderSize:
		respReaders.Put(br)
	}
}

// newStreamReader returns a pooled reader for a stream's answer (a
// Responses stream's too: firstEvents moves one whose opening events fill
// it to a larger one); exchange.releaseReader puts it back.
func newStreamReader() *bufio.Reader {
	return streamReaders.Get().(*bufio.Reader)
}

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
	br := x.br // holds the first line (awaitFirstLine), for a 2xx answer
	if br == nil {
		br = newStreamReader()
		br.Reset(resp.Body)
		x.br = br // relay returns it to the pool
	}
	var (
		suppress  bool // inside an event the client must not see
		done      bool // saw data: [DONE]
		pending   bool // wrote bytes not yet flushed
		ended     bool // pending holds the end of an event
		gotFirst  bool
		prefix    [refusalPrefix]byte
		prefixLen int
		clientErr bool
		inEvent   bool   // wrote a line of an event not yet ended
		long      []byte // a line longer than the reader, as far as read
		// lines splits the stream at \n, \r and \r\n, mixed as they come.
		lines = sseLines{br: br}
		// lastTo is where the last line went, for the \n of its \r\n
		// when that comes with the next read.
		lastTo lineDest
		// held are the lines of the current event before its first data
		// line ("event:", "id:", "retry:", and comments after them), kept
		// back while the proxy may hide the event (the usage chunk it asked
		// for): hiding it hides them too. Only when the client did not ask
		// for usage; an allocation only in streams that have such lines.
		held    []byte
		sawData bool // the current event has had a data line
		// namedError: the current event of a chat or completions stream
		// is named "error" (an "event: error" line).
		namedError bool
		// rs is what a Responses stream's events say (x.f.responses);
		// made for those alone, so a chat stream does not pay for it.
		rs *respStream
	)
	write := func(b []byte) {
		lastTo = toClient
		if clientErr {
			return
		}
		if !x.registered && (done || obs.ErrorClass != "" && obs.ErrorClass != "canceled") {
			// The event that ends the answer ([DONE], a Responses
			// stream's last event, an error event): a client that stops
			// reading there may rate the answer at once, before the
			// stream's body ends.
			p.answered(x, t, obs)
		}
		if _, err := x.w.Write(b); err != nil {
			clientErr = true
		}
		pending = true
	}
	flushHeld := func() {
		if len(held) > 0 {
			write(held)
			held = held[:0]
			inEvent = true
		}
	}
	var readErr error
	for {
		// Events are flushed as soon as no further line has arrived with
		// them: an event is never held waiting for the backend, and events
		// that arrived together (a backend or a proxy faster than the
		// client) go out in one write, as nginx passes on what it read.
		if ended && fl != nil && !clientErr && !lines.ready() {
			fl.Flush()
			pending, ended = false, false
		}
		line, cont, err := lines.next()
		if cont {
			// The \n of the last line's \r\n: it goes where that line went.
			switch lastTo {
			case toClient:
				write(line)
				// The end of an event, already flushed at its \r: its
				// \n goes out now too, not with the next event (a client
				// that waits for \r\n\r\n, as the OpenAI Python SDK does,
				// would see the event only then).
				ended = ended || !inEvent
			case toHeld:
				held = append(held, line...)
			}
			continue
		}
		lastTo = dropped
		if err == bufio.ErrBufferFull {
			// An event line longer than the buffer: pass it through in
			// parts, and keep it (up to maxLongLine) to read it whole.
			flushHeld()
			write(line)
			inEvent = true
			if len(long) < maxLongLine {
				long = append(long, line...)
			}
			continue
		}
		if err != nil && len(line) > 0 && line[len(line)-1] != '\n' && line[len(line)-1] != '\r' && long == nil &&
			!bytes.Equal(bytes.TrimSpace(bytes.TrimPrefix(line, []byte("data:"))), []byte("[DONE]")) {
			// The backend broke off in the middle of a line (a last
			// "data: [DONE]" without its newline aside): the client does
			// not get half a line, which would garble the error event that
			// follows.
			line = nil
		}
		whole := line // the line to read: a long line's parts joined
		if long != nil {
			whole = append(long, line...)
			long = nil
		}
		if len(line) > 0 {
			trimmed := bytes.TrimRight(whole, "\r\n")
			switch {
			case len(trimmed) == 0:
				if !suppress {
					flushHeld()
					if inEvent {
						write(line)
						ended = true
					}
					// Else the end of a block of comments alone (a
					// keep-alive), or a blank line after one: no event
					// (SSE dispatches none), but openai-go (v1.12)
					// takes it for an event with no data and fails the
					// stream ("unexpected end of JSON input"), as the
					// Python SDK does once the stream has sent an id.
					// Not passed on; the comment was.
				}
				suppress, inEvent, sawData, namedError = false, false, false, false
			case bytes.HasPrefix(trimmed, []byte("data:")):
				payload := bytes.TrimLeft(trimmed[5:], " ")
				sawData = true
				if bytes.Equal(payload, []byte("[DONE]")) {
					done = true
					flushHeld()
					write(line)
					inEvent = true
					break
				}
				if x.f.responses {
					// A Responses stream ends with its last event, not
					// [DONE]; its usage is in that event's response.
					if rs == nil {
						rs = new(respStream)
						rs.nextSeq = gjson.GetBytes(payload, "sequence_number").Int()
					}
					first, end := p.readResponseEvent(x, t, payload, obs, rs)
					rs.nextSeq++
					done = done || end
					if first && !gotFirst {
						gotFirst = true
						obs.TTFT = p.opt.Now().Sub(x.sent)
					}
					flushHeld()
					write(line)
					inEvent = true
					break
				}
				if bytes.Contains(payload, []byte(`"usage"`)) {
					u := gjson.GetBytes(payload, "usage")
					if u.Type == gjson.JSON {
						usageInto(u, obs)
						if !x.f.usageAsked && gjson.GetBytes(payload, "choices.#").Int() == 0 && len(whole) == len(line) {
							suppress = true
							held = held[:0]
							break
						}
					}
				}
				chars, unmeasured := obs.ResponseChars, x.unmeasured
				if readChunk(x, payload, obs, &prefix, &prefixLen) && len(whole) == len(line) && !namedError {
					// "error": null is no error, but openai-go raises an
					// event with any "error" member: it is left out.
					line = dropNullError(line, payload)
				}
				if namedError {
					// An event named "error" is the backend's error
					// event whatever its data holds; one without an
					// "error" member is passed on with one, as the SDKs
					// raise only that (bareErrorEvent).
					obs.ErrorClass = "upstream_5xx"
					if e := gjson.GetBytes(payload, "error"); !e.IsObject() && e.Type != gjson.String && len(whole) == len(line) {
						line = bareErrorEvent(payload)
					}
				}
				// The first token is the first chunk with content (text, a
				// tool call, a finish, reasoning text: vLLM's reasoning
				// parser and DeepSeek send delta.reasoning_content, others
				// delta.reasoning, which the walker counts in
				// x.unmeasured): not a role-only delta, nor an event
				// without choices such as Azure's prompt filter results.
				if !gotFirst && (obs.ResponseChars > chars || obs.FinishReason != "" || bytes.Contains(payload, []byte(`"tool_calls"`)) || x.unmeasured > unmeasured) {
					gotFirst = true
					obs.TTFT = p.opt.Now().Sub(x.sent)
				}
				flushHeld()
				write(line)
				inEvent = true
			default:
				if bytes.HasPrefix(trimmed, []byte("event:")) && !x.f.responses {
					// Only streams that name their events pay this.
					namedError = string(bytes.TrimSpace(trimmed[len("event:"):])) == "error"
				}
				switch {
				case suppress:
				case bytes.HasPrefix(trimmed, []byte("error:")) && !x.f.responses:
					// An older llama.cpp server's error event, a bare
					// "error: {...}" line: the backend failed mid-stream,
					// as with a data: error event (readChunk). Passed on as
					// one, which the SDKs raise; as it was, they ignored it
					// and took the stream for whole.
					obs.ErrorClass = "upstream_5xx"
					flushHeld()
					write(bareErrorEvent(trimmed[len("error:"):]))
					inEvent = true
				case !x.f.usageAsked && !sawData && len(held) < maxHeld && (len(held) > 0 || trimmed[0] != ':'):
					held = append(held, line...)
					lastTo = toHeld
				case trimmed[0] == ':' && !inEvent && len(held) == 0:
					// A comment outside an event (a keep-alive) passes
					// at once, flushed: the blank line that ends its
					// block does not follow it (above), and is what
					// flushed it.
					write(line)
					ended = true
				default:
					flushHeld()
					write(line)
					inEvent = true
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
	if rs != nil && !done {
		// A Responses stream is checked at its last event; one that
		// never came (the backend broke off, the client left) is checked
		// on the text so far, as a chat stream is above.
		rs.text.check(p, obs)
	}
	if !done && readErr == nil && rs == nil && obs.FinishReason != "" && gjson.GetBytes(x.body, "n").Int() <= 1 {
		// The backend ended its body properly after a finish reason but
		// sent no "data: [DONE]" (llama.cpp's server before it added one,
		// ik_llama.cpp without --send-done): the answer is whole. Taken for
		// broken, each such answer failed the version and the client's SDK
		// raised an error after its last token. Not with n > 1 choices:
		// the finish reason read is the first choice's, which says nothing
		// of the others'.
		done = true
		if inEvent {
			// The backend left its last event open: ended here, else
			// the client's SDK drops it (the finish reason logged).
			write([]byte{'\n'})
			if fl != nil && !clientErr {
				fl.Flush()
			}
		}
	}
	switch {
	case obs.ErrorClass == "upstream_5xx":
		// The backend's error event (readChunk), or a 5xx: the stream
		// ended as the backend's error, whatever came after it. The client
		// has the backend's reason; a second error event of the gateway's
		// would only hide it, and a client that left once it read the
		// error left because of it, not of its own accord.
		if !done && inEvent {
			// Ended, as the backend left it open, else the SDKs drop it.
			write([]byte{'\n'})
			if fl != nil && !clientErr {
				fl.Flush()
			}
		}
	case !clientErr && !done && x.r.Context().Err() != nil && errors.Is(context.Cause(x.r.Context()), ErrDrainCut):
		// The gateway's shutdown cut the stream off while its client
		// still reads: told so, as for a broken stream, or the end of the
		// chunked body that follows reads as the stream's end and the
		// SDKs take the part for the whole answer. Recorded as canceled
		// here, drain_cut by forward.
		obs.ErrorClass = "canceled"
		write(gatewayStreamError(nil, inEvent, x.f.responses, rs.seq(), sluice.CodeUnavailable, drainCutStreamMessage))
		if fl != nil {
			fl.Flush()
		}
	case clientErr || x.r.Context().Err() != nil && !done:
		obs.ErrorClass = "canceled"
	case !done && resp.StatusCode < 300:
		obs.ErrorClass = "stream_broken"
		msg := "the backend for " + t.ID + " broke off the stream"
		code := sluice.CodeUpstream
		if readErr != nil {
			if d, ok := idleCut(readErr); ok {
				// The backend went silent mid-stream (a wedged worker):
				// cut off at timeouts.idle, not held until the request's
				// time runs out.
				obs.ErrorClass, code = "stream_idle", sluice.CodeTimeout
				msg = idleMessage(t.ID, "its stream", d)
			} else if classify(x.r.Context(), readErr) == "timeout" {
				// The request's time ran out mid-stream, as it can for a
				// whole answer (a 504 there).
				obs.ErrorClass, code = "timeout", sluice.CodeTimeout
				msg = "the backend for " + t.ID + " did not finish the stream in time (timeouts.request)"
			} else {
				msg += " (" + bodyErrText(readErr) + ")"
			}
		}
		msg += "; retry the request"
		write(gatewayStreamError(nil, inEvent, x.f.responses, rs.seq(), code, msg))
		if fl != nil && !clientErr {
			fl.Flush()
		}
	}
}

// dropNullError returns the data line whose payload is payload without its
// null "error" member, ended as line is. On the path of such events alone
// (an allocation each: no backend is known to send them).
func dropNullError(line, payload []byte) []byte {
	out := append(make([]byte, 0, len(line)), "data: {"...)
	first := true
	gjson.ParseBytes(payload).ForEach(func(k, v gjson.Result) bool {
		if k.Str == "error" && v.Type == gjson.Null {
			return true
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(append(append(out, k.Raw...), ':'), v.Raw...)
		return true
	})
	return append(append(out, '}'), line[len(bytes.TrimRight(line, "\r\n")):]...)
}

// lineDest is where relayStream sent a line.
type lineDest uint8

const (
	dropped  lineDest = iota // hidden from the client
	toClient                 // written
	toHeld                   // held back with its event
)

// drainCutStreamMessage is the error event of a stream the gateway's
// shutdown cut off (ErrDrainCut) while its client still read it.
const drainCutStreamMessage = "the gateway shut down before the stream ended (its drain ran out of time with this request in flight): the answer is incomplete; send the request again"

// gatewayStreamError appends to ev the gateway's error event that ends a
// stream cut short (code, msg), after ending the event the backend left
// open (inEvent); responses: in the Responses API's form, numbered seq.
func gatewayStreamError(ev []byte, inEvent, responses bool, seq int64, code sluice.Code, msg string) []byte {
	if inEvent {
		ev = append(ev, '\n') // end the event the backend left open first
	}
	if responses {
		return appendRespStreamError(ev, seq, code, msg)
	}
	ev = append(ev, `data: {"error":{"message":`...)
	ev = appendJSONString(ev, msg)
	ev = append(ev, `,"type":"api_error","code":`...)
	ev = appendJSONString(ev, string(code))
	return append(ev, "}}\n\n"...)
}

// clientBodyClass is the error class of a 4xx answer with status: bad_request
// (sluice.ClassBadRequest, not the version's failure) when the backend
// refused as unparseable (400, or FastAPI's 422) a JSON body that is not
// valid JSON, else upstream_4xx. The whole body is checked here only, once
// a backend refused it, so that a request that succeeds costs no more than
// reading the fields the proxy routes on (x.body is still held: retries
// need it). A form (audio) is not JSON and is not checked.
func clientBodyClass(x *exchange, status int) string {
	if (status == http.StatusBadRequest || status == http.StatusUnprocessableEntity) && !x.f.form && !validJSON(x.body) {
		return sluice.ClassBadRequest
	}
	return "upstream_4xx"
}
