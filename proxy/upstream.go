package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/sockpeek"
)

// upstream is the proxy's own HTTP/1.1 client for backends, used unless
// Options.Transport is set. It does what http.Transport does for this one
// job at a fraction of the cost: the request is written and the answer's
// header read on the handler's goroutine (http.Transport hands each
// request to two goroutines per connection, and the switches between them
// cost more than the proxy's own work), the request head and body go out
// in one write from a buffer the connection keeps, and the body is read
// straight from the connection's buffer. Measured on loopback with a
// fakellm backend it costs under half the CPU per request of a tuned
// http.Transport (bench/benchstat-transport.txt).
//
// It speaks HTTP/1.1 with keep-alive (plain or TLS), content-length,
// chunked and close-delimited bodies, skips 1xx answers, bounds the TLS
// handshake and the wait for the answer's header with firstByte and the
// answer's silence after it with idle (idle.go), and aborts a request
// whose context ends, body included. An idle connection
// is peeked at before it carries a request, and one the backend closed
// while idle (uvicorn and llama.cpp close theirs after 5 s) is dropped. A
// request whose write fails on a reused connection is sent again once, on
// a new connection; one written whole is never sent again, since the
// backend may have processed it (http.Transport does not resend a POST
// either). A backend that answers before reading the whole request and
// closes (a 413 over its payload limit, a 401 from an auth proxy) has its
// answer read even though the write failed. One goroutine closes
// connections idle longer than idleTimeout, in every pool, so a backend
// that gets no more traffic (a retired version) keeps none.
type upstream struct {
	dialer    net.Dialer
	firstByte time.Duration
	// idle bounds an answer's silence once it has begun (idle.go); 0 for
	// no bound.
	idle time.Duration
	// maxIdle bounds the idle connections kept per backend.
	maxIdle int
	// idleTimeout closes connections idle for longer.
	idleTimeout time.Duration

	// endpoints caches parsed backend base URLs; copied on write under mu.
	endpoints atomic.Pointer[map[string]*endpoint]
	// backends gives the headers each endpoint's requests carry; nil
	// gives the URL's credentials only.
	backends *Backends
	mu       sync.Mutex
	// lastDate is the last Date header seen, shared by answers of the same
	// second.
	lastDate atomic.Pointer[string]
	// watchdog bounds the requests in flight.
	watchdog watchdog
	// sweeping: the idle sweeper runs.
	sweeping atomic.Bool
}

// endpoint is a backend base URL as the client needs it, everything a
// request to it sends besides the client's own worked out once.
type endpoint struct {
	pool   *hostPool
	prefix string // path prefix the API path is appended to
	query  string // "?" and the URL's query, sent after the API path; or ""
	// deployment is true for an Azure OpenAI deployment's endpoint
	// (sluice.IsDeployment), whose API paths go without their /v1.
	deployment bool
	// lines are the header lines the endpoint's requests carry (Backends:
	// its credentials, the configured headers), "Name: value\r\n" each;
	// replace are their names, left out of the client's headers.
	lines   []byte
	replace []string
	// rules are the Backends' rules lines was made from: a request that
	// finds others in force (a SIGHUP) makes the endpoint again.
	rules *backendRules
	err   error
}

// replaces reports whether the client's header k gives way to one of the
// endpoint's own.
func (e *endpoint) replaces(k string) bool {
	for _, n := range e.replace {
		if n == k {
			return true
		}
	}
	return false
}

// hostPool holds the idle connections to one backend address.
type hostPool struct {
	owner *upstream
	addr  string // host:port to dial
	host  string // Host header
	tls   *tls.Config
	mu    sync.Mutex
	idle  []*upConn // most recently used last
}

// upConn is one keep-alive connection to a backend.
type upConn struct {
	pool      *hostPool
	nc        net.Conn
	br        *bufio.Reader
	wbuf      []byte
	idleSince time.Time
	// reusable is false once the connection must not carry another
	// request (Connection: close, a body read to EOF, an error).
	reusable bool
	// watch is the watchdog's view of the request in progress.
	watch watchState
	body  upBody
}

