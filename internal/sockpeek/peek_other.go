//go:build !unix

package sockpeek

import "net"

// Peek cannot look at a connection on this platform.
func Peek(net.Conn) State { return Unknown }
