package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"
	"golang.org/x/net/http/httpguts"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/proxy"
)

// fastFront serves the data plane's plain-TCP listener (issue 4). Measured
// on the benchmark machine, net/http's server costs about as much per
// request as nginx's whole request (its per-request goroutine reading ahead
// for hang-ups, the deadline and header bookkeeping), while fasthttp's
// costs a third of it (bench/benchstat-fastfront.txt). So fasthttp reads
// every request and serves the hot path itself: a POST to the inference
// endpoints that does not ask for a stream goes through the same handler
// (client keys, then the proxy) with a lightweight http.Request and a
// buffering ResponseWriter. Any other request (a stream, the admin API, the
// UI, /metrics) hands its connection over to the net/http server, replaying
// the request it already read, and that server keeps the connection from
// then on with all its behaviour: streaming with flushes, hang-up
// detection, write deadlines, HTTP/1.1 details.
type fastFront struct {
	srv               *fasthttp.Server
	tcp               net.Listener
	hot               http.Handler
	slow              *http.Server
	ln                *handoffListener
	maxBody, maxAudio int64 // max_body_bytes, max_audio_body_bytes
	// category is the category header (canonical), whose value the proxy
	// keeps (requestHeader).
	category string
	logger   *slog.Logger
	writers  sync.Pool
	hangups  hangups
	// fresh holds the connections that have not sent a byte yet (nfresh
	// counts them, so that a request pays one atomic load when there are
	// none): one of them reaching the header timeout is closed without an
	// answer, as net/http closes it.
	fresh  sync.Map
	nfresh atomic.Int64
	// handing counts the hand-overs to net/http whose request net/http has
	// not begun to serve: shutdown waits for them before net/http's.
	handing handovers
	// beforePush, when set (tests), runs in a hijacked connection's
	// goroutine before the connection goes to net/http.
	beforePush func()
}

// hotPaths are the endpoints the fasthttp side serves itself (each maps to
// itself, so a request's path costs no allocation).
var hotPaths = map[string]string{"/v1/chat/completions": "/v1/chat/completions", "/v1/completions": "/v1/completions", "/v1/responses": "/v1/responses", "/v1/embeddings": "/v1/embeddings"}

func (s *Server) newFastFront(addr net.Addr, hot http.Handler, slow *http.Server) *fastFront {
	f := &fastFront{hot: hot, slow: slow, ln: newHandoffListener(addr), maxBody: s.Config.MaxBodyBytes, maxAudio: s.Config.MaxAudioBodyBytes, logger: s.logger,
		category: http.CanonicalHeaderKey(s.Config.CategoryHeader)}
	f.writers.New = func() any { return &fastWriter{h: make(http.Header, 8)} }
	read, write := s.requestBounds()
	f.srv = &fasthttp.Server{
		Handler:      f.handle,
		ErrorHandler: f.parseError,
		// The same bounds as the net/http server's (newHTTPServer): 10 s
		// for the headers, 5 min for the whole request, 2 min idle; the
		// answer must be written within the request timeout.
		ReadTimeout: 10 * time.Second,
		// The body's limit is the path's (proxy.BodyLimit): an audio
		// upload may be larger than a JSON body, and a JSON body is
		// refused on its Content-Length at max_body_bytes as before, not
		// read up to the audio limit first. One byte over it still reaches
		// the proxy, whose answer names the setting; a larger body gets
		// the same answer here (parseError, expect).
		HeaderReceived: func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
			limit, _ := f.bodyLimit(h)
			return fasthttp.RequestConfig{ReadTimeout: read, MaxRequestBodySize: int(limit) + 1}
		},
		WriteTimeout: write,
		IdleTimeout:  2 * time.Minute,
		// Headers must fit in the read buffer (431 above it).
		ReadBufferSize: frontReadBuffer,
		// Set per request by HeaderReceived; this is its largest.
		MaxRequestBodySize:           int(max(s.Config.MaxBodyBytes, s.Config.MaxAudioBodyBytes)) + 1,
		KeepHijackedConns:            true,
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		DisablePreParseMultipartForm: true,
		CloseOnShutdown:              true,
		// Errors name what is wrong without quoting the request: parseError
		// answers with them, and the request's key or cookies must not come
		// back in an answer.
		SecureErrorLogMessage: true,
		ConnState:             f.connState,
		ExpectHandler:         f.expect,
		Logger:                slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	return f
}