func newUpstream(connect, firstByte time.Duration, backends *Backends) *upstream {
	u := &upstream{
		backends:    backends,
		dialer:      net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second},
		firstByte:   firstByte,
		maxIdle:     1024,
		idleTimeout: 90 * time.Second,
	}
	m := map[string]*endpoint{}
	u.endpoints.Store(&m)
	return u
}

// endpointOf returns the parsed endpoint, parsing it on first use.
func (u *upstream) endpointOf(raw string) *endpoint {
	rules := u.backends.load()
	if e := (*u.endpoints.Load())[raw]; e != nil && e.rules == rules {
		return e
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	old := *u.endpoints.Load()
	if e := old[raw]; e != nil && e.rules == rules {
		return e
	}
	e := &endpoint{rules: rules}
	pu, err := url.Parse(raw)
	switch {
	case err != nil:
		reason := "it does not parse"
		var ue *url.Error
		if errors.As(err, &ue) {
			reason = ue.Err.Error() // without the URL, which the url.Error quotes
		}
		e.err = &endpointError{reason: reason}
	case pu.Scheme != "http" && pu.Scheme != "https", pu.Host == "":
		e.err = &endpointError{reason: "want http://host:port or https://host"}
	default:
		e.prefix = strings.TrimSuffix(strings.TrimSuffix(pu.EscapedPath(), "/"), "/v1")
		e.deployment = sluice.IsDeployment(e.prefix)
		if pu.RawQuery != "" {
			e.query = "?" + pu.RawQuery
		}
		h := rules.header(raw)
		e.replace = slices.Sorted(maps.Keys(h))
		for _, k := range e.replace {
			for _, v := range h[k] {
				e.lines = append(e.lines, k+": "+v+"\r\n"...)
			}
		}
		addr := pu.Host
		if pu.Port() == "" {
			port := "80"
			if pu.Scheme == "https" {
				port = "443"
			}
			addr = net.JoinHostPort(pu.Hostname(), port)
		}
		// Endpoints that share an address share its connections (and an
		// endpoint made again keeps its own).
		for _, other := range old {
			if other.pool != nil && other.pool.addr == addr && (other.pool.tls != nil) == (pu.Scheme == "https") {
				e.pool = other.pool
			}
		}
		if e.pool == nil {
			e.pool = &hostPool{owner: u, addr: addr, host: pu.Host}
			if pu.Scheme == "https" {
				e.pool.tls = &tls.Config{ServerName: pu.Hostname(), NextProtos: []string{"http/1.1"}}
			}
		}
	}
	next := make(map[string]*endpoint, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[raw] = e
	u.endpoints.Store(&next)
	return e
}

// upRequest is one request to a backend.
type upRequest struct {
	path   string
	header http.Header // the client's headers; hop-by-hop ones are dropped
	reqID  string
	shadow bool
	body   []byte
	// deadline, when set, bounds the whole exchange, body included.
	deadline time.Time
	// holdFirstByte keeps the first-byte bound on past the answer's header,
	// until the caller lifts it (firstByteArrived): a stream's first event
	// must come within it too.
	holdFirstByte bool
	// traced replaces the client's Traceparent and Tracestate with
	// traceparent and tracestate (the attempt's span; either may be "").
	traced                  bool
	traceparent, tracestate string
}

// roundTrip sends r to the backend at endpoint raw and returns its answer,
// whose Body must be closed.
func (u *upstream) roundTrip(ctx context.Context, raw string, r *upRequest) (*http.Response, error) {
	e := u.endpointOf(raw)
	if e.err != nil {
		return nil, e.err
	}
	for try := 0; ; try++ {
		c, reused, err := u.conn(ctx, e.pool, try > 0, r.deadline)
		if err != nil {
			return nil, err
		}
		resp, sent, err := c.send(ctx, u, e, r)
		if err == nil {
			return resp, nil
		}
		c.close()
		if reused && !sent && try == 0 && ctx.Err() == nil && staleConnError(err) {
			continue
		}
		return nil, err
	}
}

// staleConnError reports whether err is what a request on a connection the
// backend had closed meets.
func staleConnError(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// conn returns an idle connection to p that is still open, or a new one
// (always a new one when dial is set). deadline, when set, bounds a TLS
// handshake as well as firstByte does.
func (u *upstream) conn(ctx context.Context, p *hostPool, dial bool, deadline time.Time) (*upConn, bool, error) {
	for !dial {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if idle := time.Since(c.idleSince); idle > u.idleTimeout || !c.idleUsable(idle) {
			c.nc.Close()
			continue
		}
		return c, true, nil
	}
	nc, err := u.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, false, err
	}
	if p.tls != nil {
		// A backend that accepts the connection and never answers the
		// handshake (a frozen process) is given what the answer's header
		// would be given; the request's context alone may never end.
		hd := time.Now().Add(u.firstByte)
		if !deadline.IsZero() && deadline.Before(hd) {
			hd = deadline
		}
		nc.SetDeadline(hd)
		tc := tls.Client(nc, p.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, false, &handshakeError{err}
		}
		nc.SetDeadline(time.Time{})
		nc = tc
	}
	c := &upConn{pool: p, nc: nc, wbuf: make([]byte, 0, 2048)}
	c.br = bufio.NewReaderSize(connReader{c}, 8<<10)
	c.body.c = c
	return c, false, nil
}

// handshakeError is a TLS handshake with the backend that failed (or was
// canceled): like a dial error, nothing of the request was sent (unsent).
type handshakeError struct{ err error }

func (e *handshakeError) Error() string { return e.err.Error() }
func (e *handshakeError) Unwrap() error { return e.err }

// connReader is what an upConn's buffer reads the connection through: it
// marks each read for the watchdog's idle bound (idleMark), and says so
// when that bound cut the read off.
type connReader struct{ c *upConn }

func (r connReader) Read(p []byte) (int, error) {
	c := r.c
	c.watch.mark.waits.Add(1)
	n, err := c.nc.Read(p)
	c.watch.mark.waits.Add(1)
	if err != nil {
		if d := c.pool.owner.watchdog.idleCutOf(c); d > 0 {
			err = &idleError{d: d}
		}
	}
	return n, err
}

// put returns c to its pool, or closes it when it cannot carry another
// request or the pool is full.
func (u *upstream) put(c *upConn) {
	if !c.reusable {
		c.nc.Close()
		return
	}
	c.idleSince = time.Now()
	p := c.pool
	p.mu.Lock()
	full := len(p.idle) >= u.maxIdle
	if !full {
		p.idle = append(p.idle, c)
	}
	p.mu.Unlock()
	if full {
		c.nc.Close()
		return
	}
	if !u.sweeping.Load() && u.sweeping.CompareAndSwap(false, true) {
		go u.sweep()
	}
}

// peekIdleAfter is how long a connection must have been idle for a peek
// before reuse. Under load connections come back within microseconds, and
// a peek (a system call) on each cost 3% of the gateway's CPU per request
// (bench/benchstat-upstream-peek.txt); a backend closes idle connections
// after seconds, and one that closes right after answering has had its
// close arrive within a millisecond on a local network.
const peekIdleAfter = time.Millisecond

// idleUsable reports whether c, idle for idle, can carry a request: nothing
// of an earlier answer is left in its buffer, and a peek finds the backend
// has neither closed it nor sent anything unasked (on TLS, bytes waiting
// may be a session ticket, so only a close counts).
func (c *upConn) idleUsable(idle time.Duration) bool {
	if c.br.Buffered() > 0 {
		return false
	}
	if idle < peekIdleAfter {
		return true
	}
	switch sockpeek.Peek(c.nc) {
	case sockpeek.Closed:
		return false
	case sockpeek.Data:
		return c.pool.tls != nil
	}
	return true
}

// sweepEvery is how often the sweeper looks at idle connections, at most.
const sweepEvery = 5 * time.Second

// sweep closes, in every pool, the idle connections idle longer than
// idleTimeout or that the backend closed, until no idle connection is left
// anywhere; put starts it again. Without it a backend that gets no more
// traffic would keep its idle connections for the gateway's life (or, once
// it closed them, the gateway its sockets in CLOSE_WAIT).
func (u *upstream) sweep() {
	t := time.NewTicker(min(sweepEvery, max(u.idleTimeout/4, time.Millisecond)))
	defer t.Stop()
	for range t.C {
		idle := 0
		var drop []*upConn
		for _, p := range u.pools() {
			now := time.Now()
			p.mu.Lock()
			kept := p.idle[:0]
			for _, c := range p.idle {
				if now.Sub(c.idleSince) > u.idleTimeout || sockpeek.Peek(c.nc) == sockpeek.Closed {
					drop = append(drop, c)
				} else {
					kept = append(kept, c)
				}
			}
			clear(p.idle[len(kept):])
			p.idle = kept
			idle += len(kept)
			p.mu.Unlock()
		}
		for _, c := range drop {
			c.nc.Close()
		}
		if idle == 0 {
			// A put that pooled a connection after the count either saw
			// sweeping still set and started nothing (its connection is
			// counted here, and this sweeper goes on) or sees it cleared
			// and starts the next sweeper (and this one stops).
			u.sweeping.Store(false)
			if u.idleCount() == 0 || !u.sweeping.CompareAndSwap(false, true) {
				return
			}
		}
	}
}

// idleCount is the number of idle connections in all pools.
func (u *upstream) idleCount() int {
	n := 0
	for _, p := range u.pools() {
		p.mu.Lock()
		n += len(p.idle)
		p.mu.Unlock()
	}
	return n
}

// pools returns each connection pool once (endpoints that share an
// address share a pool).
func (u *upstream) pools() []*hostPool {
	var out []*hostPool
	for _, e := range *u.endpoints.Load() {
		if e.pool != nil && !slices.Contains(out, e.pool) {
			out = append(out, e.pool)
		}
	}
	return out
}

func (c *upConn) close() {
	c.reusable = false
	c.nc.Close()
}

// aLongTimeAgo is a deadline in the past, which makes blocked reads and
// writes on a connection return at once.
var aLongTimeAgo = time.Unix(1, 0)

// maxKeptWriteBuf bounds the write buffer a connection keeps between
// requests; larger requests get a buffer of their own.
const maxKeptWriteBuf = 64 << 10

// send writes r on c and reads the answer's header. sent is true once the
// whole request was written: the backend may have processed it, so it
// must not be sent again.
func (c *upConn) send(ctx context.Context, u *upstream, e *endpoint, r *upRequest) (resp *http.Response, sent bool, err error) {
	b := c.wbuf[:0]
	b = append(b, "POST "...)
	b = append(b, e.prefix...)
	if e.deployment {
		b = append(b, sluice.DeploymentPath(r.path)...)
	} else {
		b = append(b, r.path...)
	}
	b = append(b, e.query...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.pool.host...)
	b = append(b, "\r\n"...)
	b = append(b, e.lines...)
	conn := r.header["Connection"]
	for k, vs := range r.header {
		if skipUpstreamHeader(k) || e.replaces(k) || len(conn) > 0 && httpguts.HeaderValuesContainsToken(conn, k) ||
			r.traced && (k == "Traceparent" || k == "Tracestate") {
			continue
		}
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	if r.traceparent != "" {
		b = append(b, "Traceparent: "...)
		b = append(b, r.traceparent...)
		b = append(b, "\r\n"...)
	}
	if r.tracestate != "" {
		b = append(b, "Tracestate: "...)
		b = append(b, r.tracestate...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "X-Request-Id: "...)
	b = append(b, r.reqID...)
	if r.shadow {
		b = append(b, "\r\n"+ShadowHeader+": true"...)
	}
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(r.body)), 10)
	b = append(b, "\r\n\r\n"...)
	head := len(b)
	if len(b)+len(r.body) <= maxKeptWriteBuf {
		b = append(b, r.body...)
	}
	if cap(b) <= maxKeptWriteBuf {
		c.wbuf = b[:0]
	}

	// The answer's header must come within firstByte (and the request's
	// deadlines); once it has, only the request's bound the body, unless
	// the caller holds the bound for a stream's first event.
	deadline := time.Now().Add(u.firstByte)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if !r.deadline.IsZero() && r.deadline.Before(deadline) {
		deadline = r.deadline
	}
	u.watchdog.watch(c, ctx, deadline, r.deadline, u.idle)
	fail := func(err error) (*http.Response, bool, error) {
		u.watchdog.unwatch(c)
		if ctx.Err() != nil {
			return nil, sent, ctx.Err()
		}
		return nil, sent, err
	}
	if head == len(b) && len(r.body) > 0 {
		bufs := net.Buffers{b, r.body}
		_, err = bufs.WriteTo(c.nc)
	} else {
		_, err = c.nc.Write(b)
	}
	if err != nil {
		var ne net.Error
		if ctx.Err() == nil && !(errors.As(err, &ne) && ne.Timeout()) {
			// The backend may have answered before reading the whole
			// request and closed (a 413 over its payload limit, a 401
			// from an auth proxy): what it sent is still readable after
			// the reset, and says more than the write's error.
			if resp, rerr := c.readHeader(); rerr == nil {
				c.reusable = false
				u.watchdog.headerArrived(c)
				return resp, true, nil
			}
		}
		return fail(err)
	}
	sent = true
	resp, err = c.readHeader()
	if err != nil {
		return fail(err)
	}
	if !r.holdFirstByte {
		u.watchdog.headerArrived(c)
	}
	return resp, true, nil
}

// skipUpstreamHeader reports whether a client header is not forwarded: the
// hop-by-hop ones, those the client connection owns, and those the proxy
// sets itself.
func skipUpstreamHeader(k string) bool {
	switch k {
	case "Host", "Content-Length", "X-Request-Id", "Connection", "Proxy-Connection", "Keep-Alive",
		"Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Accept-Encoding", "X-Sluice-Version", ShadowHeader:
		return true
	}
	return false
}

var errMalformed = errors.New("malformed HTTP response from the backend")

// readHeader reads the status line and header of the answer, skipping 1xx
// answers.
func (c *upConn) readHeader() (*http.Response, error) {
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			if err == bufio.ErrBufferFull {
				err = errMalformed
			}
			return nil, err
		}
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
			return nil, errMalformed
		}
		code, ok := parseStatus(line[9:12])
		if !ok {
			return nil, errMalformed
		}
		resp := &http.Response{
			StatusCode: code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: make(http.Header, 4), ContentLength: -1,
		}
		if line[7] == '0' {
			resp.Proto, resp.ProtoMinor = "HTTP/1.0", 0
		}
		resp.Status = statusLine(code, line[9:])
		c.reusable = line[7] == '1'
		chunked := false
		for {
			line, err = c.br.ReadSlice('\n')
			if err != nil {
				if err == bufio.ErrBufferFull {
					err = errMalformed
				}
				return nil, err
			}
			if len(line) <= 2 && (len(line) == 1 || line[0] == '\r') {
				break
			}
			i := bytes.IndexByte(line, ':')
			if i <= 0 {
				return nil, errMalformed
			}
			key := canonicalKey(line[:i])
			var val string
			if key == "Date" {
				val = c.pool.owner.date(bytes.TrimSpace(line[i+1:]))
			} else {
				val = internValue(bytes.TrimSpace(line[i+1:]))
			}
			switch key {
			case "Content-Length":
				n, err := strconv.ParseInt(val, 10, 64)
				if err != nil || n < 0 {
					return nil, errMalformed
				}
				resp.ContentLength = n
				continue
			case "Transfer-Encoding":
				if strings.EqualFold(val, "chunked") {
					chunked = true
				} else {
					return nil, fmt.Errorf("backend sent unsupported Transfer-Encoding %q", val)
				}
				continue
			case "Connection":
				if strings.EqualFold(val, "close") {
					c.reusable = false
				} else if strings.EqualFold(val, "keep-alive") {
					c.reusable = true
				}
			}
			if vs, ok := resp.Header[key]; ok {
				resp.Header[key] = append(vs, val)
			} else {
				resp.Header[key] = valueSlice(val)
			}
		}
		if code >= 100 && code < 200 {
			if code == 101 {
				return nil, errors.New("backend switched protocols")
			}
			continue
		}
		b := &c.body
		*b = upBody{c: c}
		switch {
		case code == 204 || code == 304:
			b.done = true
			resp.ContentLength = 0
		case chunked:
			b.chunked = true
			resp.ContentLength = -1
			resp.TransferEncoding = []string{"chunked"}
		case resp.ContentLength >= 0:
			b.remain = resp.ContentLength
			b.done = b.remain == 0
		default:
			b.remain = -1 // until the backend closes
			c.reusable = false
		}
		resp.Body = b
		return resp, nil
	}
}

