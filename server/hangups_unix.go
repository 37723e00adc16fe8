//go:build unix

package server

import (
	"net"
	"syscall"
)

// peerGone peeks at c without blocking or consuming: a read of end of
// stream, or an error other than "nothing yet", means the peer has closed
// or reset the connection. Bytes waiting (a pipelined request) mean it is
// still there.
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
	rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		gone = err == nil && n == 0 || err != nil && err != syscall.EAGAIN && err != syscall.EINTR
		return true
	})
	return gone
}