// bodyLimit is the body limit of the request whose head is h, and the
// setting that gives it (proxy.BodyLimit), by the path as sent.
func (f *fastFront) bodyLimit(h *fasthttp.RequestHeader) (int64, string) {
	uri := h.RequestURI()
	if i := bytes.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	return proxy.BodyLimit(proxy.AudioPath(uri), f.maxBody, f.maxAudio)
}

// serve runs both servers until shutdown.
func (f *fastFront) serve(s *Server, ln net.Listener) {
	f.tcp = ln
	s.serve(f.slow, f.ln)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := f.srv.Serve(&frontListener{Listener: ln, front: f}); err != nil && !errors.Is(err, net.ErrClosed) {
			s.logger.Error("serve", "err", err)
		}
	}()
}

// shutdown stops accepting, waits for the hot requests in flight, then for
// the requests handed to net/http to reach its handler, then for the
// handed-over connections.
//
// net/http's Shutdown drops a connection whose request it reads once
// Shutdown has begun (it closes it without an answer: a request that came
// after), and the hand-over listener refuses connections once closed. A
// request fasthttp read before the shutdown and handed over as it began
// (its hijack runs in a goroutine of its own, after fasthttp counts the
// connection done) came after neither: it is served, as net/http serves
// the requests it had read, and answered with Connection: close. One
// still on its way when ctx ends gets a 503 (handoffRefused).
func (f *fastFront) shutdown(ctx context.Context) error {
	// Closed here too: fasthttp closes only the listeners its Serve has
	// registered, and a shutdown right after the start can come first.
	f.tcp.Close()
	err := f.srv.ShutdownWithContext(ctx)
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	if werr := f.handing.wait(ctx); err == nil {
		err = werr
	}
	return errors.Join(err, f.slow.Shutdown(ctx))
}

func (f *fastFront) handle(ctx *fasthttp.RequestCtx) {
	if e := ctx.Request.Header.Peek("Expect"); len(e) > 0 && !httpguts.HeaderValuesContainsToken([]string{string(e)}, "100-continue") {
		// An expectation the server cannot meet: net/http answers 417
		// and closes without serving the request; so does the front.
		ctx.SetStatusCode(http.StatusExpectationFailed)
		ctx.SetConnectionClose()
		return
	}
	body := ctx.PostBody()
	// The path as sent must be the hot path itself: fasthttp cleans it
	// ("/v1//chat/completions", ".." and "." segments), where net/http's
	// mux redirects to the clean path.
	path := hotPaths[string(ctx.Path())] // the map's string: no allocation
	if !ctx.IsPost() || path == "" || string(ctx.URI().PathOriginal()) != path || asksStream(body) {
		f.handOff(ctx, body)
		return
	}
	w := f.writers.Get().(*fastWriter)
	w.ctx = ctx
	w.body.Reset(body)
	uri, query := path, ""
	if q := ctx.URI().QueryString(); len(q) > 0 {
		uri, query = string(ctx.RequestURI()), string(q)
	}
	if c := ctx.Conn(); c != w.conn {
		w.conn = c
		if fc, ok := c.(*frontConn); ok {
			w.remote = fc.remoteString()
		} else {
			w.remote = ctx.RemoteAddr().String()
		}
	}
	if host := ctx.Host(); string(host) != w.host {
		w.host = string(host)
	}
	base := &w.req
	*base = http.Request{
		Method:        http.MethodPost,
		URL:           &url.URL{Path: path, RawQuery: query},
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        requestHeader(&ctx.Request.Header, f.category),
		Body:          &w.body,
		ContentLength: int64(len(body)),
		Host:          w.host,
		RemoteAddr:    w.remote,
		RequestURI:    uri,
	}
	if !ctx.Request.Header.IsHTTP11() {
		base.Proto, base.ProtoMinor = "HTTP/1.0", 0
	}
	// The request's context ends when the handler returns or, for a
	// request still waiting after 100 ms, when the client hangs up
	// (hangups); net/http's server gives a handler the same.
	rctx, cancel := context.WithCancelCause(context.Background())
	r := base.WithContext(rctx)
	w.watch.conn, w.watch.cancel = ctx.Conn(), cancel
	f.hangups.add(&w.watch)
	f.serveHot(w, r)
	f.hangups.remove(&w.watch)
	cancel(nil)
	// A client the watcher saw leave keeps its connection all the same:
	// the end of stream it saw may be a half-close after requests
	// pipelined behind this one, which fasthttp has read and answers next,
	// as net/http answers every request it read (its own read ahead takes
	// a half-close for a hang-up too). A client that did leave ends the
	// connection at fasthttp's next read.
	w.finish()
	w.ctx, w.watch.conn, w.watch.cancel = nil, nil, nil
	w.watch.gone.Store(false)
	*base = http.Request{}
	w.body.Reset(nil)
	clear(w.h)
	w.code = 0
	f.writers.Put(w)
}