// statusLines holds "200 OK" and the like for the codes net/http names.
var statusLines = func() map[int]string {
	m := map[int]string{}
	for code := 100; code < 600; code++ {
		if t := http.StatusText(code); t != "" {
			m[code] = strconv.Itoa(code) + " " + t
		}
	}
	return m
}()

// statusLine returns resp.Status for code, shared when the backend's
// reason phrase is the standard one.
func statusLine(code int, rest []byte) string {
	rest = bytes.TrimSpace(rest)
	if s, ok := statusLines[code]; ok && string(rest) == s {
		return s
	}
	return string(rest)
}

// date returns the Date header value v, shared with the previous answer's
// when it is the same second.
func (u *upstream) date(v []byte) string {
	if p := u.lastDate.Load(); p != nil && *p == string(v) {
		return *p
	}
	s := string(v)
	u.lastDate.Store(&s)
	return s
}

func parseStatus(b []byte) (int, bool) {
	n := 0
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		n = n*10 + int(ch-'0')
	}
	return n, n >= 100
}

// canonicalKey returns the canonical form of a header name, without
// allocating for the names backends commonly send.
func canonicalKey(k []byte) string {
	for _, s := range commonKeys {
		if len(s) == len(k) && asciiEqualFold(k, s) {
			return s
		}
	}
	return http.CanonicalHeaderKey(string(k))
}

