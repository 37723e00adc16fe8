//go:build unix

package server

import (
	"net"
	"syscall"
)

// peerGone peeks at c without blocking or consuming: a read of end of
// stream, or an error other than "nothing yet", means the peer has closed
// or reset the connection. Bytes waiting (a pipelined request) mean it is
// still there. Control holds the descriptor open without taking its read
// lock, so a peek never waits for fasthttp reading the connection's next
// request (the request peeked at may have ended meanwhile).
func peerGone(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	gone := false
	var b [1]byte
	rc.Control(func(fd uintptr) {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		gone = err == nil && n == 0 || err != nil && err != syscall.EAGAIN && err != syscall.EINTR
	})
	return gone
}