// asksStream reports whether body may ask for a stream, which the hot path
// cannot send: it has a "stream" key, or one spelled with \u escapes
// ("str\u0065am"), which the proxy's JSON reading decodes as well.
func asksStream(body []byte) bool {
	return bytes.Contains(body, []byte(`"stream"`)) ||
		bytes.Contains(body, []byte(`\u`)) && gjson.GetBytes(body, "stream").Exists()
}

// serveHot runs the handler; a panic is answered with a 500 and the
// connection closed, and logged, as net/http's server does for its
// handlers (fasthttp would let it end the process). The proxy's abort of
// an answer the model server broke off (http.ErrAbortHandler) is a 502.
func (f *fastFront) serveHot(w *fastWriter, r *http.Request) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		id := w.h.Get("X-Request-Id")
		w.ctx.Response.ResetBody()
		clear(w.h)
		w.code = 0
		if p == http.ErrAbortHandler {
			// The proxy aborts an answer passed through as it arrived
			// that the model server broke off (it is logged, as
			// stream_broken or timeout): net/http's server cuts the
			// connection on the part already sent. Nothing has left
			// here yet, so the client gets a whole error instead.
			if id != "" {
				w.h.Set("X-Request-Id", id)
			}
			proxy.WriteErrorStatus(w, http.StatusBadGateway, sluice.CodeUpstream, "the model server broke off its answer; the gateway passes on no partial answer")
			return
		}
		f.logger.Error("panic serving a request", "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
		w.h.Set("Connection", "close")
		proxy.WriteErrorStatus(w, http.StatusInternalServerError, sluice.CodeInternal, "the gateway failed on this request; it is logged")
	}()
	f.hot.ServeHTTP(w, r)
}

// requestHeader converts h as net/http would, Host aside, with two
// allocations for all the values (one string, one slice) instead of two
// per header. The value of the header keep (the category header) gets its
// own string: the proxy keeps it after the request (the feedback ring of
// the last 100,000 requests, the request log, the windows), and a part of
// the shared string would keep all the request's header values alive with
// it, the client's key among them.
func requestHeader(h *fasthttp.RequestHeader, keep string) http.Header {
	n, size := 0, 0
	for _, v := range h.All() {
		n++
		size += len(v)
	}
	var sb strings.Builder
	sb.Grow(size)
	for _, v := range h.All() {
		sb.Write(v)
	}
	all, vals := sb.String(), make([]string, n)
	hdr := make(http.Header, n)
	i, off := 0, 0
	for k, v := range h.All() {
		val := all[off : off+len(v)]
		off += len(v)
		key, ok := commonKeys[string(k)]
		if !ok {
			key = http.CanonicalHeaderKey(string(k))
		}
		if key == "Host" {
			continue
		}
		if key == keep {
			val = strings.Clone(val)
		}
		if vs, ok := hdr[key]; ok {
			hdr[key] = append(vs, val)
			continue
		}
		vals[i] = val
		hdr[key] = vals[i : i+1 : i+1]
		i++
	}
	return hdr
}

