package server

import (
	"bytes"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// frontReadBuffer is the size of the fasthttp front's read buffer: a
// request's headers must fit in it (431 above it).
const frontReadBuffer = 16 << 10

// frontListener gives the fasthttp front its connections as frontConns.
type frontListener struct {
	net.Listener
	front *fastFront
}

func (l *frontListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &frontConn{Conn: c, front: l.front}, nil
}

// frontConn is a connection the fasthttp front reads. It hands to net/http
// the requests whose head ends with a bare LF, which fasthttp would wait
// on until the header timeout.
//
// Why fasthttp waits: its header scanner ends a header block at an empty
// line only when the bytes it holds contain a CRLF CRLF (so that it never
// frames a request differently from a server that only knows that
// terminator); a head whose lines end in LF alone ("Host: x\n\n"), or in
// a mix without two CRLFs in a row ("Host: x\n\r\n"), has none, so
// fasthttp asks its buffered reader for more bytes and waits for them
// until the read deadline (10 s), then answers 400. Go's net/http reads
// such a head as RFC 9112 section 2.2 allows (a bare LF ends a line), and
// so does a client's script.
//
// How it is seen without a cost to the other requests: fasthttp reads a
// request through a bufio.Reader of frontReadBuffer bytes, which slides
// the bytes it still holds to the start of its buffer before each read
// from the connection and reads into the rest. A request that arrives
// whole (the usual case) is read in one Read into the whole buffer, which
// frontConn only notes (buf). A Read into the rest of that buffer means
// fasthttp holds buf[:k] unparsed and wants more: only then is buf[:k]
// looked at, and if it starts with a request whose head net/http would
// read whole and has no CRLF CRLF, the connection goes to net/http with
// buf[:k] replayed, as handOff does for a request fasthttp has read, and
// fasthttp is told that the connection is closed (it then neither answers
// nor logs).
type frontConn struct {
	net.Conn
	front *fastFront
	// buf is fasthttp's read buffer, as seen when fasthttp read into the
	// whole of it.
	buf []byte
	// held is how many bytes buf held after the last read into it: where
	// the next read into its rest starts if fasthttp consumed none of them
	// (it slides what it keeps to the start before it reads again, so a
	// read at held means the same bytes, and more).
	held int
	// scan is what the bytes buf held have shown so far, kept while they
	// grow (a head sent a byte at a time is looked at once, not once per
	// byte: up to 16 KiB for each of its bytes).
	scan headScan
	// handedOff: handOff gave this connection to net/http, whose reads go
	// through it from then on and are not looked at.
	handedOff bool
	// answered: fasthttp has written an answer on this connection, so the
	// request it reads now follows one it served, a POST (the only
	// requests it answers and keeps the connection for are the hot
	// path's). takeOver skips the empty lines net/http skips after a POST.
	answered bool
	// taken: Read gave the connection beneath to net/http. fasthttp takes
	// this connection for closed, and its Close (or any other call it
	// still makes) must not reach the connection net/http now serves.
	taken atomic.Bool
	// remote is the client's address as a string, formatted once: the
	// writers that serve requests are pooled, not kept per connection, so
	// they formatted it again for nearly every request (about 1% of the
	// gateway's CPU on chat requests).
	remote string
	// handing: handOff counted a hand-over of this connection (handovers)
	// that its hijack has not given to net/http yet. fasthttp closes the
	// connection instead of hijacking it when it cannot flush an answer
	// before; Close then ends the count.
	handing atomic.Bool
}

// remoteString is the client's address as net/http puts it in
// Request.RemoteAddr. Only the goroutine serving the connection calls it.
func (c *frontConn) remoteString() string {
	if c.remote == "" {
		c.remote = c.Conn.RemoteAddr().String()
	}
	return c.remote
}

// errTakenOver is what fasthttp's read of a connection given to net/http
// returns: a closed connection, which it leaves without an answer.
var errTakenOver = fmt.Errorf("the request's head ends with a bare LF: connection handed to net/http: %w", net.ErrClosed)

func (c *frontConn) Read(p []byte) (int, error) {
	k := -1 // where p starts in buf
	if !c.handedOff && len(p) > 0 {
		if len(p) == frontReadBuffer {
			c.buf, c.scan, k = p, headScan{looked: c.scan.looked}, 0
		} else if i := len(c.buf) - len(p); i > 0 && &c.buf[i] == &p[0] {
			if k = i; k != c.held {
				c.scan = headScan{looked: c.scan.looked} // not the bytes scanned
			}
			if c.scan.more(c.buf[:k]) {
				return c.takeOver(c.buf[:k])
			}
		}
	}
	if c.taken.Load() {
		return 0, errTakenOver
	}
	n, err := c.Conn.Read(p)
	if k >= 0 {
		c.held = k + n
	}
	return n, err
}

// takeOver gives the connection to net/http, which reads head first.
//
// Empty lines before the request line: net/http refuses them (400), but
// after a POST on the same connection it skips up to 4 bytes of CR and LF
// first (RFC 9112 section 2.2's tolerance of clients that end a body with
// an extra CRLF); a connection handed over is new to net/http, so the
// front skips them for it when fasthttp has answered a request here. Only
// when they start with a CRLF: those bytes are then a request's start.
// Starting with a bare LF, they may be the end of a chunked body fasthttp
// is reading ("0\r\n" then "\n", a request pipelined behind), which net/http
// must then refuse, not answer as the next request.
func (c *frontConn) takeOver(head []byte) (int, error) {
	if c.scan.start > 0 && c.answered && head[0] == '\r' {
		head = head[numLeadingCRorLF(head[:min(len(head), 4)]):]
	}
	pre := bytes.Clone(head)
	c.buf = nil
	c.taken.Store(true)
	// fasthttp's deadlines (its header timeout, the write deadline of its
	// last answer) are not net/http's, which sets only those it has: it
	// would keep the write deadline for the request's answer. fasthttp's
	// hijack, the other hand-over, clears them the same way.
	c.Conn.SetDeadline(time.Time{})
	c.front.handing.add()
	c.front.give(c.Conn, pre, true)
	return 0, errTakenOver
}

func (c *frontConn) Write(p []byte) (int, error) {
	if c.taken.Load() {
		return 0, errTakenOver
	}
	c.answered = true
	return c.Conn.Write(p)
}

func (c *frontConn) Close() error {
	if c.taken.Load() {
		return nil
	}
	if c.handing.Load() && c.handing.CompareAndSwap(true, false) {
		c.front.handing.done()
	}
	return c.Conn.Close()
}

func (c *frontConn) SetDeadline(t time.Time) error {
	if c.taken.Load() {
		return nil
	}
	return c.Conn.SetDeadline(t)
}

func (c *frontConn) SetReadDeadline(t time.Time) error {
	if c.taken.Load() {
		return nil
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *frontConn) SetWriteDeadline(t time.Time) error {
	if c.taken.Load() {
		return nil
	}
	return c.Conn.SetWriteDeadline(t)
}

// NetConn returns the connection beneath, which the hang-up watcher peeks
// at (sockpeek).
func (c *frontConn) NetConn() net.Conn { return c.Conn }

var crlfcrlf = []byte("\r\n\r\n")

// bareLFHead reports whether b, the bytes fasthttp holds unparsed while it
// waits for more, starts with a request line and a head that net/http
// reads whole (its lines ending in LF or CRLF, up to an empty one) and
// that fasthttp does not: b has no CRLF CRLF from the request line on.
// Empty lines before the request line (RFC 9112 section 2.2) are passed
// over: fasthttp skips them too, and still waits for a CRLF CRLF after
// them (one among them does not end its head). The request line is
// checked so that b is known to be a request's start, not the trailer of
// a chunked body that fasthttp reads the same way.
func bareLFHead(b []byte) bool {
	var s headScan
	return s.more(b)
}

// headScan decides bareLFHead over bytes that grow from one call to the
// next (b[:n] unchanged), looking at each byte once.
type headScan struct {
	n     int  // bytes scanned
	line  int  // where the line being scanned starts
	start int  // where the request line starts, after the empty lines before it
	req   bool // the request line is whole
	no    bool // the bytes can never be such a head: they start with something else, or hold a CRLF CRLF
	// looked counts the bytes the scans of a connection looked at (kept
	// when a scan starts over), for the test that keeps it linear.
	looked int
}

// more reports bareLFHead(b), b being the bytes of the last call and more.
func (s *headScan) more(b []byte) bool {
	if s.no {
		return false
	}
	s.looked += len(b) - s.n
	searched := s.n // b[s.start:searched] has no CRLF CRLF, if the request line is whole
	end := false
	for !end && s.n < len(b) {
		i := bytes.IndexByte(b[s.n:], '\n')
		if i < 0 {
			s.n = len(b) // the head is not whole yet
			break
		}
		line := bytes.TrimSuffix(b[s.line:s.n+i], []byte("\r"))
		s.n += i + 1
		s.line = s.n
		switch {
		case !s.req && len(line) == 0:
			s.start = s.n // an empty line before the request line
		case !s.req && !requestLine(line):
			s.no = true
			return false
		case !s.req:
			s.req = true
		case len(line) == 0:
			end = true
		}
	}
	if !s.req {
		return false
	}
	// A CRLF CRLF anywhere from the request line on, even in the body, and
	// fasthttp reads the head itself. (None can straddle the request
	// line's start, which is a method's letter.)
	if bytes.Contains(b[max(searched-len(crlfcrlf)+1, s.start):], crlfcrlf) {
		s.no = true
		return false
	}
	return end
}

// numLeadingCRorLF is how many of b's first bytes are CR or LF.
func numLeadingCRorLF(b []byte) int {
	for i, c := range b {
		if c != '\r' && c != '\n' {
			return i
		}
	}
	return len(b)
}

// requestLine reports whether line looks like "METHOD target HTTP/1.x"
// (a trailer line's first word ends with a colon, which no method has).
func requestLine(line []byte) bool {
	method, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok || len(method) == 0 {
		return false
	}
	for _, c := range method {
		if !httpguts.IsTokenRune(rune(c)) {
			return false
		}
	}
	target, proto, ok := bytes.Cut(rest, []byte(" "))
	return ok && len(target) > 0 && (string(proto) == "HTTP/1.1" || string(proto) == "HTTP/1.0")
}
