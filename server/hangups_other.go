//go:build !unix

package server

import "net"

// peerGone cannot peek on this platform; hang-ups show when the answer is
// written.
func peerGone(net.Conn) bool { return false }