// commonKeys maps the header names clients usually send to their
// canonical form without allocating, as net/http does.
var commonKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Connection",
		"Content-Length", "Content-Type", "User-Agent", "X-User-Id", "X-Session-Id", "X-Request-Id",
		"X-Request-Category", "X-Sluice-Version", "Openai-Organization", "Openai-Project", "Host",
		"X-Stainless-Lang", "X-Stainless-Package-Version", "X-Stainless-Os", "X-Stainless-Arch",
		"X-Stainless-Runtime", "X-Stainless-Runtime-Version", "X-Stainless-Retry-Count",
		"X-Stainless-Async", "X-Stainless-Read-Timeout", "Traceparent", "Tracestate"} {
		m[k] = k
	}
	return m
}()

// connState keeps f.fresh: a connection is fresh from its accept until
// its first byte arrives (or it ends).
func (f *fastFront) connState(c net.Conn, st fasthttp.ConnState) {
	switch st {
	case fasthttp.StateNew:
		f.nfresh.Add(1)
		f.fresh.Store(c, struct{}{})
	case fasthttp.StateActive, fasthttp.StateHijacked, fasthttp.StateClosed:
		if f.nfresh.Load() > 0 {
			if _, ok := f.fresh.LoadAndDelete(c); ok {
				f.nfresh.Add(-1)
			}
		}
	}
}

// expect refuses a body announced with Expect: 100-continue that is over
// the limit before the client sends it, as net/http's server does (the
// proxy refuses on the Content-Length before reading); fasthttp would ask
// for it with a 100 Continue first.
func (f *fastFront) expect(ctx *fasthttp.RequestCtx) int {
	limit, setting := f.bodyLimit(&ctx.Request.Header)
	if int64(ctx.Request.Header.ContentLength()) <= limit {
		return fasthttp.StatusContinue
	}
	w := &fastWriter{ctx: ctx, h: make(http.Header, 2)}
	w.h.Set("Connection", "close")
	proxy.WriteError(w, proxy.TooLargeError(limit, setting))
	w.finish()
	return http.StatusRequestEntityTooLarge
}

// parseError answers a request fasthttp could not read, in the OpenAI
// error shape the proxy uses.
func (f *fastFront) parseError(ctx *fasthttp.RequestCtx, err error) {
	w := &fastWriter{ctx: ctx, h: make(http.Header, 2)}
	var e error
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		// fasthttp refuses on the Content-Length before reading the body;
		// a client still sending it would see the connection reset rather
		// than this answer, so read and drop what it sends (as net/http
		// does after a handler refused a body), within bounds.
		limit, setting := f.bodyLimit(&ctx.Request.Header)
		n := int64(ctx.Request.Header.ContentLength())
		if n < 0 { // chunked: as much as the limit again
			n = limit
		}
		drain(ctx.Conn(), n)
		e = proxy.TooLargeError(limit, setting)
	case errors.As(err, new(*fasthttp.ErrSmallBuffer)):
		w.h.Set("Connection", "close")
		proxy.WriteErrorStatus(w, http.StatusRequestHeaderFieldsTooLarge, sluice.CodeBadRequest, "the request headers are larger than 16 KiB")
		w.finish()
		return
	case errors.Is(err, os.ErrDeadlineExceeded):
		if _, ok := f.fresh.Load(ctx.Conn()); ok {
			// The client sent nothing: no request to answer. An answer
			// would be read by a client that opened the connection ahead
			// as the answer to its next request; net/http just closes.
			// (Closed here, fasthttp's write of the answer fails.)
			ctx.Conn().Close()
			return
		}
		// (fasthttp has reset the request by now: which part was late is
		// not known.)
		e = sluice.Errorf(sluice.CodeBadRequest, "the request did not arrive in time (the headers within 10 s, the request body within the gateway's request timeout, timeouts.request): send the whole request promptly")
	default:
		e = sluice.Errorf(sluice.CodeBadRequest, "the request could not be read (%v): send a well-formed HTTP/1.1 request", err)
	}
	w.h.Set("Connection", "close")
	proxy.WriteError(w, e)
	w.finish()
}

// drain reads and drops up to n bytes the client is still sending, until it
// pauses for 100 ms or 5 s have passed.
func drain(c net.Conn, n int64) {
	buf := make([]byte, 32<<10)
	end := time.Now().Add(5 * time.Second)
	for n > 0 {
		d := time.Now().Add(100 * time.Millisecond)
		if d.After(end) {
			d = end
		}
		c.SetReadDeadline(d)
		k, err := c.Read(buf)
		n -= int64(k)
		if err != nil {
			return
		}
	}
}

