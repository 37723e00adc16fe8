package sockpeek

// State is what a peek saw.
type State int

const (
	// Unknown: the connection cannot be peeked at (not a socket, or a
	// platform without the call); treat it as open.
	Unknown State = iota
	// Open: the peer is there and nothing waits to be read.
	Open
	// Data: bytes wait to be read (which also hides a close behind them).
	Data
	// Closed: the peer closed (end of stream) or reset the connection, or
	// it was closed here.
	Closed
)
