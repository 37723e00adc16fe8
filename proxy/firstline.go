package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"

	"github.com/sluicehq/sluice"
)

// awaitFirstLine holds a streamed 2xx answer until its body's first line
// (an event or a comment) has arrived, or its body ended after some bytes,
// before anything is sent to the client. vLLM sends a stream's headers
// before prefill, so a backend that dies or hangs after them would
// otherwise have had its headers flushed to the client, and could no
// longer be retried on stable. A body that fails first becomes a failed
// attempt like a connection failure ("stream_broken", or "timeout" when
// Options.FirstByteTimeout ran out), with no response, and so does one
// whose first event is the backend's error event ("upstream_5xx",
// firstEventError). The line waits in
// x.br, from which the relay reads; nothing is done per event after it.
// It takes and returns an attempt's outcome, as classified does.
func (p *Proxy) awaitFirstLine(x *exchange, resp *http.Response, class string, err error) (*http.Response, string, error) {
	if resp == nil || !x.f.stream {
		return resp, class, err
	}
	if resp.StatusCode >= 300 {
		firstByteArrived(resp) // an error's body is bounded as a whole answer's is
		if x.br != nil {
			// Left by an earlier attempt (the canary died before its first
			// line): the relay reads from x.br when it is set.
			x.br.Reset(resp.Body)
		}
		return resp, class, err
	}
	if x.br == nil {
		x.br = newStreamReader()
	}
	x.br.Reset(resp.Body)
	o := opening{resp: resp, body: resp.Body, holdUntil: x.sent.Add(min(p.opt.FirstByteTimeout, maxCommentHold)), now: p.opt.Now}
	if p.up == nil {
		// The own client's watchdog bounds the line with the header; a
		// transport bounds only the header.
		o.ft = armFirstByte(resp.Body, p.opt.FirstByteTimeout)
	}
	rerr := firstLine(x.br)
	var ev *streamErrorEvent
	if rerr == nil {
		ev, rerr = firstEventError(x, &o)
	}
	if o.ft != nil {
		o.timedOut = o.ft.stop()
	}
	timedOut := o.timedOut
	if rerr == nil && !timedOut {
		if ev != nil {
			// The backend failed after its 200 (vLLM, TGI and llama.cpp
			// send an error event then, a Responses backend its error
			// event or response.failed): nothing has reached the client,
			// so it is a failed attempt of the version, as a backend that
			// dies before its first event is.
			resp.Body.Close()
			x.releaseReader()
			if ev.overloaded {
				// TGI's "Model is overloaded" event, an error event
				// whose code is 429: a refusal for load, as a 429
				// before the stream would have been.
				return nil, sluice.ClassOverloaded, ev
			}
			return nil, "upstream_5xx", ev
		}
		firstByteArrived(resp)
		return resp, "", nil
	}
	// (A timer that fired as the line arrived has closed the body: the
	// rest of the stream is lost, so the attempt failed all the same.)
	resp.Body.Close()
	x.releaseReader() // the retry's answer gets a fresh one, or none
	class = classify(x.r.Context(), rerr)
	_, idle := idleCut(rerr)
	switch {
	case class == "canceled":
	case timedOut:
		class, rerr = "timeout", errFirstByteTimeout
	case idle:
		// Silent past timeouts.idle after a keep-alive comment, which
		// put that bound in force (opening.alive).
		class = "stream_idle"
	case class == "connect":
		class = "stream_broken"
	}
	return nil, class, rerr
}

// maxCommentHold bounds how long a stream's comments (keep-alives) are
// held before its first event of the answer: a comment arriving once the
// attempt has been out this long, or timeouts.first_byte when that is
// less, passes with what is held, so a backend that keeps its connection
// alive while it thinks keeps the client's alive too. 20 s and one
// keep-alive interval (15 s is usual: sse-starlette's ping, most SSE
// servers) stay under the 60 s idle timeout of the usual proxies and load
// balancers (nginx's proxy_read_timeout, an AWS ALB) between the gateway
// and its client; a backend that fails within it, the usual crash at
// prefill, is retried on stable.
const maxCommentHold = 20 * time.Second

// opening is the wait for a stream's first event of the answer
// (firstEvents): the answer, the body its reader reads, the first-byte
// timer of an answer through Options.Transport, and when a comment stops
// being held.
type opening struct {
	resp *http.Response // nil in a test that reads a body alone
	body io.Reader
	ft   *firstByteTimer // nil with the own client, or once stopped
	// holdUntil is when the comments held stop being held: the
	// attempt's send (exchange.sent) and timeouts.first_byte, at most
	// maxCommentHold. now is the clock exchange.sent was read from.
	holdUntil time.Time
	now       func() time.Time
	// timedOut: ft fired. alive: a comment came, which lifted the
	// first-byte bound and put timeouts.idle in force, as the first line
	// does when it decides.
	timedOut, alive bool
}