var commonKeys = [...]string{"Content-Type", "Content-Length", "Date", "Server", "Transfer-Encoding", "Connection",
	"Cache-Control", "Keep-Alive", "X-Request-Id", "X-Fake-Quality", "Vary", "X-Accel-Buffering"}

func asciiEqualFold(b []byte, s string) bool {
	for i := range len(b) {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// internValue returns v as a string, shared for common values.
func internValue(v []byte) string {
	for _, s := range commonValues {
		if string(v) == s {
			return s
		}
	}
	return string(v)
}

var commonValues = [...]string{"application/json", "text/event-stream", "chunked", "keep-alive", "close", "no-cache", "uvicorn", "Accept-Encoding"}

// valueSlice returns a one-element header value slice; for common values
// it is shared, with no room to append in place (append copies).
func valueSlice(v string) []string {
	for i, s := range commonValues {
		if v == s {
			return commonValueSlices[i][:1:1]
		}
	}
	return []string{v}
}

var commonValueSlices = func() [][]string {
	out := make([][]string, len(commonValues))
	for i, s := range commonValues {
		out[i] = []string{s}
	}
	return out
}()

// upBody is the body of a backend answer, read from its connection's
// buffer. Close returns the connection to its pool when the body was read
// to its end, and closes it otherwise.
//
// A chunked body's Read carries on into the following chunks while they
// are already buffered (as net/http's chunked reader does), so events a
// backend wrote in separate chunks but which arrived together are read
// together; it never waits for more once it has something to return.
type upBody struct {
	c       *upConn
	chunked bool
	// remain is what is left of the body (content-length) or of the
	// current chunk; -1 reads until the backend closes.
	remain int64
	// crlf: the CRLF after the current chunk's data is still to be read;
	// trailer: the last chunk was read and its trailer is next.
	crlf, trailer bool
	done          bool
	closed        bool
	err           error
}

func (b *upBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, errors.New("read on a closed backend body")
	}
	if b.err != nil {
		return 0, b.err
	}
	if b.done {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.chunked {
		return b.readChunked(p)
	}
	if b.remain >= 0 && int64(len(p)) > b.remain {
		p = p[:b.remain]
	}
	n, err := b.c.br.Read(p)
	if b.remain >= 0 {
		b.remain -= int64(n)
	}
	switch {
	case err == io.EOF && b.remain < 0:
		b.done = true
		b.c.reusable = false
		return n, io.EOF
	case err == io.EOF:
		err = io.ErrUnexpectedEOF
		fallthrough
	case err != nil:
		b.err = err
		b.c.reusable = false
		return n, err
	}
	if b.remain == 0 {
		b.done = true
		return n, io.EOF
	}
	return n, nil
}

func (b *upBody) readChunked(p []byte) (int, error) {
	br := b.c.br
	n := 0
	fail := func(err error) (int, error) {
		b.err = unexpected(err)
		b.c.reusable = false
		if n > 0 {
			return n, nil
		}
		return 0, b.err
	}
	for n < len(p) && !b.done {
		switch {
		case b.crlf:
			if n > 0 && br.Buffered() < 2 {
				return n, nil
			}
			line, err := br.ReadSlice('\n')
			if err != nil {
				return fail(err)
			}
			if len(line) > 2 || (len(line) == 2 && line[0] != '\r') {
				return fail(errMalformed)
			}
			b.crlf = false
		case b.trailer:
			if n > 0 && !lineReady(br) {
				return n, nil
			}
			line, err := br.ReadSlice('\n')
			if err != nil {
				return fail(err)
			}
			if len(line) <= 2 && (len(line) == 1 || line[0] == '\r') {
				b.done = true
			}
		case b.remain == 0:
			if n > 0 && !lineReady(br) {
				return n, nil
			}
			if err := b.nextChunk(); err != nil {
				return fail(err)
			}
		default:
			if n > 0 && br.Buffered() == 0 {
				return n, nil
			}
			k, err := br.Read(p[n : n+int(min(int64(len(p)-n), b.remain))])
			n += k
			b.remain -= int64(k)
			if err != nil {
				return fail(err)
			}
			if b.remain == 0 {
				b.crlf = true
			}
		}
	}
	if n == 0 && b.done {
		return 0, io.EOF
	}
	return n, nil
}

// lineReady reports whether br holds a whole line, so reading it will not
// wait for the backend.
func lineReady(br *bufio.Reader) bool {
	k := br.Buffered()
	if k == 0 {
		return false
	}
	buf, _ := br.Peek(k)
	return bytes.IndexByte(buf, '\n') >= 0
}

// nextChunk reads a chunk-size line; after the last chunk (size 0) comes
// the trailer.
func (b *upBody) nextChunk() error {
	line, err := b.c.br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimSpace(line)
	if len(line) == 0 || len(line) > 15 {
		return errMalformed
	}
	var n int64
	for _, ch := range line {
		var d byte
		switch {
		case '0' <= ch && ch <= '9':
			d = ch - '0'
		case 'a' <= ch && ch <= 'f':
			d = ch - 'a' + 10
		case 'A' <= ch && ch <= 'F':
			d = ch - 'A' + 10
		default:
			return errMalformed
		}
		n = n<<4 | int64(d)
	}
	if n == 0 {
		b.trailer = true
		return nil
	}
	b.remain = n
	return nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Close ends the exchange: the connection goes back to its pool when the
// body was read to its end, and is closed otherwise.
func (b *upBody) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	c := b.c
	if c.pool.owner.watchdog.unwatch(c) {
		c.reusable = false // cut off by the watchdog: its deadline is in the past
	}
	if !b.done || b.err != nil {
		c.reusable = false
	}
	c.pool.owner.put(c)
	return nil
}
