package server

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand"
	"net"
	"strings"
	"testing"
	"time"
)

// trickle is a client that sends s a byte per read (a slowloris, or a
// script writing a byte at a time with Nagle off).
func trickle(s string) *partsConn {
	parts := make([]string, len(s))
	for i := range s {
		parts[i] = s[i : i+1]
	}
	return &partsConn{parts: parts}
}

// readHead reads a request head through br as fasthttp's header reader
// does (RequestHeader.readLoop): it peeks one byte more than it holds until
// the head is whole (a CRLF CRLF) or the read fails.
func readHead(br *bufio.Reader) error {
	for n := 1; ; n = br.Buffered() + 1 {
		b, err := br.Peek(n)
		if bytes.Contains(b, crlfcrlf) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// A head that arrives a byte at a time is looked at once, not once per
// byte: bareLFHead over all the held bytes at each read made a 16 KiB head
// of short lines cost about 0.4 s of CPU (16,000 scans of up to 16 KiB and
// 8,000 lines), where fasthttp's own reading of it costs about 1 ms; a few
// hundred such clients would keep the gateway's cores busy.
func TestFrontConn_TrickledHeadLookedAtOnce(t *testing.T) {
	head := "GET /healthz HTTP/1.1\n" + strings.Repeat("a\n", 8000) + "\n"
	f := &fastFront{ln: newHandoffListener(nil)}
	replayed := make(chan []byte, 1)
	go func() {
		c, err := f.ln.Accept()
		if err != nil {
			replayed <- nil
			return
		}
		replayed <- c.(*replayConn).pre
	}()
	c := &frontConn{Conn: trickle(head), front: f}
	br := bufio.NewReaderSize(c, frontReadBuffer)
	err := readHead(br)
	if !errors.Is(err, errTakenOver) {
		t.Fatalf("read of the head: %v, want it handed to net/http", err)
	}
	if got := <-replayed; string(got) != head {
		t.Fatalf("net/http got %d bytes %.40q, want the head (%d bytes)", len(got), got, len(head))
	}
	// Linear, the scans look at each byte about once; quadratic (the held
	// bytes scanned again at each read), at about len(head)²/2 of them,
	// which took 0.4 s of CPU for this 16 KB head.
	if c.scan.looked > 2*len(head) {
		t.Errorf("reading a %d-byte head a byte at a time looked at %d bytes: the held bytes are scanned again at each read", len(head), c.scan.looked)
	}
}

// headScan over growing bytes decides as bareLFHead over the whole.
func TestHeadScan_GrowingAsWhole(t *testing.T) {
	// whole is bareLFHead over all the bytes at once: the empty lines
	// before the request line passed over, then as it was.
	whole := func(b []byte) bool {
		for {
			switch {
			case bytes.HasPrefix(b, []byte("\n")):
				b = b[1:]
				continue
			case bytes.HasPrefix(b, []byte("\r\n")):
				b = b[2:]
				continue
			}
			break
		}
		if bytes.Contains(b, crlfcrlf) {
			return false
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 || !requestLine(bytes.TrimSuffix(b[:i], []byte("\r"))) {
			return false
		}
		for rest := b[i+1:]; ; {
			j := bytes.IndexByte(rest, '\n')
			switch {
			case j < 0:
				return false
			case j == 0, j == 1 && rest[0] == '\r':
				return true
			}
			rest = rest[j+1:]
		}
	}
	rng := rand.New(rand.NewSource(1))
	pieces := []string{"GET / HTTP/1.1", "POST /v1/chat/completions HTTP/1.0", "0", "X: y", "a", "\r", "\n", "\r\n", "\r\n\r\n", "\n\r\n"}
	for iter := 0; iter < 100000; iter++ {
		var sb strings.Builder
		for range rng.Intn(12) {
			sb.WriteString(pieces[rng.Intn(len(pieces))])
		}
		b := []byte(sb.String())
		var s headScan
		for k := 0; k <= len(b); k += rng.Intn(4) {
			got, want := s.more(b[:k]), whole(b[:k])
			if got != want {
				t.Fatalf("%q, grown to %q: %v, want %v", b, b[:k], got, want)
			}
			if got {
				break
			}
		}
	}
}

// partsConn returns its parts, one per read.
type partsConn struct {
	net.Conn // nil: only Read and SetDeadline are used
	parts    []string
}

func (*partsConn) SetDeadline(time.Time) error { return nil }

func (c *partsConn) Read(p []byte) (int, error) {
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	if c.parts[0] = c.parts[0][n:]; c.parts[0] == "" {
		c.parts = c.parts[1:]
	}
	return n, nil
}

// What frontConn has seen of the held bytes is forgotten when fasthttp
// consumed some of them (a pipelined request before them) and slid the rest
// to the start of its buffer: the next request's bare-LF head is still
// handed over.
func TestFrontConn_ScanRestartsAfterASlide(t *testing.T) {
	first := "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
	second := "GET /b HTTP/1.1\nHost: x\n\n"
	f := &fastFront{ln: newHandoffListener(nil)}
	replayed := make(chan []byte, 1)
	go func() {
		c, err := f.ln.Accept()
		if err != nil {
			replayed <- nil
			return
		}
		replayed <- c.(*replayConn).pre
	}()
	// The first request and part of the second in one read, a byte of the
	// second in the next, then the rest.
	c := &frontConn{Conn: &partsConn{parts: []string{first + second[:10], second[10:11], second[11:]}}, front: f}
	br := bufio.NewReaderSize(c, frontReadBuffer)
	if err := readHead(br); err != nil {
		t.Fatal(err)
	}
	br.Discard(len(first)) // fasthttp has read the first request
	if err := readHead(br); !errors.Is(err, errTakenOver) {
		t.Fatalf("read of the second head: %v, want it handed to net/http", err)
	}
	if got := <-replayed; string(got) != second {
		t.Fatalf("net/http got %q, want %q", got, second)
	}
}
