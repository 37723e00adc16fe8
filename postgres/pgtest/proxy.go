package pgtest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy forwards TCP connections on a loopback port to the test server, so
// a test can cut a store off from PostgreSQL (as a network failure or a
// server restart would) and restore it, without stopping the shared
// server.
type Proxy struct {
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool

	// loseAck is set by LoseNextCommitAck until a connection takes it.
	loseAck atomic.Bool
}

// LoseNextCommitAck makes the next COMMIT a client sends through the proxy
// reach the server, which commits, and then cuts that connection before the
// server's answer reaches the client: the client sees its connection break
// and cannot know whether the transaction committed, as after a network
// failure at the wrong moment.
func (p *Proxy) LoseNextCommitAck() { p.loseAck.Store(true) }

// NewProxy starts a proxy to the server dsn names and stops it when the
// test ends.
func NewProxy(tb testing.TB, dsn string) *Proxy {
	tb.Helper()
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		tb.Fatalf("pgtest.NewProxy: %s must be a postgres:// URL with a host: %v", Env, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{target: u.Host, addr: ln.Addr().String(), conns: map[net.Conn]bool{}}
	p.serve(ln)
	tb.Cleanup(p.Cut)
	return p
}

// DSN returns dsn with its host and port replaced by the proxy's.
func (p *Proxy) DSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	u.Host = p.addr
	return u.String()
}

// Cut closes every forwarded connection and stops accepting new ones:
// clients see their connections break and new ones refused.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Restore accepts connections again, on the same port.
func (p *Proxy) Restore() error {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return err
	}
	p.serve(ln)
	return nil
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
}

func (p *Proxy) forward(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // cut meanwhile
		p.mu.Unlock()
		c.Close()
		s.Close()
		return
	}
	p.conns[c], p.conns[s] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	var swallow atomic.Bool // the client's COMMIT is on its way: keep its answer
	go func() { p.toServer(s, c, &swallow); done <- struct{}{} }()
	go func() { toClient(c, s, &swallow); done <- struct{}{} }()
	<-done
	c.Close()
	s.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, s)
	p.mu.Unlock()
}

// toServer copies the client's messages to the server, one by one, and
// sets swallow before it forwards a COMMIT that LoseNextCommitAck armed.
// After a request for encryption it copies bytes blindly (nothing can be
// read in them), so such connections never lose an acknowledgement.
func (p *Proxy) toServer(s, c net.Conn, swallow *atomic.Bool) {
	br := bufio.NewReader(c)
	var hdr [5]byte
	// The first message, the startup (or a request for encryption), has no
	// type byte.
	if _, err := io.ReadFull(br, hdr[:4]); err != nil {
		return
	}
	n := int(binary.BigEndian.Uint32(hdr[:4]))
	if n < 8 {
		return
	}
	body := make([]byte, n-4)
	if _, err := io.ReadFull(br, body); err != nil {
		return
	}
	if _, err := s.Write(append(hdr[:4:4], body...)); err != nil {
		return
	}
	if code := binary.BigEndian.Uint32(body[:4]); code == 80877103 || code == 80877104 { // SSLRequest, GSSENCRequest
		io.Copy(s, br)
		return
	}
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(hdr[1:]))
		if n < 4 {
			return
		}
		body = append(body[:0], make([]byte, n-4)...)
		if _, err := io.ReadFull(br, body); err != nil {
			return
		}
		if hdr[0] == 'Q' && strings.EqualFold(strings.TrimSpace(string(bytes.TrimRight(body, "\x00;"))), "commit") && p.loseAck.CompareAndSwap(true, false) {
			swallow.Store(true)
		}
		if _, err := s.Write(append(hdr[:5:5], body...)); err != nil {
			return
		}
	}
}

// toClient copies the server's bytes to the client until swallow is set;
// from then on it keeps them from the client until the server has answered
// the COMMIT, and then cuts both connections.
func toClient(c, s net.Conn, swallow *atomic.Bool) {
	buf := make([]byte, 32<<10)
	var kept []byte
	for {
		n, err := s.Read(buf)
		if n > 0 {
			if !swallow.Load() {
				if _, werr := c.Write(buf[:n]); werr != nil {
					return
				}
			} else {
				kept = append(kept, buf[:n]...)
				// CommandComplete carries the tag COMMIT (or ROLLBACK
				// when the transaction had failed).
				if bytes.Contains(kept, []byte("COMMIT\x00")) || bytes.Contains(kept, []byte("ROLLBACK\x00")) {
					c.Close()
					s.Close()
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}