// keepAlive lifts o's first-byte bound and puts the idle bound in force:
// the backend sent a comment, so it is alive (a comment passed at once
// before, lifting the bound then), and may think for minutes before its
// first event of the answer.
func (o *opening) keepAlive() {
	o.alive = true
	if o.ft != nil {
		o.timedOut = o.ft.stop()
		o.ft = nil
	}
	if o.resp != nil {
		firstByteArrived(o.resp)
	}
}

var errFirstByteTimeout = errors.New("no first event within timeouts.first_byte")

// errEndedBeforeAnswer is a stream's end before its first event of the
// answer (firstEvents): a failed attempt, stream_broken.
var errEndedBeforeAnswer = errors.New("it ended before any of the answer")

// streamErrorEvent is a chat or completions stream whose first event was
// the backend's error event; its Error is the backend's message.
//
// whole marks the error of an answer sent whole with a 200 instead of a
// stream or a completion (wholeAnswerError, holdAnswer): the client is
// told that, not that a stream failed.
//
// overloaded marks an error event that refuses the request for load
// (overloadedEvent): the attempt is sluice.ClassOverloaded, as a 429 is.
type streamErrorEvent struct {
	msg        string
	whole      bool
	overloaded bool
}

func (e *streamErrorEvent) Error() string { return e.msg }

// class is the error class of an attempt that failed with e: a refusal
// for load (sluice.ClassOverloaded: retried on another endpoint, then on
// stable, and not counted by outlier ejection), else the version's failure.
func (e *streamErrorEvent) class() string {
	if e.overloaded {
		return sluice.ClassOverloaded
	}
	return "upstream_5xx"
}

// firstEventError returns the error event that is the first event x.br
// holds, or nil when that event is anything else. A chat or completions
// stream's first line is a content chunk, a comment or an event's field:
// a data line costs a search for "error" (no allocation), and only an
// error event is parsed. A bare "error: {...}" line (older llama.cpp
// servers named the event's field "error" rather than sending a data line)
// is an error event too, whatever it holds. A first line that is another
// field ("event: error", "id:", "retry:") or a comment is the head of an
// event or of a stream whose data line decides it: firstEventError waits
// for that line (firstEvents).
// A Responses stream waits past the events that carry nothing of the
// answer (response.created, response.in_progress, response.queued) for
// the first that does; an "error" event or response.failed there is the
// backend's error. The streams of answers that are not text pass through
// as before. err is the body's, when it failed while waited on.
func firstEventError(x *exchange, o *opening) (*streamErrorEvent, error) {
	if x.f.notText {
		return nil, nil
	}
	b, _ := x.br.Peek(x.br.Buffered())
	if !x.f.responses {
		line := b
		if i := bytes.IndexAny(line, "\r\n"); i >= 0 {
			line = line[:i]
		}
		if payload, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			if !bytes.Contains(payload, []byte(`"error"`)) {
				return nil, nil
			}
			return chatErrorEvent(payload, false), nil
		}
		if payload, ok := bytes.CutPrefix(line, []byte("error:")); ok {
			// An error event whatever it holds: its "error" member's
			// message as a data line's, else the line's own.
			if ev := chatErrorEvent(payload, false); ev != nil {
				return ev, nil
			}
			return newStreamErrorEvent(bareErrorMessage(payload)), nil
		}
		if !isEventField(line) && !bytes.HasPrefix(line, []byte(":")) {
			return nil, nil
		}
	}
	return firstEvents(x, o)
}

// growReader moves a Responses stream whose opening events fill its
// reader (response.created echoes the request's instructions and tools)
// to a larger one: what x.br holds, then the rest of body. From a
// stream's reader it moves to one of respReaderSize (pooled), from that
// to one four times as large, up to maxOpeningSize (made for the stream
// alone, dropped when it ends: exchange.releaseReader). Every Responses
// stream held 64 KiB for its whole life before, for the few that need it;
// the copies and the readers they make are paid by those alone.
func growReader(x *exchange, body io.Reader) {
	held := make([]byte, x.br.Buffered())
	x.br.Read(held) // what it holds, no read of body
	size := respReaderSize
	if x.br.Size() >= respReaderSize {
		size = min(4*x.br.Size(), maxOpeningSize)
	}
	putReader(x.br)
	if size == respReaderSize {
		x.br = respReaders.Get().(*bufio.Reader)
	} else {
		x.br = bufio.NewReaderSize(nil, size)
	}
	x.br.Reset(io.MultiReader(bytes.NewReader(held), body))
}

// isEventField reports whether line is an event's field other than data:
// its name, id or retry, which come before the data line in an event.
func isEventField(line []byte) bool {
	return bytes.HasPrefix(line, []byte("event:")) || bytes.HasPrefix(line, []byte("id:")) || bytes.HasPrefix(line, []byte("retry:"))
}

// firstEvents waits until x.br holds what decides whether the stream's
// first event is an error (scanFirstEvents), reading more of the body as
// it comes. A Responses stream whose opening events fill its reader moves
// to a larger one (growReader), up to maxOpeningSize. A stream whose
// deciding event is not within the reader's buffer passes as before:
// relayStream judges it. Comments before the deciding event (keep-alives)
// are held with the rest: the first lifts the first-byte bound
// (opening.keepAlive), and one that comes at or after o.holdUntil ends
// the wait, so that they reach the client while the backend thinks. It
// returns the body's error when the body fails first, and
// errEndedBeforeAnswer when an event stream (looksLikeSSE) ends first: a
// Responses stream that ended after response.created and
// response.in_progress was passed on as a 200 stream ending in the
// gateway's error event, never retried, where a chat stream that ends
// before its first event is a failed attempt. body is what x.br reads.
func firstEvents(x *exchange, o *opening) (*streamErrorEvent, error) {
	// scanned is how much of x.br is known not to decide, with comment
	// as scanned: bytes that came after it with no line's end in them
	// leave that as it was (scanFirstEvents reads whole lines), so they
	// are searched for one once and the whole is not scanned again. An
	// opening of up to maxOpeningSize arriving in small reads was scanned
	// whole after each: 0.8 s of CPU for 900 KiB in 1 KiB reads
	// (BenchmarkFirstEvents_HugeOpeningSmallReads), 5 ms now.
	scanned, comment := 0, false
	for {
		n := x.br.Buffered()
		b, _ := x.br.Peek(n)
		if scanned == 0 || bytes.IndexAny(b[scanned:], "\r\n") >= 0 {
			var ev *streamErrorEvent
			var decided bool
			ev, decided, comment = scanFirstEvents(b, x.f.responses)
			if decided {
				return ev, nil
			}
		}
		scanned = n
		if comment {
			if !o.alive {
				o.keepAlive()
			}
			if !o.now().Before(o.holdUntil) {
				// Kept alive this long: pass what is held.
				return nil, nil
			}
		}
		if n == x.br.Size() {
			if !x.f.responses || n >= maxOpeningSize {
				return nil, nil
			}
			growReader(x, o.body)
			scanned = 0 // what it held is read again into the new one
			continue
		}
		if _, err := x.br.Peek(n + 1); err != nil && x.br.Buffered() == n {
			if err == io.EOF {
				if !looksLikeSSE(x.br) {
					// A whole answer sent for a stream (an error, a
					// page): relay judges it (isEventStream).
					return nil, nil
				}
				// An event stream that ended before what decides: what
				// came (a Responses stream's response.created and
				// response.in_progress, an event's field) holds nothing
				// of the answer, so the attempt failed as one that sent
				// nothing did.
				return nil, errEndedBeforeAnswer
			}
			return nil, err
		}
	}
}

