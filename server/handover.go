package server

import (
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// handovers counts the connections the fasthttp front gave (or is giving)
// to net/http whose request net/http has not begun to serve, so that a
// shutdown lets them be served before net/http's Shutdown begins (see
// fastFront.shutdown). Only hand-overs pay for it (a lock each way); the
// hot path never touches it.
//
// A count starts while fasthttp still serves the connection (handOff in
// the handler, takeOver in fasthttp's read), so fasthttp's Shutdown, which
// waits for the connections it serves, returns only after it. It ends when
// net/http reads the connection past the replayed request (replayConn),
// which it does only once it has taken the request as one to serve (a
// request with no body: when it starts watching for a hang-up before the
// handler; one with a body: when the handler has read it), when net/http
// closes the connection, or when the hand-over fails.
type handovers struct {
	mu sync.Mutex
	n  int
	// idle is closed when n falls to 0 while wait waits; nil otherwise.
	idle chan struct{}
}

func (h *handovers) add() {
	h.mu.Lock()
	h.n++
	h.mu.Unlock()
}

func (h *handovers) done() {
	h.mu.Lock()
	h.n--
	if h.n == 0 && h.idle != nil {
		close(h.idle)
		h.idle = nil
	}
	h.mu.Unlock()
}

// wait returns when no hand-over is under way, or with ctx's error.
func (h *handovers) wait(ctx context.Context) error {
	h.mu.Lock()
	if h.n == 0 {
		h.mu.Unlock()
		return nil
	}
	if h.idle == nil {
		h.idle = make(chan struct{})
	}
	idle := h.idle
	h.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waiting reports whether wait is waiting (tests).
func (h *handovers) waiting() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.idle != nil
}

// give hands c to net/http, which reads pre first. counted: the hand-over
// was added to f.handing, and the replayConn ends it. A connection the
// listener no longer takes (net/http is shut down: the shutdown's time ran
// out before the hand-over came) is answered with a 503, not dropped.
func (f *fastFront) give(c net.Conn, pre []byte, counted bool) {
	rc := &replayConn{Conn: c, pre: pre}
	if counted {
		rc.front = f
		rc.pending.Store(true)
	}
	if !f.ln.push(rc) {
		c.SetWriteDeadline(time.Now().Add(time.Second))
		io.WriteString(c, handoffRefused)
		rc.Close()
	}
}

// handoffRefused answers a request handed over too late in a shutdown, in
// the OpenAI error shape.
var handoffRefused = func() string {
	const body = `{"error":{"message":"the gateway is shutting down and did not serve this request: send it again","type":"api_error","param":null,"code":"unavailable"}}` + "\n"
	return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body
}()

// replayConn is a handed-over connection: reads return the request fasthttp
// read first, then what follows on the connection.
type replayConn struct {
	net.Conn
	pre []byte
	// front and pending: the hand-over is counted in front.handing until
	// net/http reads past pre or closes the connection.
	front   *fastFront
	pending atomic.Bool
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	c.served()
	return c.Conn.Read(p)
}

func (c *replayConn) Close() error {
	c.served()
	return c.Conn.Close()
}

// served ends the hand-over's count, once.
func (c *replayConn) served() {
	if c.pending.Load() && c.pending.CompareAndSwap(true, false) {
		c.front.handing.done()
	}
}

// handoffListener is the net/http server's listener: it accepts the
// connections the fasthttp side hands over.
type handoffListener struct {
	addr   net.Addr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})}
}

// push gives c to the net/http server, false if the listener is closed.
func (l *handoffListener) push(c net.Conn) bool {
	select {
	case <-l.closed:
		return false
	default:
	}
	select {
	case l.conns <- c:
		return true
	case <-l.closed:
		return false
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case <-l.closed: // a push racing the close is refused, not served after it
		return nil, net.ErrClosed
	default:
	}
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }
