//go:build unix

package sockpeek

import (
	"net"
	"syscall"
)

// Peek peeks at c with one non-blocking MSG_PEEK receive, which consumes
// nothing. It uses RawConn.Control, which holds the descriptor open without
// taking its read lock, so a peek never waits for a reader of c (fasthttp
// reading a client's next request). A TLS connection is peeked at through
// the connection beneath it: Data then means TLS records are waiting.
func Peek(c net.Conn) State {
	if nc, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = nc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return Unknown
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return Closed
	}
	st := Unknown
	var b [1]byte
	cerr := rc.Control(func(fd uintptr) {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == syscall.EAGAIN || err == syscall.EINTR:
			st = Open
		case err != nil, n == 0:
			st = Closed
		default:
			st = Data
		}
	})
	if cerr != nil {
		return Closed
	}
	return st
}