// scanFirstEvents reads the events at the start of b, the stream's first
// bytes: decided is false while b ends before what decides. A chat or
// completions stream is decided by its first data line: an error event
// when its event is named "error" or it has an "error" member that is not
// null. A Responses stream is decided by its first data line whose type is
// not response.created, response.in_progress or response.queued: an
// error when that type is "error" (or the event is named so) or
// response.failed. A line that is no event's field decides too. A comment
// does not (a keep-alive carries nothing the client needs before the
// answer): comment says one was seen.
func scanFirstEvents(b []byte, responses bool) (ev *streamErrorEvent, decided, comment bool) {
	var name []byte // the current event's name
	for i := 0; i < len(b); {
		j := bytes.IndexAny(b[i:], "\r\n")
		if j < 0 {
			return nil, false, comment
		}
		line, end := b[i:i+j], i+j+1
		if b[i+j] == '\r' {
			if end == len(b) {
				// The \n of a \r\n may be on its way: the next line
				// cannot be told from a blank one yet.
				b = b[:i+j]
			} else if b[end] == '\n' {
				end++
			}
		}
		i = end
		switch {
		case len(line) == 0:
			name = nil // the end of an event (one without data: no event)
		case line[0] == ':':
			comment = true
		case bytes.HasPrefix(line, []byte("data:")):
			payload := line[len("data:"):]
			named := string(bytes.TrimSpace(name)) == "error"
			if !responses {
				return chatErrorEvent(payload, named), true, comment
			}
			switch typ := gjson.GetBytes(payload, "type").Str; typ {
			case "response.created", "response.in_progress", "response.queued":
				// Nothing of the answer yet: the next event decides.
			case "error":
				return respErrorEvent(payload, ""), true, comment
			case "response.failed":
				return respErrorEvent(payload, "response."), true, comment
			default:
				if named && typ == "" {
					return respErrorEvent(payload, ""), true, comment
				}
				return nil, true, comment
			}
		case bytes.HasPrefix(line, []byte("event:")):
			name = line[len("event:"):]
		case bytes.HasPrefix(line, []byte("id:")), bytes.HasPrefix(line, []byte("retry:")):
		default:
			return nil, true, comment
		}
	}
	return nil, false, comment
}

// chatErrorEvent returns the error a chat or completions event's data
// payload is, or nil: one with an "error" member that is an object (vLLM,
// llama.cpp, OpenAI: its message) or a string (TGI), or any payload of an
// event named "error" (its "message", else its text).
func chatErrorEvent(payload []byte, named bool) *streamErrorEvent {
	e := gjson.GetBytes(payload, "error")
	switch {
	case e.IsObject():
		ev := newStreamErrorEvent(e.Get("message").String())
		ev.overloaded = overloadedEvent(e)
		return ev
	case e.Type == gjson.String:
		ev := newStreamErrorEvent(e.Str)
		// TGI's {"error":"Model is overloaded","error_type":"overloaded"}.
		ev.overloaded = overloadWord(gjson.GetBytes(payload, "error_type").Str)
		return ev
	case named:
		if m := gjson.GetBytes(payload, "message"); m.Type == gjson.String {
			return newStreamErrorEvent(m.Str)
		}
		return newStreamErrorEvent(bareErrorMessage(payload))
	}
	return nil // no error member, or a null one
}

// overloadedEvent reports whether an error object sent in a stream before
// any of the answer refuses the request for load, as a 429 would have had
// the backend not begun its stream: its code is 429 (vLLM's error events
// carry the HTTP status as their code), or its code or type says
// overloaded or rate limited (OpenAI's rate_limit_exceeded, an
// overloaded_error). A 503 code stays the version's failure, as a 503
// without Retry-After does: a stream gives no Retry-After to tell a
// server's "come back" from a broken one. On the error path alone.
func overloadedEvent(e gjson.Result) bool {
	c := e.Get("code")
	if c.Type == gjson.Number && c.Num == 429 || c.Str == "429" {
		return true
	}
	return overloadWord(c.Str) || overloadWord(e.Get("type").Str)
}

// overloadWord reports whether an error's code or type names a refusal for
// load: overloaded, rate limit(ed), too many requests, in any case, with
// or without separators.
func overloadWord(s string) bool {
	if s == "" {
		return false
	}
	s = strings.ToLower(strings.NewReplacer("_", "", "-", "", " ", "", ".", "").Replace(s))
	return strings.Contains(s, "overload") || strings.Contains(s, "ratelimit") || strings.Contains(s, "toomanyrequests")
}

// respErrorEvent returns the error of a Responses stream's "error" event
// (its message; an "error" object's, as some servers send) or, with at
// "response.", of a response.failed event (its response's error).
func respErrorEvent(payload []byte, at string) *streamErrorEvent {
	m := gjson.GetBytes(payload, at+"message")
	if m.Type != gjson.String {
		m = gjson.GetBytes(payload, at+"error.message")
	}
	msg := m.Str
	if msg == "" && at != "" {
		msg = "the response failed"
		if c := gjson.GetBytes(payload, at+"error.code"); c.Type == gjson.String {
			msg += " (" + c.Str + ")"
		}
	}
	ev := newStreamErrorEvent(msg)
	if at == "" {
		ev.overloaded = overloadedEvent(gjson.ParseBytes(payload)) || overloadedEvent(gjson.GetBytes(payload, "error"))
	} else {
		ev.overloaded = overloadedEvent(gjson.GetBytes(payload, at+"error"))
	}
	return ev
}