// handOff gives the connection to the net/http server, which reads the
// request again from a copy of it and keeps the connection afterwards.
func (f *fastFront) handOff(ctx *fasthttp.RequestCtx, body []byte) {
	h := &ctx.Request.Header
	raw := make([]byte, 0, 512+len(body))
	raw = append(raw, h.Method()...)
	raw = append(raw, ' ')
	raw = append(raw, h.RequestURI()...)
	raw = append(raw, ' ')
	raw = append(raw, h.Protocol()...)
	raw = append(raw, "\r\n"...)
	for k, v := range h.All() {
		// fasthttp has read the body (de-chunked) and answered any
		// Expect: 100-continue already.
		switch string(k) {
		case "Content-Length", "Transfer-Encoding", "Expect":
			continue
		}
		raw = append(raw, k...)
		raw = append(raw, ": "...)
		raw = append(raw, v...)
		raw = append(raw, "\r\n"...)
	}
	if len(body) > 0 || h.ContentLength() >= 0 && !h.IsGet() && !h.IsHead() {
		raw = append(raw, "Content-Length: "...)
		raw = appendInt(raw, len(body))
		raw = append(raw, "\r\n"...)
	}
	raw = append(raw, "\r\n"...)
	raw = append(raw, body...)
	fc, _ := ctx.Conn().(*frontConn)
	if fc != nil {
		fc.handedOff = true // net/http reads it from now on
		// Counted now, while fasthttp still serves the connection (its
		// Shutdown waits for that), not in the hijack's goroutine, which
		// runs after (see handovers).
		f.handing.add()
		fc.handing.Store(true)
	}
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(c net.Conn) {
		if f.beforePush != nil {
			f.beforePush()
		}
		counted := fc != nil && fc.handing.CompareAndSwap(true, false)
		f.give(c, raw, counted)
	})
}

func appendInt(b []byte, n int) []byte {
	var d [20]byte
	i := len(d)
	for {
		i--
		d[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(b, d[i:]...)
}

// fastWriter is the ResponseWriter of the hot path: it gathers the answer,
// which fasthttp writes when the handler returns. Flush is accepted and
// does nothing (the hot path is never a stream).
type fastWriter struct {
	ctx   *fasthttp.RequestCtx
	h     http.Header
	code  int
	body  requestBody
	req   http.Request
	watch watched
	// The previous request's connection, its remote address and host,
	// reused when the next request comes on the same connection.
	conn   net.Conn
	remote string
	host   string
}

func (w *fastWriter) Header() http.Header { return w.h }

func (w *fastWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *fastWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.ctx.Response.AppendBody(b)
	return len(b), nil
}

func (w *fastWriter) Flush() {}

// HoldsAnswer tells the proxy that nothing written here leaves before the
// handler returns: an answer it aborts reaches the client as serveHot's
// 502, and is recorded with that status.
func (w *fastWriter) HoldsAnswer() bool { return true }

func (w *fastWriter) finish() {
	resp := &w.ctx.Response
	if w.code == 0 {
		w.code = http.StatusOK
	}
	resp.SetStatusCode(w.code)
	// An answer without a Content-Type gets the one net/http's server
	// sniffs from its start (text/plain; charset=utf-8 for JSON), unless
	// it is encoded or has no body.
	if _, ok := w.h["Content-Type"]; !ok && len(w.h["Content-Encoding"]) == 0 && w.code != http.StatusNoContent && w.code != http.StatusNotModified && w.code >= 200 {
		if b := resp.Body(); len(b) > 0 {
			resp.Header.SetContentType(http.DetectContentType(b[:min(len(b), 512)]))
		}
	}
	for k, vs := range w.h {
		switch k {
		case "Content-Length", "Transfer-Encoding":
			continue
		case "Connection":
			for _, v := range vs {
				if v == "close" {
					w.ctx.SetConnectionClose()
				}
			}
			continue
		}
		for _, v := range vs {
			resp.Header.Add(k, v)
		}
	}
}

// requestBody is the hot request's body: the bytes fasthttp read.
type requestBody struct{ bytes.Reader }

func (*requestBody) Close() error { return nil }