// newStreamErrorEvent is the error event whose message is msg, cleaned.
func newStreamErrorEvent(msg string) *streamErrorEvent {
	if msg = cleanText(msg, maxUpstreamErrorText); msg == "" {
		msg = "no message"
	}
	return &streamErrorEvent{msg: msg}
}

// bareErrorMessage is the message of a bare "error:" line's value v: the
// "message" of an object (llama.cpp's {"code":500,"message":...,"type":...}),
// a string's text, else the line as sent.
func bareErrorMessage(v []byte) string {
	e := gjson.ParseBytes(v)
	switch {
	case e.IsObject():
		return e.Get("message").String()
	case e.Type == gjson.String:
		return e.Str
	}
	return string(bytes.TrimSpace(v))
}

// bareErrorEvent is the data line (ended) a bare "error:" line with value v
// is passed on as mid-stream, since the SDKs ignore a field named "error"
// and would take the stream for whole: v as is when it has an "error"
// member, v as the error when it is another object, else an error whose
// message is v's text (bareErrorMessage). On the error path alone.
func bareErrorEvent(v []byte) []byte {
	v = bytes.TrimSpace(v)
	ev := []byte("data: ")
	e := gjson.ParseBytes(v)
	switch {
	case e.IsObject() && e.Get("error").Exists():
		ev = append(ev, v...)
	case e.IsObject():
		ev = append(append(append(ev, `{"error":`...), v...), '}')
	default:
		ev = append(ev, `{"error":{"message":`...)
		ev = appendJSONString(ev, cleanText(bareErrorMessage(v), maxUpstreamErrorText))
		ev = append(ev, `,"type":"server_error"}}`...)
	}
	return append(ev, '\n')
}

// firstLine waits until br holds a whole line, or a line longer than its
// buffer, or the body ended after at least one byte. It returns the body's
// error otherwise: the end of a body that sent nothing (io.EOF), a reset,
// a timeout. A line ends at \n or \r, as server-sent events do.
func firstLine(br *bufio.Reader) error {
	for {
		n := br.Buffered()
		b, _ := br.Peek(n)
		if bytes.IndexByte(b, '\n') >= 0 || bytes.IndexByte(b, '\r') >= 0 || n == br.Size() {
			return nil
		}
		if _, err := br.Peek(n + 1); err != nil {
			switch {
			case br.Buffered() > n:
				// Bytes came with the error: look at them first.
			case err == io.EOF && n > 0:
				return nil
			default:
				return err
			}
		}
	}
}

// firstByteArrived lifts the own client's first-byte bound, which the
// watchdog kept on a stream's answer past its header (upRequest.holdFirstByte),
// and puts the idle bound in force (idle.go), on either client.
func firstByteArrived(resp *http.Response) {
	switch b := resp.Body.(type) {
	case *upBody:
		b.c.pool.owner.watchdog.headerArrived(b.c)
	case *idleBody:
		b.on.Store(true)
	}
}

// firstByteTimer closes a body whose first line has not come within the
// first-byte timeout, when the answer came through Options.Transport.
// Pooled with its timer, so that a stream costs no allocation for it.
type firstByteTimer struct {
	t     *time.Timer
	mu    sync.Mutex
	body  io.Closer // nil once stopped
	fired bool
}

var firstByteTimers = sync.Pool{New: func() any {
	ft := &firstByteTimer{}
	ft.t = time.AfterFunc(time.Hour, ft.fire)
	ft.t.Stop()
	return ft
}}

func (ft *firstByteTimer) fire() {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if ft.body != nil {
		ft.fired = true
		ft.body.Close() // the blocked read returns
	}
}

// armFirstByte starts a timer that closes body after d.
func armFirstByte(body io.Closer, d time.Duration) *firstByteTimer {
	ft := firstByteTimers.Get().(*firstByteTimer)
	ft.mu.Lock()
	ft.body, ft.fired = body, false
	ft.mu.Unlock()
	ft.t.Reset(d)
	return ft
}

// stop stops ft, returns it to its pool, and reports whether it fired.
// A timer that could not be stopped (it fired, or is firing) is not pooled:
// its callback may still be on its way, and must not close the body of the
// next request the pool would give it to.
func (ft *firstByteTimer) stop() bool {
	stopped := ft.t.Stop()
	ft.mu.Lock()
	fired := ft.fired
	ft.body = nil
	ft.mu.Unlock()
	if stopped {
		firstByteTimers.Put(ft)
	}
	return fired
}
